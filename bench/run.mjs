// npm run bench: measures the targets of issues #2 and #3 (and the local target's, bench/local.mjs;
// push and stream's, bench/stream.mjs) and writes them to BENCHMARKS.md.
//  - `bedrock-queue --help` cold start (median of repeated process runs) beside `node -e ''`
//  - cold `up`, converged `up` and `down` against moto_server: API calls and wall time
//  - the worker bundle: size, cold import, CPU per request (bench/worker.mjs)
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { measureLocal } from './local.mjs';
import { measureGovernor } from './governor.mjs';
import { measureDiscount } from './discount.mjs';
import { measureWorker } from './worker.mjs';
import { machineLine, measureStreams, streamSection } from './stream.mjs';

const root = new URL('..', import.meta.url).pathname;
const bin = `${root}bin/bedrock-queue.mjs`;
const RUNS = Number(process.env.BENCH_RUNS ?? 21);

function timeProcess(args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, stdout: result.stdout.toString() };
}

/** The same, without blocking: the moto proxy answers from this process while the CLI runs. */
function timeProcessAsync(args) {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => child.on('close', (code) => {
    if (code !== 0) reject(new Error(`${args.join(' ')} failed: ${stderr}`));
    else resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, stdout });
  }));
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function coldStart() {
  timeProcess(['-e', '']);
  timeProcess([bin, '--help']);
  const node = [];
  const help = [];
  for (let i = 0; i < RUNS; i++) {
    node.push(timeProcess(['-e', '']).ms);
    help.push(timeProcess([bin, '--help']).ms);
  }
  return { node: median(node), help: median(help) };
}

/** The tests' moto: moto_server behind the proxy that answers the API Gateway v2 calls it lacks (test/helpers/moto-gaps.ts). */
async function testsMoto() {
  const outfile = join(tmpdir(), `bq-bench-moto-${process.pid}.mjs`);
  await build({ entryPoints: [`${root}test/helpers/moto.ts`], bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'silent' });
  try {
    return await import(outfile);
  } finally {
    rmSync(outfile, { force: true });
  }
}

async function againstMoto() {
  const { motoAvailable, startMoto } = await testsMoto();
  if (!motoAvailable()) return undefined;
  const moto = await startMoto();
  const endpoint = moto.endpoint;
  try {
    process.env.AWS_ACCESS_KEY_ID = 'bench';
    process.env.AWS_SECRET_ACCESS_KEY = 'bench';
    const cli = async (...args) => {
      const run = await timeProcessAsync([bin, ...args, '--name', 'bench', '--region', 'us-east-1', '--endpoint-url', endpoint, '--json', '--yes']);
      const out = JSON.parse(run.stdout);
      return { ms: run.ms, reads: out.calls.reads, mutations: out.calls.mutations, readsByService: out.calls.readsByService };
    };
    // moto has no Bedrock control plane: the model preflight is skipped (it adds 2-3 Bedrock reads on AWS).
    const cold = await cli('up', '--skip-model-check');
    const converged = [];
    for (let i = 0; i < 5; i++) converged.push(await cli('up', '--skip-model-check'));
    const down = await cli('down');
    const conv = { ms: median(converged.map((c) => c.ms)), reads: converged[0].reads, readsByService: converged[0].readsByService, mutations: Math.max(...converged.map((c) => c.mutations)) };
    return { cold, converged: conv, down };
  } finally {
    await moto.stop();
  }
}

const start = coldStart();
const moto = await againstMoto();
const ratio = start.help / start.node;
const machine = machineLine();
const date = new Date().toISOString().slice(0, 10);
const verdict = (ok) => (ok ? 'met' : '**not met**');

