import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { LocalState } from '../../src/local/lifecycle/state.js';
import { spawn } from 'node:child_process';
import { BIN, runCli, type CliRun } from './cli.js';
import { tempDir } from './temp.js';

/** One state directory for a test file, so its local stacks are its own. */
export const STATE_DIR = tempDir('bq-local-');
const env = { BEDROCK_QUEUE_STATE_DIR: STATE_DIR };

export const cli = (...args: string[]): Promise<CliRun> => runCli(args, env);
/** The CLI as a child process to signal (Ctrl-C is SIGINT), with the test file's state directory. */
export const spawnCli = (...args: string[]) => spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
/** The CLI with `input` on its standard input, through a real pipe. */
export const cliPiped = (input: string, ...args: string[]): Promise<CliRun> => runCli(args, env, input);

export async function cliJson<T = Record<string, unknown>>(...args: string[]): Promise<T> {
  const run = await cli(...args, '--json');
  if (run.code !== 0) throw new Error(`bedrock-queue ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

export interface LocalHandle {
  name: string;
  state: LocalState;
  /** The local stack's own view: queues, mapping, model counters. */
  status: () => Promise<{ queues: { name: string; visible: number; inFlight: number; delayed: number }[]; mapping: { state: string; concurrency: number }; modelStats: { mostInFlight: number; throttled: number; answered: number; calls: number } }>;
  control: (route: string, body: unknown) => Promise<unknown>;
  stop: () => Promise<void>;
}

/** Starts `up --local --detach` through the CLI, as a user would. */
export async function startLocal(name: string, ...args: string[]): Promise<LocalHandle> {
  await cliJson('up', '--local', '--detach', '--name', name, ...args);
  const state = JSON.parse(readFileSync(join(STATE_DIR, `${name}.json`), 'utf8')) as LocalState;
  const call = async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${state.apiUrl}/_local/${route}`, { method, headers: { 'x-bedrock-queue-control': state.controlToken }, body: body === undefined ? undefined : JSON.stringify(body) });
    return response.json();
  };
  return {
    name,
    state,
    status: () => call('GET', 'status') as ReturnType<LocalHandle['status']>,
    control: (route, body) => call('POST', route, body),
    stop: async () => {
      await cli('down', '--local', '--force', '--name', name);
    },
  };
}

/** A raw HTTP POST, as curl would send it: exactly these bytes and headers. */
export function rawPost(url: string, body: string | Buffer, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** SQS's JSON protocol over plain fetch: a client independent of the AWS SDK. */
export async function rawSqs<T = Record<string, unknown>>(endpoint: string, action: string, params: Record<string, unknown>): Promise<T> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${action}` },
    body: JSON.stringify(params),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${action}: HTTP ${response.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

export async function queueUrl(handle: LocalHandle, queue: string): Promise<string> {
  return (await rawSqs<{ QueueUrl: string }>(handle.state.sqsEndpoint, 'GetQueueUrl', { QueueName: `${handle.name}-${queue}` })).QueueUrl;
}

/** Takes results off the results queue with the independent client until `count` have arrived. */
export async function collectResults(handle: LocalHandle, count: number, timeoutMs = 30_000): Promise<Record<string, { id: string; status: string; output?: string; error?: { code: string }; attempt: number; metadata?: Record<string, string> }>> {
  const url = await queueUrl(handle, 'results');
  const results: Record<string, never> = {};
  const deadline = Date.now() + timeoutMs;
  while (Object.keys(results).length < count) {
    if (Date.now() > deadline) throw new Error(`only ${Object.keys(results).length} of ${count} results after ${timeoutMs} ms`);
    const { Messages = [] } = await rawSqs<{ Messages?: { Body: string; ReceiptHandle: string }[] }>(handle.state.sqsEndpoint, 'ReceiveMessage', { QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 });
    for (const m of Messages) {
      const result = JSON.parse(m.Body);
      results[result.id] = result as never;
      await rawSqs(handle.state.sqsEndpoint, 'DeleteMessage', { QueueUrl: url, ReceiptHandle: m.ReceiptHandle });
    }
  }
  return results;
}

/** `what` may be a function, to say what was seen when the wait times out. */
export async function waitUntil(what: string | (() => string), check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
