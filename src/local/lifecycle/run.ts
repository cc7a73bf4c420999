import { spawn } from 'node:child_process';
import { chmodSync, openSync, writeFileSync } from 'node:fs';
import { readFile, rm, stat, truncate } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { resourceNames } from '../../contract.js';
import { CliError } from '../../errors.js';
import { realSleep, waitFor } from '../../waiter.js';
import { plural, type Output } from '../../output.js';
import { LOCAL_MODEL_ID } from '../services/model-server.js';
import type { QueueReport } from '../../operate/busy-queues.js';
import { journalContents, type Recovered } from '../durability/journaled-aws.js';
import { lockStack } from './lock.js';
import type { LocalStackOptions, LocalStatus } from './stack.js';
import { batchPath, control, isAlive, journalPath, logPath, readState, removeState, writeState, type FoundState, type LocalState } from './state.js';

/** The detached stack's log stays below this: past it, it starts again from empty. */
const LOG_LIMIT_BYTES = 5 * 1024 * 1024;
const DETACHED_START_MS = 15_000;
const STOP_MS = 60_000;
/** The local stack's waits: nothing to tell the operator while they last a second or two. */
const LOCAL_WAITS = { sleep: realSleep, note: () => {} };

function refuseIfRunning(stack: string, found: FoundState | undefined) {
  if (found?.alive) {
    throw new CliError(`The local stack ${stack} already runs (pid ${found.state.pid}, ${found.state.invokeUrl}). Stop it with "bedrock-queue down --local --name ${stack}", or choose another --name.`);
  }
}

export function describeRecovered(r: Recovered): string {
  return `Resumed from the journal: ${plural(r.requests, 'request')} queued again, ${plural(r.results, 'result')} to collect, ${plural(r.deadLetters, 'dead letter')} in the DLQ`
    + `${r.alreadyAnswered ? ` (${plural(r.alreadyAnswered, 'request')} already answered, not sent again)` : ''}`
    + `${r.unreadable ? `; ${plural(r.unreadable, 'unreadable journal line')} skipped` : ''}.`;
}

/** What an earlier run of this stack left: its port and key are reused when free, so clients keep working. */
async function previousRun(stack: string, out: Output): Promise<LocalState | undefined> {
  const previous = await readState(stack);
  refuseIfRunning(stack, previous);
  if (previous?.corrupt) out.warn(`${previous.corrupt}: replaced by this run's state.`);
  return previous?.state;
}

/** The earlier run's port was taken by another program: say where the API is now. */
function warnIfMoved(previous: LocalState | undefined, apiUrl: string, out: Output) {
  if (previous && previous.apiUrl !== apiUrl) out.warn(`port ${new URL(previous.apiUrl).port} of the previous run is taken: the API now listens on ${apiUrl}.`);
}

/** Runs the local stack in this process until Ctrl-C or `down --local`; returns what was still queued. */
export async function runLocalForeground(options: LocalStackOptions, out: Output, ready: (state: LocalState) => void): Promise<{ left: QueueReport[]; kept: boolean }> {
  const controlToken = randomBytes(24).toString('base64url');
  const inherited = process.env[START_LOCK_ENV];
  delete process.env[START_LOCK_ENV];
  const lock = await lockStack(options.stack, controlToken, inherited);
  try {
    const previous = await previousRun(options.stack, out);
    const previousPort = previous ? Number(new URL(previous.apiUrl).port) : undefined;
    const { startLocalStack } = await import('./stack.js');
    let state: LocalState | undefined;
    const local = await startLocalStack({
      ...options,
      // set-concurrency, pause and resume last beyond this run: the state file keeps them.
      settingsChanged: async (settings) => {
        if (!state) return;
        state = { ...state, settings };
        await writeState(state);
      },
      controlToken,
      port: options.port ?? previousPort,
      portIsPreference: options.port === undefined,
      ...(previous ? { sqsPort: Number(new URL(previous.sqsEndpoint).port) } : {}),
      ...(previous?.apiKey ? { apiKey: previous.apiKey } : {}),
    });
    if (options.port === undefined) warnIfMoved(previous, local.apiUrl, out);
    if (previous && previous.sqsEndpoint !== local.sqsEndpoint) out.warn(`the SQS endpoint's port ${new URL(previous.sqsEndpoint).port} of the previous run is taken: it now listens on ${local.sqsEndpoint}.`);
    if (local.recovered) out.note(describeRecovered(local.recovered));
    state = {
      stack: options.stack,
      pid: process.pid,
      apiUrl: local.apiUrl,
      invokeUrl: local.invokeUrl,
      websocketUrl: local.websocketUrl,
      ...(local.apiKey ? { apiKey: local.apiKey } : {}),
      sqsEndpoint: local.sqsEndpoint,
      ...(local.modelEndpoint ? { modelEndpoint: local.modelEndpoint } : {}),
      ...(local.batchEndpoint ? { batchEndpoint: local.batchEndpoint } : {}),
      model: options.settings.model,
      settings: options.settings,
      controlToken,
      startedAt: new Date().toISOString(),
      ...(process.env.BEDROCK_QUEUE_LOG_FILE ? { logFile: process.env.BEDROCK_QUEUE_LOG_FILE } : {}),
      ...(local.recovered ? { recovered: local.recovered } : {}),
    };
    await writeState(state);
    ready(state);
    const boundLog = process.env.BEDROCK_QUEUE_LOG_FILE ? keepLogBounded(process.env.BEDROCK_QUEUE_LOG_FILE) : undefined;
    const signalled = new Promise<{ discard: boolean }>((resolve) => {
      process.once('SIGINT', () => resolve({ discard: false }));
      process.once('SIGTERM', () => resolve({ discard: false }));
    });
    const how = await Promise.race([signalled, local.stopRequested]);
    clearInterval(boundLog);
    process.stderr.write('Stopping: no more polling; letting the calls in flight finish...\n');
    const { left, kept } = await local.stop(how);
    // Unless down removes the stack, its state stays (marked stopped): the next `up` comes back with
    // the same settings, port and key, and resumes what the journal kept.
    if (how.discard) await removeState(options.stack);
    else await writeState({ ...state, stoppedAt: new Date().toISOString() });
    return { left, kept };
  } finally {
    await lock.release();
  }
}