const rows = [
  '| measure | result | target | |',
  '| --- | --- | --- | --- |',
  `| \`node -e ''\` (median of ${RUNS}) | ${start.node.toFixed(0)} ms | | |`,
  `| \`bedrock-queue --help\` (median of ${RUNS}) | ${start.help.toFixed(0)} ms (${ratio.toFixed(2)}x node) | at most 2x node | ${verdict(ratio <= 2)} |`,
];
if (moto) {
  rows.push(
    `| cold \`up\` against moto (whole process) | ${moto.cold.ms.toFixed(0)} ms, ${moto.cold.reads} reads + ${moto.cold.mutations} mutating calls | | |`,
    `| converged \`up\` against moto (median of 5) | ${moto.converged.ms.toFixed(0)} ms, ${moto.converged.reads} reads + ${moto.converged.mutations} mutating calls | 0 mutating, at most 15 reads, at most 1.0 s | ${verdict(moto.converged.mutations === 0)} / ${verdict(moto.converged.reads <= 15)} / ${verdict(moto.converged.ms <= 1000)} |`,
    `| \`down\` against moto | ${moto.down.ms.toFixed(0)} ms, ${moto.down.reads} reads + ${moto.down.mutations} mutating calls | | |`,
  );
} else {
  rows.push('| against moto | skipped: moto_server not on PATH | | |');
}

const why = moto ? `
The reads of a converged \`up\`, by service: ${Object.entries(moto.converged.readsByService).map(([s, n]) => `${s} ${n}`).join(', ')}.
Each one checks something that can drift or be taken over: every queue's attributes and tags, each
role's trust policy, inline policy and tags, the log group's retention and tags, the function's
configuration and code hash, the mapping and its own tags, and each part of the API (resources and
methods, model, validator, gateway responses, stage, key, usage plan and its keys). Fewer reads
would mean checking less, so the 15-read target is not met by design; they run in parallel, and
the whole command stays under the 1.0 s target. Against AWS, \`up\` adds the model check (two or
three Bedrock reads; skipped here, as moto has no Bedrock control plane).
\`down\` spends most of its time on purpose: it returns only once \`GetQueueUrl\` has said
\`QueueDoesNotExist\` three times in a row for each queue, 2 s apart (SQS takes up to 60 s to delete
a queue), so that an \`up\` right after it finds the names free of stale listings.
` : '';
const sections = [`## Provisioning (issue #2)\n\nMeasured ${date} on ${machine} by \`npm run bench\`.\n\n${rows.join('\n')}\n${why}`];

const worker = await measureWorker();
sections.push(`## Worker (issue #3)

Measured ${date} on ${machine} by \`npm run bench\`. CPU per request: one record per invocation, as the
mapping delivers them, 2,000 requests after 200 to warm up. "Handler" stubs the three AWS clients
in-process (aws-sdk-client-mock), so it is the handler's own work around a zero-latency model.
"With the SDK" runs the built bundle through the real clients to zero-latency Bedrock, SQS and
DynamoDB stand-ins in another process over loopback: the SDK's middleware, SigV4 signing,
serialisation and three HTTP round trips per request (Converse, the results queue, the results store).

| measure | result | target | |
| --- | --- | --- | --- |
| bundle \`dist/worker/index.mjs\`, minified | ${worker.minifiedKb.toFixed(0)} KB | | |
| the same, zipped as \`up\` uploads it | ${worker.zippedKb.toFixed(0)} KB | at most 200 KB | ${verdict(worker.zippedKb <= 200)} |
| cold import of the bundle (median of 11 processes) | ${worker.importMs.toFixed(0)} ms | at most 150 ms | ${verdict(worker.importMs <= 150)} |
| handler CPU per request, zero-latency model | ${worker.handler.cpuMs.toFixed(3)} ms | under 1 ms | ${verdict(worker.handler.cpuMs < 1)} |
| with the SDK: CPU per request (wall) | ${worker.withSdk.cpuMs.toFixed(2)} ms (${worker.withSdk.wallMs.toFixed(2)} ms) | | |
`);

