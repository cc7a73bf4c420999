import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from '../../errors.js';
import { httpCall } from '../../client/http.js';
import type { Recovered } from '../durability/journaled-aws.js';
import type { LocalSettings } from './settings.js';

/** What `up --local` leaves for the other commands: where it listens, its key, and its process. */
export interface LocalState {
  stack: string;
  pid: number;
  apiUrl: string;
  invokeUrl: string;
  /** The WebSocket API (absent in the state of a version without one). */
  websocketUrl?: string;
  apiKey?: string;
  sqsEndpoint: string;
  modelEndpoint?: string;
  /** The local bucket and batch inference (`batch --discount`), where the local model answers. */
  batchEndpoint?: string;
  model: string;
  /** Authorises the control routes (/_local/...) of this process. */
  controlToken: string;
  startedAt: string;
  logFile?: string;
  /** What the start resumed from the journal of an earlier run. */
  recovered?: Recovered;
  /** Set when the stack stopped (Ctrl-C, SIGTERM): the next `up` resumes it with these settings, on the same port and key. */
  stoppedAt?: string;
  /** What it runs with: the next `up` keeps each unless a flag changes it. */
  settings?: LocalSettings;
}

export type FoundState =
  | { state: LocalState; alive: boolean; corrupt?: undefined }
  | { corrupt: string; state?: undefined; alive: false };

export function stateDir(): string {
  return process.env.BEDROCK_QUEUE_STATE_DIR ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'bedrock-queue');
}

export function statePath(stack: string): string {
  return join(stateDir(), `${stack}.json`);
}

export function journalPath(stack: string): string {
  return join(stateDir(), `${stack}.journal`);
}

/** The local bucket and batch inference jobs of `batch --discount`. */
export function batchPath(stack: string): string {
  return join(stateDir(), `${stack}.batch`);
}

export function logPath(stack: string): string {
  return join(stateDir(), `${stack}.log`);
}

export async function ensureStateDir(): Promise<void> {
  await mkdir(stateDir(), { recursive: true, mode: 0o700 });
}

/** Written atomically (through a temporary file of its own) and readable only by its owner: it holds the API key and the control token. */
export async function writeState(state: LocalState): Promise<void> {
  await ensureStateDir();
  const path = statePath(state.stack);
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, JSON.stringify(state, null, 2), { mode: 0o600 });
  await rename(temporary, path);
}

/** A zombie (killed, not yet reaped: common in containers whose init reaps nothing) still answers kill(pid, 0). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/** A live stack answers its control route in milliseconds; a port taken by another program may never answer. */
const ANSWER_TIMEOUT_MS = 3_000;
const BUSY_ANSWER_MS = 21_000;

/** Whether the process that wrote `state` still serves it: a live pid alone may be another program's after a reboot. */
export async function answers(state: LocalState): Promise<boolean> {
  return (await statusOf(state)) !== undefined;
}

/** The running stack's own status (its control route), or undefined when no process of ours answers for `state`. */
export async function statusOf<T extends { stack: string; pid: number }>(state: LocalState, query = ''): Promise<T | undefined> {
  if (state.stoppedAt || !isAlive(state.pid)) return undefined;
  let response: { status: number; text: string } | undefined;
  // A stack busy with a hundred clients on a loaded machine can take seconds to answer: while its
  // pid lives and the call only timed out, ask again with a longer wait, up to BUSY_ANSWER_MS in all.
  for (let waited = 0, timeout = ANSWER_TIMEOUT_MS; !response; waited += timeout, timeout *= 2) {
    try {
      response = await httpCall(`${state.apiUrl}/_local/status${query}`, 'GET', { 'x-bedrock-queue-control': state.controlToken }, undefined, AbortSignal.timeout(timeout));
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
      if (!timedOut || waited + timeout >= BUSY_ANSWER_MS || !isAlive(state.pid)) return undefined;
    }
  }
  try {
    // Any program may answer 200 on that port: only our stack, given the token, names its stack and pid.
    const status = JSON.parse(response.text) as T;
    return response.status === 200 && status.stack === state.stack && status.pid === state.pid ? status : undefined;
  } catch {
    return undefined;
  }
}

function parseState(text: string): LocalState | undefined {
  try {
    const state = JSON.parse(text) as Partial<LocalState>;
    const complete = typeof state.pid === 'number' && typeof state.apiUrl === 'string' && typeof state.controlToken === 'string' && typeof state.invokeUrl === 'string' && typeof state.sqsEndpoint === 'string';
    return complete ? state as LocalState : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The state of a local stack and whether its process still answers; undefined when there is none.
 * `quick` trusts a live pid (for the start lock and a detached start, which look again at once).
 */
export async function readState(stack: string, quick = false): Promise<FoundState | undefined> {
  let text: string;
  try {
    text = await readFile(statePath(stack), 'utf8');
  } catch {
    return undefined;
  }
  const state = parseState(text);
  if (!state) return { corrupt: `${statePath(stack)} is not a state file bedrock-queue can read`, alive: false };
  return { state, alive: quick ? !state.stoppedAt && isAlive(state.pid) : await answers(state) };
}

export async function removeState(stack: string): Promise<void> {
  await rm(statePath(stack), { force: true });
}

function notRunning(stack: string, found: FoundState | undefined): CliError {
  const start = `Start it with "bedrock-queue up --local --name ${stack}".`;
  if (!found) return new CliError(`No local stack ${stack} is running: ${start}`);
  if (!found.state) return new CliError(`The local stack ${stack} is not running: ${found.corrupt}. "bedrock-queue up --local --name ${stack}" repairs it; "bedrock-queue down --local --force --name ${stack}" removes it.`);
  if (found.state.stoppedAt) return new CliError(`The local stack ${stack} is stopped (since ${found.state.stoppedAt}); its settings and journal are kept. ${start}`);
  return new CliError(`The local stack ${stack} is not running: its process ${found.state.pid} is gone or no longer answers. ${start}`);
}

/** The running local stack, or a clear error: none, stopped, gone, or an unreadable state file. */
export async function requireRunning(stack: string): Promise<LocalState> {
  const found = await readState(stack);
  if (!found?.alive) throw notRunning(stack, found);
  return found.state;
}

/** Calls a control route of the local stack's process. */
export async function control<T>(state: LocalState, method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
  let response: { status: number; text: string };
  try {
    response = await httpCall(`${state.apiUrl}/_local/${route}`, method,
      { 'x-bedrock-queue-control': state.controlToken, 'content-type': 'application/json' },
      body === undefined ? undefined : JSON.stringify(body));
  } catch (err) {
    throw new CliError(`The local stack ${state.stack} (pid ${state.pid}) does not answer at ${state.apiUrl}: ${(err as Error).message}`);
  }
  const payload = JSON.parse(response.text) as T & { message?: string };
  if (response.status < 200 || response.status >= 300) throw new CliError(`The local stack ${state.stack}: ${payload.message ?? `HTTP ${response.status}`}`);
  return payload;
}