/** Past the limit the log starts again from empty (it is opened for appending, so writes go on at its new end). */
export function keepLogBounded(path: string, limitBytes = LOG_LIMIT_BYTES, everyMs = 5_000): NodeJS.Timeout {
  const timer = setInterval(() => {
    void stat(path).then(async (s) => {
      if (s.size > limitBytes) await truncate(path, 0);
    }, () => undefined);
  }, everyMs);
  timer.unref();
  return timer;
}

/** The token of the lock a detached start takes for its child, which adopts it. */
const START_LOCK_ENV = 'BEDROCK_QUEUE_START_LOCK';

/**
 * Starts `up --local` again as a background process and returns once it answers. The lock is taken
 * here, before the child exists: a start that loses a race says why itself, spawns nothing, and
 * leaves the winner's log alone.
 */
export async function startLocalDetached(stack: string, args: string[], out: Output): Promise<LocalState> {
  const startToken = randomBytes(24).toString('base64url');
  const lock = await lockStack(stack, startToken);
  try {
    return await spawnDetached(stack, args, startToken, out);
  } finally {
    // A no-op once the child has adopted the lock; frees it when the child never started.
    await lock.release();
  }
}

async function spawnDetached(stack: string, args: string[], startToken: string, out: Output): Promise<LocalState> {
  const previous = await previousRun(stack, out);
  const logFile = logPath(stack);
  // A new log for each start, appended to (so that cutting it back leaves no hole); the key never
  // goes there, as the child's stdout (its --json result) is discarded.
  writeFileSync(logFile, '', { mode: 0o600 });
  chmodSync(logFile, 0o600);
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [process.argv[1]!, ...args.filter((a) => a !== '--detach' && a !== '--detach=true'), '--json'], {
    detached: true,
    stdio: ['ignore', 'ignore', log],
    env: { ...process.env, BEDROCK_QUEUE_LOG_FILE: logFile, [START_LOCK_ENV]: startToken },
  });
  child.unref();
  // Answering: its state names the child, and its control route answers.
  const answering = async (): Promise<LocalState | undefined> => {
    if (child.exitCode !== null) {
      const said = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').filter((line) => line.startsWith('Error: ')).pop();
      throw new CliError(`The local stack ${stack} did not start (exit ${child.exitCode})${said ? `: ${said.slice('Error: '.length)}` : ''} See ${logFile}.`);
    }
    const found = await readState(stack, true);
    if (!found?.alive || found.state.pid !== child.pid) return undefined;
    return control(found.state, 'GET', 'status').then(() => found.state, () => undefined);
  };
  const state = (await waitFor(LOCAL_WAITS, {
    what: `the local stack ${stack} to answer`, read: answering, done: (s) => s !== undefined,
    intervalMs: 50, timeoutMs: DETACHED_START_MS, reference: `a local start takes a second or two; its log is ${logFile}`,
  }))!;
  if (!args.includes('--port')) warnIfMoved(previous, state.apiUrl, out);
  return state;
}