const local = await measureLocal();
const terminalLibraryKb = readdirSync(`${root}dist`).filter((f) => f.startsWith('ansi-escapes-')).reduce((kb, f) => kb + statSync(`${root}dist/${f}`).size / 1024, 0);
const pct = (x) => `${(x * 100).toFixed(0)}%`;
sections.push(`## The local target (issue #4)

Measured ${date} on ${machine} by \`npm run bench\` (bench/local.mjs), through the CLI and plain HTTP.
The API, the local SQS server (every queue journaled to disk with group commit, fdatasync before
each 202), the mapping emulator and the model server share one Node thread;
the worker runs in a thread of its own (as a Lambda sandbox would), so the stack uses both of this
machine's 2 cores. Throughput runs queue a backlog while paused, resume, and
time the results; latency is from resume (or queueing, if later) to the result, so it includes the
wait in that backlog.

| measure | result | target | |
| --- | --- | --- | --- |
| \`send --local "x"\`, as a ratio to \`node -e ''\` run just before it (median of ${local.commands.runs} pairs) | ${local.commands.send.toFixed(2)}x node | at most 3x | ${verdict(local.commands.send <= 3)} |
| \`status --local\` (with the last 5 minutes' figures), likewise | ${local.commands.status.toFixed(2)}x node | at most 3x | ${verdict(local.commands.status <= 3)} |
| \`top --local --once\` (start-up and one frame; its terminal library, ansi-escapes, is a ${terminalLibraryKb.toFixed(1)} KB chunk loaded only on a terminal), likewise | ${local.commands.top.toFixed(2)}x node | at most 3x | ${verdict(local.commands.top <= 3)} |
| \`up --local --detach\` until it answers (median of 3) | ${local.startupMs.toFixed(0)} ms | within 2 s | ${verdict(local.startupMs <= 2000)} |
| \`down --local\` of an idle stack, until its process is gone (median of 3) | ${local.downMs.toFixed(0)} ms | under 1 s | ${verdict(local.downMs < 1000)} |
| requests/s accepted by the API (5,000 requests, 64 at once, worker paused) | ${local.acceptedPerSecond.toFixed(0)} | | |
| results/s end to end, zero-latency model, concurrency 32 (3,000 requests on a fresh stack) | ${local.zero.perSecond.toFixed(0)} (${local.zero.ok} ok) | at least 500 | ${verdict(local.zero.perSecond >= 500)} |
| the same, 3,000 more on that stack once warm (V8 has compiled the worker's and the server's code) | ${local.zeroWarm.perSecond.toFixed(0)} (${local.zeroWarm.ok} ok) | | |
| results/s with latency L = 200 ms and N = 10 (500 requests; ideal N/L = ${local.ours.ideal}) | ${local.ours.perSecond.toFixed(1)} = ${pct(local.ours.perSecond / local.ours.ideal)} of ideal; p50 ${local.ours.p50} ms, p95 ${local.ours.p95} ms; most in flight ${local.ours.mostInFlight} | at least 90% of N/L | ${verdict(local.ours.perSecond >= 0.9 * local.ours.ideal)} |
| the same load with the reference pattern's settings (batches of 10 handled one after another) | ${local.reference.perSecond.toFixed(1)} = ${pct(local.reference.perSecond / local.ours.ideal)} of ideal; p50 ${local.reference.p50} ms, p95 ${local.reference.p95} ms | | |
| goodput under a model quota of ${local.quota.quotaPerWindow} calls per ${local.quota.windowS} s window (${local.quota.requests} requests, concurrency 16), counted after the first window's allowance | ${pct(local.quota.goodput)} of the quota: all done in ${local.quota.elapsedS.toFixed(1)} s against ${local.quota.idealS.toFixed(1)} s ideal; ${local.quota.ok} of ${local.quota.requests} ok, ${local.quota.throttled} throttled calls (${(local.quota.throttled / local.quota.ok).toFixed(1)} per result) retried, ${local.quota.dlq.visible} in the DLQ | at least 95%, nothing lost | ${verdict(local.quota.goodput >= 0.95 && local.quota.ok === local.quota.requests && local.quota.dlq.visible === 0)} |

How the quota run counts: the local model's quota is a rolling window, a per-minute quota shortened
to ${local.quota.windowS} s so that the run takes under two minutes. The first window's allowance is spent at once;
after it, capacity comes back only as earlier calls leave the window. Goodput is therefore the
results beyond that first allowance, divided by the time to the last result (tail included) and by
the quota's rate: a perfect pipeline scores 100%. A throttled call is tried again after a pause of
200-800 ms in the same invocation (for up to 10 s), then the request goes back to the queue for 1 to
3 s, so that some requests are ready whenever capacity returns. The price is the throttled calls
counted above: they cost Lambda time and SQS requests but no Bedrock tokens, and the mapping's
maximum concurrency bounds them (re-queueing alone, with the same short delays, made 23 per result).
`);
sections.push(`## send --file (issue #5)

Measured ${date} on ${machine} by \`npm run bench\`: \`send --local --file\` with 100,000 lines (half JSON
requests, half plain prompts), \`--parallel 32\`, against the local target with its worker paused;
peak memory is the maximum resident set of the \`send\` process (GNU time).

| measure | result | target | |
| --- | --- | --- | --- |
| requests/s accepted | ${local.sendFile.perSecond.toFixed(0)} (${local.sendFile.sent} sent) | at least 1,000 | ${verdict(local.sendFile.perSecond >= 1000)} |
| peak memory of \`send\` | ${local.sendFile.peakMb.toFixed(0)} MB | under 150 MB | ${verdict(local.sendFile.peakMb < 150)} |
`);

