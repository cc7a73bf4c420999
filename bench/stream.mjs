// Push and stream (issue #20), on the local target: the pipeline's time to first token beside the
// model's own, the overhead of a pushed wait over the model's latency, and the memory of 1,000 idle
// sockets. `npm run bench` includes it; `node bench/stream.mjs` runs it alone and replaces its
// section of BENCHMARKS.md.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { BedrockRuntimeClient, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import WebSocket from 'ws';

const root = new URL('..', import.meta.url).pathname;
const bin = `${root}bin/bedrock-queue.mjs`;
const stateDir = mkdtempSync(join(tmpdir(), 'bq-bench-stream-'));
const env = { ...process.env, BEDROCK_QUEUE_STATE_DIR: stateDir, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

function cli(args) {
  const run = spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`bedrock-queue ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

function start(name, args) {
  console.error(`bench: starting local stack ${name}`);
  cli(['up', '--local', '--detach', '--json', '--name', name, '--rate-limit', '100000', '--burst-limit', '100000', ...args]);
  const state = JSON.parse(readFileSync(join(stateDir, `${name}.json`), 'utf8'));
  return { state, stop: () => cli(['down', '--local', '--force', '--name', name]) };
}

const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))];

function open(state) {
  const socket = new WebSocket(state.websocketUrl, { headers: { 'x-api-key': state.apiKey } });
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends an invoke on `socket`; resolves with ms to the first delta and to the result. */
function timedInvoke(socket, prompt) {
  return new Promise((resolve) => {
    const started = performance.now();
    let first;
    const onMessage = (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'delta' && first === undefined) first = performance.now() - started;
      if (frame.type === 'result') {
        socket.off('message', onMessage);
        resolve({ firstMs: first, resultMs: performance.now() - started });
      }
    };
    socket.on('message', onMessage);
    socket.send(JSON.stringify({ action: 'invoke', prompt }));
  });
}

/** The model's own time to first token: ConverseStream straight to the local model server. */
async function modelFirstToken(endpoint, runs) {
  // HTTP/1.1, as the worker calls it (the SDK's default for streams is HTTP/2).
  const bedrock = new BedrockRuntimeClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' }, requestHandler: new NodeHttpHandler() });
  const times = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const { stream } = await bedrock.send(new ConverseStreamCommand({ modelId: 'local.echo', messages: [{ role: 'user', content: [{ text: `first token ${i}` }] }] }));
    for await (const event of stream) {
      if (event.contentBlockDelta) {
        times.push(performance.now() - started);
        break;
      }
    }
  }
  return times;
}

const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

export async function measureStreams() {
  const result = {};
  // 1. Time to first token, 10 streams at once, 10 rounds; the model writes a word every 50 ms.
  const ttft = start('bench-ttft', ['--concurrency', '10', '--model-token-latency', '50ms']);
  try {
    const own = await modelFirstToken(ttft.state.modelEndpoint, 50);
    const sockets = await Promise.all(Array.from({ length: 10 }, () => open(ttft.state)));
    await Promise.all(sockets.map((s) => timedInvoke(s, 'warm up')));
    const firsts = [];
    for (let round = 0; round < 10; round++) {
      const runs = await Promise.all(sockets.map((s, i) => timedInvoke(s, `round ${round} stream ${i} of a few words`)));
      firsts.push(...runs.map((r) => r.firstMs));
    }
    sockets.forEach((s) => s.close());
    const model = percentile(own, 50);
    const overhead = firsts.map((ms) => ms - model);
    result.ttft = { modelP50: model, pipelineP50: percentile(firsts, 50), p50: percentile(overhead, 50), p95: percentile(overhead, 95), samples: firsts.length };
  } finally {
    ttft.stop();
  }

  // 2. A pushed wait: submit, then wait on the socket, over a model that takes 200 ms.
  const wait = start('bench-wait', ['--concurrency', '4', '--model-latency', '200ms']);
  try {
    const { BedrockQueueClient } = await import(`${root}dist/client.mjs`);
    const client = new BedrockQueueClient({ invokeUrl: wait.state.invokeUrl, apiKey: wait.state.apiKey, websocketUrl: wait.state.websocketUrl });
    await client.wait((await client.submit({ prompt: 'warm up' })).id);
    const overheads = [];
    for (let i = 0; i < 40; i++) {
      const started = performance.now();
      const { id } = await client.submit({ prompt: `wait ${i}` });
      await client.wait(id);
      overheads.push(performance.now() - started - 200);
    }
    result.wait = { p50: percentile(overheads, 50), p95: percentile(overheads, 95), samples: overheads.length };
  } finally {
    wait.stop();
  }

  // 3. 1,000 idle sockets on one stack: the resident memory of its process.
  const idle = start('bench-idle', []);
  try {
    const before = rssMb(idle.state.pid);
    const sockets = [];
    for (let i = 0; i < 1000; i += 50) sockets.push(...await Promise.all(Array.from({ length: 50 }, () => open(idle.state))));
    await new Promise((r) => setTimeout(r, 1000));
    result.idle = { sockets: sockets.length, beforeMb: before, withMb: rssMb(idle.state.pid) };
    sockets.forEach((s) => s.terminate());
  } finally {
    idle.stop();
  }
  return result;
}

export function streamSection(r, date, machine) {
  const verdict = (ok) => (ok ? 'met' : '**not met**');
  return `## Push and stream (issue #20)

Measured ${date} on ${machine} by \`npm run bench\` (bench/stream.mjs), on the local target over
real WebSockets. Time to first token: 10 sockets each invoke a request at once, 10 rounds, the
local model writing a word every 50 ms; the model's own time to first token is ConverseStream
straight to the model server (median of 50), and the overhead is the pipeline's (invoke frame sent
to first delta frame received: API, journaled queue, mapping, worker, claim, stream, management
API) minus it. The pushed wait is \`BedrockQueueClient\` submit then wait (the CLI's \`--wait\` path,
without the process start that bench/run.mjs measures), one at a time, minus the model's 200 ms.

| measure | result | target | |
| --- | --- | --- | --- |
| time to first token, pipeline minus model (${r.ttft.samples} streams; model alone ${r.ttft.modelP50.toFixed(0)} ms, pipeline ${r.ttft.pipelineP50.toFixed(0)} ms) | p50 ${r.ttft.p50.toFixed(1)} ms, p95 ${r.ttft.p95.toFixed(1)} ms | p50 at most 30 ms, p95 at most 100 ms | ${verdict(r.ttft.p50 <= 30 && r.ttft.p95 <= 100)} |
| pushed wait over the model's latency (${r.wait.samples} requests) | p50 ${r.wait.p50.toFixed(1)} ms, p95 ${r.wait.p95.toFixed(1)} ms | p50 at most 50 ms | ${verdict(r.wait.p50 <= 50)} |
| resident memory of the stack's process with ${r.idle.sockets} idle sockets open | ${r.idle.withMb.toFixed(1)} MB (${r.idle.beforeMb.toFixed(1)} MB before) | under 150 MB | ${verdict(r.idle.withMb < 150)} |
`;
}

export const machineLine = () => `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;

if (import.meta.url === `file://${process.argv[1]}`) {
  const section = streamSection(await measureStreams(), new Date().toISOString().slice(0, 10), machineLine());
  console.log(section);
  const file = `${root}BENCHMARKS.md`;
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf('## Push and stream (issue #20)');
  writeFileSync(file, at < 0 ? `${text.trimEnd()}\n\n${section}` : `${text.slice(0, at)}${section}`);
}
