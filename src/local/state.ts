import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from '../errors.js';
import { httpCall } from '../client/http.js';

/** What `up --local` leaves for the other commands: where it listens, its key, and its process. */
export interface LocalState {
  stack: string;
  pid: number;
  apiUrl: string;
  invokeUrl: string;
  apiKey?: string;
  sqsEndpoint: string;
  modelEndpoint?: string;
  model: string;
  /** Authorises the control routes (/_local/...) of this process. */
  controlToken: string;
  startedAt: string;
  logFile?: string;
}

export function stateDir(): string {
  return process.env.BEDROCK_QUEUE_STATE_DIR ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'bedrock-queue');
}

export function statePath(stack: string): string {
  return join(stateDir(), `${stack}.json`);
}

/** Written atomically and readable only by its owner: it holds the API key and the control token. */
export async function writeState(state: LocalState): Promise<void> {
  await mkdir(stateDir(), { recursive: true, mode: 0o700 });
  const path = statePath(state.stack);
  await writeFile(`${path}.tmp`, JSON.stringify(state, null, 2), { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The state of a local stack, and whether its process still runs; undefined when there is none. */
export async function readState(stack: string): Promise<{ state: LocalState; alive: boolean } | undefined> {
  let text: string;
  try {
    text = await readFile(statePath(stack), 'utf8');
  } catch {
    return undefined;
  }
  const state = JSON.parse(text) as LocalState;
  return { state, alive: isAlive(state.pid) };
}

export async function removeState(stack: string): Promise<void> {
  await rm(statePath(stack), { force: true });
}

/** The running local stack, or a clear error: none, or a stale state file (which is removed). */
export async function requireRunning(stack: string): Promise<LocalState> {
  const found = await readState(stack);
  if (!found) throw new CliError(`No local stack ${stack} is running: start it with "bedrock-queue up --local --name ${stack}".`);
  if (!found.alive) {
    await removeState(stack);
    throw new CliError(`The local stack ${stack} is not running: its process ${found.state.pid} is gone (stale state file removed). Start it with "bedrock-queue up --local --name ${stack}".`);
  }
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