sections.push(`## \`batch\`: a file of prompts in, a file of answers out (issue #10)

Measured ${date} on ${machine} by \`npm run bench\`: \`batch\` with 10,000 plain prompts against the
local target (zero-latency model, concurrency 32), from start to the last answer written; it sends
with 32 requests in flight and collects results from the results store with BatchGetItem while it
sends. Peak memory is the maximum resident set of the \`batch\` process (GNU time).

| measure | result | target | |
| --- | --- | --- | --- |
| results/s end to end | ${local.batch.perSecond.toFixed(0)} (${local.batch.ok} of ${local.batch.lines} ok in ${local.batch.seconds.toFixed(1)} s) | at least 500 | ${verdict(local.batch.perSecond >= 500 && local.batch.ok === local.batch.lines)} |
| peak memory of \`batch\` | ${local.batch.peakMb.toFixed(0)} MB | under 200 MB | ${verdict(local.batch.peakMb < 200)} |
`);

const discount = await measureDiscount();
sections.push(`## \`batch --discount\` on the local target (issue 22)

Measured ${date} on ${machine} by \`npm run bench\` (bench/discount.mjs): \`batch --discount --local\` with
${discount.lines.toLocaleString('en')} plain prompts, against the local batch inference emulation (its job waits \`--discount-delay ${discount.delayS}s\`, then
answers every record through the local model, zero latency, 16 at a time). The route's overhead is what the run
takes beyond its job's own time (submission to end, as the local Bedrock reports it): the CLI's start, spooling the
file (read twice), the upload, the looks at the job (every second locally), the download and the output.
Peak memory is the maximum resident set of the \`batch\` process (GNU time).

| measure | result | target | |
| --- | --- | --- | --- |
| the run, end to end | ${discount.seconds.toFixed(1)} s for ${discount.ok} of ${discount.lines} ok in ${discount.jobs} job(s); the job itself ${discount.jobSeconds.toFixed(1)} s (${discount.delayS} s of it its delay) | | |
| overhead beyond the job | ${discount.overheadS.toFixed(1)} s | | |
| peak memory of \`batch --discount\` | ${discount.peakMb.toFixed(0)} MB | under 200 MB | ${verdict(discount.peakMb < 200 && discount.ok === discount.lines)} |
`);

sections.push(streamSection(await measureStreams(), date, machine));

