import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from '../errors.js';
import type { Output } from '../output.js';
import { LOCAL_MODEL_ID } from './model-server.js';
import { refuseBusyQueues, type QueueReport } from '../provision/engine.js';
import { startLocalStack, type LocalStackOptions, type LocalStatus } from './stack.js';
import { control, isAlive, readState, removeState, stateDir, writeState, type LocalState } from './state.js';

async function refuseIfRunning(stack: string, out: Output) {
  const found = await readState(stack);
  if (!found) return;
  if (found.alive) {
    throw new CliError(`The local stack ${stack} already runs (pid ${found.state.pid}, ${found.state.invokeUrl}). Stop it with "bedrock-queue down --local --name ${stack}", or choose another --name.`);
  }
  out.warn(`a stale state file for ${stack} was left by process ${found.state.pid}, which is gone: removed.`);
  await removeState(stack);
}

/** Runs the local stack in this process until Ctrl-C or `down --local`; returns what was still queued. */
export async function runLocalForeground(options: LocalStackOptions, out: Output, ready: (state: LocalState) => void): Promise<QueueReport[]> {
  await refuseIfRunning(options.stack, out);
  const local = await startLocalStack(options);
  const state: LocalState = {
    stack: options.stack,
    pid: process.pid,
    apiUrl: local.apiUrl,
    invokeUrl: local.invokeUrl,
    ...(local.apiKey ? { apiKey: local.apiKey } : {}),
    sqsEndpoint: local.sqsEndpoint,
    ...(local.modelEndpoint ? { modelEndpoint: local.modelEndpoint } : {}),
    model: options.settings.model,
    controlToken: local.controlToken,
    startedAt: new Date().toISOString(),
    ...(process.env.BEDROCK_QUEUE_LOG_FILE ? { logFile: process.env.BEDROCK_QUEUE_LOG_FILE } : {}),
  };
  await writeState(state);
  ready(state);
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await Promise.race([signalled, local.stopRequested]);
  process.stderr.write('Stopping: no more polling; letting the calls in flight finish...\n');
  try {
    return await local.stop();
  } finally {
    await removeState(options.stack);
  }
}

/** Starts `up --local` again as a background process and returns once it answers. */
export async function startLocalDetached(stack: string, args: string[], out: Output): Promise<LocalState> {
  await refuseIfRunning(stack, out);
  const logFile = join(stateDir(), `${stack}.log`);
  mkdirSync(stateDir(), { recursive: true, mode: 0o700 });
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [process.argv[1]!, ...args.filter((a) => a !== '--detach' && a !== '--detach=true'), '--json'], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, BEDROCK_QUEUE_LOG_FILE: logFile },
  });
  child.unref();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const said = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').filter((line) => line.startsWith('Error: ')).pop();
      throw new CliError(`The local stack ${stack} did not start (exit ${child.exitCode})${said ? `: ${said.slice('Error: '.length)}` : ''} See ${logFile}.`);
    }
    const found = await readState(stack);
    if (found?.alive && found.state.pid === child.pid) {
      try {
        await control(found.state, 'GET', 'status');
        return found.state;
      } catch {
        // not answering yet
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new CliError(`The local stack ${stack} did not answer within 15 s; see ${logFile}.`);
}

/** Stops a local stack; refuses while its queues hold messages unless forced. */
export async function stopLocal(stack: string, force: boolean): Promise<{ stopped: boolean; stale?: boolean; pid?: number }> {
  const found = await readState(stack);
  if (!found) return { stopped: false };
  if (!found.alive) {
    await removeState(stack);
    return { stopped: false, stale: true, pid: found.state.pid };
  }
  const status = await control<LocalStatus>(found.state, 'GET', 'status');
  if (!force) refuseBusyQueues(status.queues, 'lose them (local queues live in memory)');
  await control(found.state, 'POST', 'shutdown');
  const deadline = Date.now() + 60_000;
  while (isAlive(found.state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(found.state.pid)) throw new CliError(`The local stack ${stack} (pid ${found.state.pid}) did not stop within 60 s.`);
  return { stopped: true, pid: found.state.pid };
}

export { LOCAL_MODEL_ID };
