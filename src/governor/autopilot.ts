/**
 * Autopilot concurrency (issue 21): once a minute, the mapping's maximum concurrency moves by the
 * last minute's figures, as TCP finds a link's capacity. Throttling above a threshold cuts it
 * multiplicatively: to what the minute's answers show fits (answers per second times the model's
 * latency), or by the cut factor when that is unknown; a backlog with no throttling and every slot
 * busy raises it additively; it
 * never leaves [2, ceiling] (2: the mapping's minimum; the ceiling: `--concurrency`). A pure
 * function, the same for the AWS schedule and the local stack's tick.
 */

import type { ChangeCause } from './config.js';

/** One minute of the pipeline, as the metrics and the queue report it. */
export interface MinuteFigures {
  /** Requests that ended (ok or error). */
  results: number;
  /** Model calls answered with a throttling error. */
  throttled: number;
  /** Requests waiting in the requests queue (visible messages). */
  backlog: number;
  /** The most invocations in flight at once. */
  inFlight: number;
  /** How long the interval was (s), and its model calls' median latency (ms): with both, a cut goes to what fits. */
  seconds?: number;
  modelLatencyMs?: number | null;
}

export interface AutopilotState {
  concurrency: number;
  ceiling: number;
  /** Seconds since the autopilot last cut for throttling, if it has. */
  sinceLastCutSeconds?: number;
}

export interface Decision {
  kind: 'cut' | 'raise' | 'hold';
  concurrency: number;
  /** Why, in words for `status` and the log line. */
  reason: string;
  /** What moved it (a cut or a raise): the share of calls throttled, the backlog, or the bounds. */
  cause?: ChangeCause;
  figure?: number;
}

export const AUTOPILOT = {
  /** The mapping's smallest maximum concurrency (Lambda: 2 to 1,000). */
  minimum: 2,
  /** Throttled calls, as a share of the minute's model calls, above which concurrency is cut. */
  throttleThreshold: 0.1,
  /** What a cut keeps. */
  cutFactor: 0.7,
  /** What a raise adds. */
  raiseStep: 2,
} as const;

/**
 * The longest a worker keeps retrying a throttled call in one invocation (it pauses 200-800 ms
 * between tries), before the request goes back to the queue. Its throttled calls are counted when
 * the invocation ends.
 */
export const THROTTLED_WAIT_MS = 10_000;

/** How late an interval's figures may count throttled calls: the wait above and one model call. */
const countingLagSeconds = (figures: MinuteFigures) => (THROTTLED_WAIT_MS + (figures.modelLatencyMs ?? 0)) / 1000;

const percent = (share: number) => `${Math.round(share * 100)}%`;

/**
 * The calls in flight that the quota answered over the interval (Little's law: answers per second
 * times how long an answer takes). Under throttling the answers are the quota's, so this is what fits.
 */
export function callsThatFit(figures: MinuteFigures): number | undefined {
  if (!figures.seconds || !figures.modelLatencyMs || !figures.results) return undefined;
  return Math.ceil((figures.results / figures.seconds) * (figures.modelLatencyMs / 1000));
}

/** The concurrency for the next minute, from this one's figures (undefined: the minute is missing). */
export function nextConcurrency(state: AutopilotState, figures: MinuteFigures | undefined): Decision {
  const ceiling = Math.max(AUTOPILOT.minimum, state.ceiling);
  const current = Math.min(Math.max(state.concurrency, AUTOPILOT.minimum), ceiling);
  if (current !== state.concurrency) {
    return { kind: current < state.concurrency ? 'cut' : 'raise', concurrency: current, reason: `brought within ${AUTOPILOT.minimum} to ${ceiling} (the ceiling)`, cause: 'bounds' };
  }
  if (!figures) return { kind: 'hold', concurrency: current, reason: 'no figures for the last minute' };
  const calls = figures.results + figures.throttled;
  const throttledShare = calls ? figures.throttled / calls : 0;
  if (throttledShare > AUTOPILOT.throttleThreshold) {
    // Throttled calls are counted when the invocation that made them ends, up to THROTTLED_WAIT_MS
    // and a model call later: until an interval begins that late after the last cut, it still shows
    // the throttling before the cut. One cut per round trip, as TCP cuts.
    if (state.sinceLastCutSeconds !== undefined && figures.seconds && state.sinceLastCutSeconds < figures.seconds + countingLagSeconds(figures)) {
      return { kind: 'hold', concurrency: current, reason: `${percent(throttledShare)} of calls throttled, counted partly before the last cut: holding` };
    }
    // To what the answers show fits (one less when they show all of it fits: the throttling is at
    // the margin); by the cut factor when that cannot be measured.
    const fit = callsThatFit(figures);
    const target = fit === undefined ? Math.floor(current * AUTOPILOT.cutFactor) : Math.min(fit, current - 1);
    const cut = Math.max(AUTOPILOT.minimum, target);
    const how = fit === undefined ? `cut ${percent(1 - AUTOPILOT.cutFactor)}` : `cut to ${cut}, what the answers show fits,`;
    if (cut < current) return { kind: 'cut', concurrency: cut, reason: `${how} after ${percent(throttledShare)} of calls throttled`, cause: 'throttled', figure: Math.round(throttledShare * 1000) / 1000 };
    return { kind: 'hold', concurrency: current, reason: `${percent(throttledShare)} of calls throttled, at the minimum already` };
  }
  if (figures.backlog > 0 && figures.throttled === 0 && figures.inFlight >= current) {
    const raised = Math.min(ceiling, current + AUTOPILOT.raiseStep);
    if (raised > current) return { kind: 'raise', concurrency: raised, reason: `raised by ${raised - current}: ${figures.backlog} waiting, no throttling, every slot busy`, cause: 'backlog', figure: figures.backlog };
    return { kind: 'hold', concurrency: current, reason: 'at the ceiling' };
  }
  return { kind: 'hold', concurrency: current, reason: figures.backlog > 0 ? 'slots free or throttling seen' : 'no backlog' };
}
