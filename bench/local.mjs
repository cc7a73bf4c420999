// Local-target figures for issues #4 and #5, driven through the CLI and plain HTTP like a user would.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = `${root}bin/bedrock-queue.mjs`;
const stateDir = mkdtempSync(join(tmpdir(), 'bq-bench-'));
const env = { ...process.env, BEDROCK_QUEUE_STATE_DIR: stateDir, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

/** The CLI and the environment the local stacks of the bench run with. */
export const benchEnv = () => ({ env, stateDir, bin });

function cli(args, extraEnv = {}) {
  const started = performance.now();
  const run = spawnSync(process.execPath, [bin, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`bedrock-queue ${args.join(' ')}: ${run.stderr}`);
  return { ms: performance.now() - started, stdout: run.stdout, stderr: run.stderr };
}

export function start(name, args = [], extraEnv = {}) {
  console.error(`bench: starting local stack ${name}`);
  const run = cli(['up', '--local', '--detach', '--json', '--name', name, '--rate-limit', '100000', '--burst-limit', '100000', ...args], extraEnv);
  const state = JSON.parse(readFileSync(join(stateDir, `${name}.json`), 'utf8'));
  const control = async (method, route, body) => (await fetch(`${state.apiUrl}/_local/${route}`, { method, headers: { 'x-bedrock-queue-control': state.controlToken }, body: body && JSON.stringify(body) })).json();
  return { name, state, startMs: run.ms, status: () => control('GET', 'status'), mapping: (change) => control('POST', 'mapping', change), stop: () => cli(['down', '--local', '--force', '--name', name]) };
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
function post(stack, body) {
  return new Promise((resolve, reject) => {
    const req = request(stack.state.invokeUrl, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-api-key': stack.state.apiKey } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 202 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Posts `count` requests with `parallel` in flight; returns requests per second accepted. */
async function load(stack, count, parallel = 32) {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) {
      const i = next++;
      await post(stack, JSON.stringify({ prompt: `request ${i}` }));
    }
  }));
  return count / ((performance.now() - started) / 1000);
}

async function sqs(stack, action, params) {
  const response = await fetch(stack.state.sqsEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${action}` }, body: JSON.stringify(params) });
  const text = await response.text();
  return text ? JSON.parse(text) : {};
}

/** Takes `count` results off the results queue; returns the records. */
async function drainResults(stack, count) {
  const { QueueUrl } = await sqs(stack, 'GetQueueUrl', { QueueName: `${stack.name}-results` });
  const results = [];
  while (results.length < count) {
    const { Messages = [] } = await sqs(stack, 'ReceiveMessage', { QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 });
    for (const m of Messages) results.push(JSON.parse(m.Body));
    if (Messages.length) await sqs(stack, 'DeleteMessageBatch', { QueueUrl, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) });
  }
  return results;
}

const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))];

/** Queues `count` requests while paused, resumes, and measures how fast results come out. */
export async function backlogRun(stack, count) {
  await stack.mapping({ enabled: false });
  await load(stack, count);
  const resumed = Date.now();
  await stack.mapping({ enabled: true });
  const results = await drainResults(stack, count);
  const last = Math.max(...results.map((r) => Date.parse(r.completedAt)));
  const latencies = results.map((r) => Date.parse(r.completedAt) - Math.max(resumed, Date.parse(r.queuedAt)));
  // The rate between the 10th and the 90th percentile of completions: every lane busy, without the
  // start (lanes waking) and the end (the last lanes finishing alone).
  const ends = results.map((r) => Date.parse(r.completedAt)).sort((a, b) => a - b);
  const from = ends[Math.floor(count * 0.1)];
  const to = ends[Math.floor(count * 0.9)];
  return {
    perSecond: count / ((last - resumed) / 1000),
    steadyPerSecond: (Math.floor(count * 0.9) - Math.floor(count * 0.1)) / ((to - from) / 1000),
    ok: results.filter((r) => r.status === 'ok').length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
  };
}

/**
 * How fast the commands people call in loops start and answer: each run of `send --local "x"`,
 * `status --local` (its figures included) and `top --local --once` is paired with a run of `node -e ''` just before it, and the median of the
 * ratios is reported (this machine is shared: a ratio within a pair is steadier than a time).
 */
function commandRatios(runs = 21) {
  const stack = start('bench-commands');
  const ratios = { send: [], status: [], top: [] };
  const time = (args) => {
    const started = performance.now();
    const run = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`${args.join(' ')}: ${run.stderr}`);
    return performance.now() - started;
  };
  for (let i = 0; i < runs; i++) {
    for (const [key, args] of [
      ['send', [bin, 'send', '--local', '--name', stack.name, 'x']],
      ['status', [bin, 'status', '--local', '--name', stack.name, '--json']],
      ['top', [bin, 'top', '--local', '--name', stack.name, '--once']],
    ]) {
      const base = time(['-e', '']);
      ratios[key].push(time(args) / base);
    }
  }
  stack.stop();
  return { send: percentile(ratios.send, 50), status: percentile(ratios.status, 50), top: percentile(ratios.top, 50), runs };
}

export async function measureLocal() {
  const figures = {};
  figures.commands = commandRatios();

  const startups = [];
  const downs = [];
  for (let i = 0; i < 3; i++) {
    const s = start(`bench-start-${i}`);
    startups.push(s.startMs);
    downs.push(cli(['down', '--local', '--name', s.name]).ms);
  }
  figures.startupMs = percentile(startups, 50);
  figures.downMs = percentile(downs, 50);

  let stack = start('bench-zero', ['--concurrency', '32']);
  await stack.mapping({ enabled: false });
  figures.acceptedPerSecond = await load(stack, 5000, 64);
  stack.stop();

  stack = start('bench-zero2', ['--concurrency', '32']);
  figures.zero = await backlogRun(stack, 3000);
  // The same stack again: its threads' code is compiled by now (the first run pays V8's warm-up).
  figures.zeroWarm = await backlogRun(stack, 3000);
  stack.stop();

  const N = 10;
  const L = 0.2;
  stack = start('bench-ours', ['--concurrency', String(N), '--model-latency', `${L * 1000}ms`]);
  figures.ours = { ...(await backlogRun(stack, 500)), ideal: N / L };
  figures.ours.mostInFlight = (await stack.status()).modelStats.mostInFlight;
  stack.stop();

  stack = start('bench-reference', ['--concurrency', String(N), '--model-latency', `${L * 1000}ms`, '--batch-size', '10'], { BQ_RECORD_CONCURRENCY: '1' });
  figures.reference = await backlogRun(stack, 500);
  stack.stop();

  // The quota is a rolling window: the first window's allowance is spent at once, then capacity comes
  // back only as earlier calls leave the window. Goodput counts what came after that first allowance,
  // over the whole run, tail included: a perfect pipeline scores 100%.
  const quotaPerWindow = 50;
  const windowS = 5;
  const quotaRequests = 1000;
  stack = start('bench-quota', ['--concurrency', '16', '--model-latency', '20ms', '--model-rpm', String(quotaPerWindow), '--model-quota-window', `${windowS}s`]);
  const quota = await backlogRun(stack, quotaRequests);
  const status = await stack.status();
  const quotaPerSecond = quotaPerWindow / windowS;
  const elapsedS = quotaRequests / quota.perSecond;
  figures.quota = {
    ...quota,
    requests: quotaRequests,
    quotaPerWindow,
    quotaPerSecond,
    windowS,
    elapsedS,
    idealS: (quotaRequests - quotaPerWindow) / quotaPerSecond,
    goodput: (quotaRequests - quotaPerWindow) / elapsedS / quotaPerSecond,
    throttled: status.modelStats.throttled,
    dlq: status.queues.find((q) => q.name.endsWith('-dlq')),
  };
  stack.stop();

  const file = join(stateDir, 'prompts.txt');
  await new Promise((resolve) => {
    const out = createWriteStream(file);
    for (let i = 0; i < 100_000; i++) out.write(i % 2 ? `{"prompt": "bulk request ${i}", "metadata": {"n": "${i}"}}\n` : `bulk prompt ${i}\n`);
    out.end(resolve);
  });
  stack = start('bench-send', ['--concurrency', '2']);
  await stack.mapping({ enabled: false });
  const timed = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, bin, 'send', '--local', '--name', 'bench-send', '--file', file, '--parallel', '32'], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const summary = /Sent (\d+) requests in ([\d.]+) s/.exec(timed.stderr);
  figures.sendFile = { sent: Number(summary?.[1]), perSecond: Number(summary?.[1]) / Number(summary?.[2]), peakMb: Number(timed.stderr.trim().split('\n').pop()) / 1024 };
  stack.stop();

  // batch: 10,000 lines through the whole pipeline (zero-latency model), results collected from the store.
  const batchFile = join(stateDir, 'batch.txt');
  writeFileSync(batchFile, Array.from({ length: 10_000 }, (_, i) => `batch prompt ${i}`).join('\n'));
  stack = start('bench-batch', ['--concurrency', '32']);
  const batchStarted = performance.now();
  const batch = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, bin, 'batch', batchFile, '--out', join(stateDir, 'batch.jsonl'), '--local', '--name', 'bench-batch', '--json'], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const batchSeconds = (performance.now() - batchStarted) / 1000;
  const batchOutcome = JSON.parse(batch.stdout || '{}');
  figures.batch = { lines: 10_000, ok: batchOutcome.ok ?? 0, seconds: batchSeconds, perSecond: (batchOutcome.ok ?? 0) / batchSeconds, peakMb: Number(batch.stderr.trim().split('\n').pop()) / 1024 };
  stack.stop();
  return figures;
}
