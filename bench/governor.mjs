// The governor's figures (issue 21): goodput and throttled calls per result under one model quota,
// at a fixed concurrency of 16, a fixed 64 and with the autopilot (ceiling 64), in the same run; and
// the pipeline's efficiency at a realistic model latency (L = 1 s, N = 32).
import { backlogRun, start } from './local.mjs';

/**
 * The quota as on Bedrock, a rolling window, shortened with the tick so that a run takes a minute
 * and a half: QUOTA calls per WINDOW_S seconds, and a governor tick per window (on AWS: a minute
 * and a minute). The tick stays as long as the worker's own wait for a throttled call (10 s), as on
 * AWS where it is much longer. The model answers in LATENCY_MS, so the quota allows
 * QUOTA / WINDOW_S x LATENCY calls in flight.
 */
const QUOTA = 150;
const WINDOW_S = 10;
const LATENCY_MS = 1000;
const REQUESTS = 1500;

/**
 * Ticks before the steady state is measured: the autopilot's first cut (the second tick), and the
 * two it holds after it while throttling from before the cut is still being counted (a worker counts
 * its throttled calls up to 10 s and a model call late; at a 10 s tick that is two intervals).
 */
const SETTLE_TICKS = 4;

export async function quotaRun(name, args) {
  const stack = start(name, ['--model-latency', `${LATENCY_MS}ms`, '--model-rpm', String(QUOTA), '--model-quota-window', `${WINDOW_S}s`, '--governor-interval', `${WINDOW_S}s`, ...args]);
  // The model's counters once the stack has settled, and when the last request is answered.
  let settled;
  const sample = setTimeout(async () => {
    settled = { at: Date.now(), ...(await stack.status()).modelStats };
  }, SETTLE_TICKS * WINDOW_S * 1000);
  const run = await backlogRun(stack, REQUESTS);
  clearTimeout(sample);
  const ended = Date.now();
  const status = await stack.status();
  stack.stop();
  const perSecond = QUOTA / WINDOW_S;
  const elapsedS = REQUESTS / run.perSecond;
  const steady = settled && {
    goodput: (status.modelStats.answered - settled.answered) / ((ended - settled.at) / 1000) / perSecond,
    throttledPerResult: (status.modelStats.throttled - settled.throttled) / (status.modelStats.answered - settled.answered),
  };
  return {
    ok: run.ok,
    elapsedS,
    // As the quota run counts: the first window's allowance is spent at once, the rest at the quota's rate.
    goodput: (REQUESTS - QUOTA) / elapsedS / perSecond,
    throttledPerResult: status.modelStats.throttled / run.ok,
    steady,
    dlq: status.queues.find((q) => q.name.endsWith('-dlq')).visible,
    finalConcurrency: status.mapping.concurrency,
    lastChange: status.governor.autopilot?.lastChange?.reason ?? null,
  };
}

export async function measureGovernor() {
  const fixed16 = await quotaRun('bench-gov-16', ['--concurrency', '16']);
  const fixed64 = await quotaRun('bench-gov-64', ['--concurrency', '64']);
  const autopilot = await quotaRun('bench-gov-auto', ['--concurrency', '64', '--autopilot']);
  const N = 32;
  const L = 1;
  const stack = start('bench-gov-efficiency', ['--concurrency', String(N), '--model-latency', `${L * 1000}ms`]);
  const count = 1600;
  const run = await backlogRun(stack, count);
  // Each lane takes a request, calls the model for L, and stores, publishes and deletes: what a round
  // takes beyond L is the pipeline's own cost per request, ramp-up and tail included.
  const efficiency = {
    ...run, ideal: N / L, requests: count,
    overheadMsPerRequest: ((count / run.perSecond) / (count / N) - L) * 1000,
    steadyOverheadMsPerRequest: (N / run.steadyPerSecond - L) * 1000,
  };
  stack.stop();
  return { quota: { calls: QUOTA, windowS: WINDOW_S, latencyMs: LATENCY_MS, requests: REQUESTS, fits: (QUOTA / WINDOW_S) * (LATENCY_MS / 1000) }, fixed16, fixed64, autopilot, efficiency };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await measureGovernor(), null, 2));