const gov = await measureGovernor();
const quotaRow = (label, r) => `| ${label} | ${pct(r.steady.goodput)} | ${r.steady.throttledPerResult.toFixed(2)} | ${pct(r.goodput)} in ${r.elapsedS.toFixed(0)} s | ${r.throttledPerResult.toFixed(2)} | ${r.finalConcurrency} | ${r.ok} ok, ${r.dlq} in the DLQ |`;
sections.push(`## The governor: autopilot concurrency (issue 21)

Measured ${date} on ${machine} by \`npm run bench\` (bench/governor.mjs): the same local model quota, ${gov.quota.calls} calls per
${gov.quota.windowS} s rolling window (${gov.quota.calls / gov.quota.windowS} calls a second), a model latency of ${gov.quota.latencyMs} ms, so that ${gov.quota.fits} calls in flight fit;
${gov.quota.requests} requests queued while paused, then resumed. The governor ticks once a window (\`--governor-interval ${gov.quota.windowS}s\`),
as on AWS a minute's quota meets a minute's tick; the tick stays at least the worker's own 10 s wait for a
throttled call. Goodput is counted as in the quota run above (after the first window's allowance).
"Steady" is from the fourth tick to the last answer: after the autopilot's first cut and the two intervals it
holds while throttling from before the cut is still being counted.

| concurrency | steady goodput | steady throttled calls per result | whole run goodput | whole run throttled per result | at the end | lost |
| --- | --- | --- | --- | --- | --- | --- |
${quotaRow('fixed 16', gov.fixed16)}
${quotaRow('fixed 64', gov.fixed64)}
${quotaRow('autopilot, ceiling 64', gov.autopilot)}

Target (issue 21): with autopilot, goodput at least 95% of the quota and at most 0.5 throttled calls per
result: ${verdict(gov.autopilot.steady.goodput >= 0.95 && gov.autopilot.steady.throttledPerResult <= 0.5)} (throttled calls ${verdict(gov.autopilot.steady.throttledPerResult <= 0.5)}, goodput ${verdict(gov.autopilot.steady.goodput >= 0.95)}).
The autopilot settles where the quota fits (${gov.autopilot.finalConcurrency} at the end; last change "${gov.autopilot.lastChange}") and
throttles about as little as a fixed concurrency that happens to fit, where a fixed 64 makes
${gov.fixed64.steady.throttledPerResult.toFixed(1)} throttled calls per result.${gov.autopilot.steady.goodput >= 0.95 ? '' : ` Its goodput falls short in this run.`}

Efficiency at a realistic model latency (L = 1 s, N = 32, ${gov.efficiency.requests} requests), with every lane busy (the
rate between the 10th and the 90th percentile of completions): ${gov.efficiency.steadyPerSecond.toFixed(1)} results/s = ${(100 * gov.efficiency.steadyPerSecond / gov.efficiency.ideal).toFixed(1)}% of N/L
(target at least 95%: ${verdict(gov.efficiency.steadyPerSecond >= 0.95 * gov.efficiency.ideal)}); over the whole run, lanes waking at the start and the last
ones finishing alone included, ${gov.efficiency.perSecond.toFixed(1)} results/s = ${(100 * gov.efficiency.perSecond / gov.efficiency.ideal).toFixed(1)}%.
Each round of a busy lane took ${gov.efficiency.steadyOverheadMsPerRequest.toFixed(0)} ms beyond the model's second (${gov.efficiency.overheadMsPerRequest.toFixed(0)} ms over the whole run): the worker's
claim (UpdateItem), store (PutItem) and publish (SendMessageBatch), and the mapping's delete
(DeleteMessageBatch), each a call to the local server that answers after its journal write is on disk
(fdatasync, group commit), one after another for each request; the next message is already received
while the model answers. At L = 200 ms the same cost weighs five times as much.
`);

console.log(sections.join('\n'));
const file = `${root}BENCHMARKS.md`;
const header = '# Benchmarks\n\nEvery figure here comes from `npm run bench` (bench/run.mjs); each section says when and on what it ran.\n\n';
writeFileSync(file, header + sections.join('\n'));