export interface StopOutcome {
  stopped: boolean;
  pid?: number;
  /** The state file was left by a process that is gone, or could not be read: removed. */
  stale?: boolean;
  corrupt?: boolean;
  /** Requests and dead letters of a stopped stack's journal discarded by --force. */
  discarded?: number;
  /** Results nobody read, deleted with the stack (they are answers, not work). */
  unreadResults?: number;
}

async function removeLeftovers(stack: string, keepLogs: boolean) {
  await rm(journalPath(stack), { force: true });
  await rm(batchPath(stack), { recursive: true, force: true });
  if (!keepLogs) await rm(logPath(stack), { force: true });
}

/** What the journal of a stack that is not running still holds: unprocessed work, unread results, and both in words. */
async function heldInJournal(stack: string): Promise<{ work: number; results: number; words: string }> {
  const held = await journalContents(journalPath(stack), resourceNames(stack));
  if (!held) return { work: 0, results: 0, words: '' };
  return { work: held.requests + held.deadLetters, results: held.results, words: `${plural(held.requests, 'request')}, ${plural(held.results, 'result')} and ${plural(held.deadLetters, 'dead letter')}` };
}

/** Why a stack is not running, and what its journal still holds. */
export async function whyNotRunning(stack: string, found: FoundState | undefined): Promise<string> {
  const held = await heldInJournal(stack);
  const pending = held.work + held.results ? ` Its journal holds ${held.words}, which the next start resumes.` : '';
  if (!found) return `it was never started or has been stopped.${pending}`;
  if (!found.state) return `${found.corrupt} (the next start replaces it).${pending}`;
  if (found.state.stoppedAt) return `it was stopped at ${found.state.stoppedAt}.${pending}`;
  return `its process ${found.state.pid} is gone or no longer answers.${pending}`;
}

/** Refuses to discard the journal of a stack that is not running while it holds unprocessed work, unless forced. */
async function refusePendingJournal(stack: string, force: boolean): Promise<{ discarded: number; unreadResults: number }> {
  const held = await heldInJournal(stack);
  if (held.work && !force) {
    throw new CliError(`The local stack ${stack} is not running, but its journal holds ${held.words}. `
      + `"bedrock-queue up --local --name ${stack}" resumes them; "bedrock-queue down --local --force --name ${stack}" discards them.`);
  }
  return { discarded: held.work, unreadResults: held.results };
}

/** Stops a local stack (or cleans up after one that is gone); refuses while work is pending unless forced. */
export async function stopLocal(stack: string, options: { force: boolean; keepLogs: boolean; progress: (title: string, run: () => Promise<void>) => Promise<void> }): Promise<StopOutcome> {
  const found = await readState(stack);
  if (!found?.alive) {
    if (found?.corrupt && !options.force) throw new CliError(`${found.corrupt}. "bedrock-queue down --local --force --name ${stack}" removes it (and any journal).`);
    const { discarded, unreadResults } = await refusePendingJournal(stack, options.force);
    await removeState(stack);
    await removeLeftovers(stack, options.keepLogs);
    return { stopped: false, ...(found ? { stale: true } : {}), ...(found?.corrupt ? { corrupt: true } : {}), ...(found?.state ? { pid: found.state.pid } : {}), ...(discarded ? { discarded } : {}), ...(unreadResults ? { unreadResults } : {}) };
  }
  const { state } = found;
  const status = await control<LocalStatus>(state, 'GET', 'status');
  const { refuseBusyQueues, messagesIn } = await import('../../operate/busy-queues.js');
  const { resultsQueue } = resourceNames(stack);
  if (!options.force) refuseBusyQueues(status.queues, resultsQueue, 'discard them');
  await control(state, 'POST', 'shutdown', { discard: true });
  await options.progress(`Stopping the local stack ${stack} (pid ${state.pid})`, async () => {
    await waitFor(LOCAL_WAITS, {
      what: `the local stack ${stack} (pid ${state.pid}) to stop`, read: async () => isAlive(state.pid), done: (alive) => !alive,
      intervalMs: 20, timeoutMs: STOP_MS, reference: 'a stop finishes the invocations in flight, up to the worker timeout',
    });
  });
  await removeLeftovers(stack, options.keepLogs);
  const unreadResults = messagesIn(status.queues, resultsQueue);
  return { stopped: true, pid: state.pid, ...(unreadResults ? { unreadResults } : {}) };
}

export { LOCAL_MODEL_ID };
