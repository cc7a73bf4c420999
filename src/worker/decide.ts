import type { ResultRecord } from '../contract.js';
import type { WorkerConfig } from './config.js';
import { backoffSeconds, retryDelaySeconds, serializeResult } from './publish.js';
import { CLAIMED_ELSEWHERE, finalError, queuedAtOf, receiveCountOf, requestIdOf, THROTTLING_ERRORS, type Outcome } from './record.js';

/**
 * What the worker does with a batch's outcomes, as functions of the outcomes, the configuration
 * and the time: the handler performs the I/O these decide, and nothing else.
 */

export type Retry = Extract<Outcome, { kind: 'retry' }>;

/** A request still throttled this long after it was queued takes the normal retry path, towards the DLQ. */
export const MAX_THROTTLED_WAIT_MS = 24 * 3600 * 1000;

export interface BatchPlan {
  /** Results to publish and store: every answer, and a final error for each request on its last try. */
  results: ResultRecord[];
  /** Requests whose last call was throttled: put back on the queue as delayed copies. */
  requeue: Retry[];
}

/**
 * A request whose last call was throttled goes back as a delayed copy (until it has waited a day).
 * On its last receive a request that failed otherwise gets an error result now: SQS moves it to the
 * DLQ next, and nothing ends silently.
 */
export function planBatch(outcomes: Outcome[], config: WorkerConfig, now: number): BatchPlan {
  const retries = outcomes.filter((o): o is Retry => o.kind === 'retry');
  const requeue = retries.filter((o) => THROTTLING_ERRORS.has(o.code) && !(now - queuedAtOf(o.record) >= MAX_THROTTLED_WAIT_MS));
  // A request another invocation is answering gets no final error: that one answers it.
  const lastTries = retries.filter((o) => !requeue.includes(o) && o.code !== CLAIMED_ELSEWHERE && config.maxReceiveCount !== undefined && receiveCountOf(o.record) >= config.maxReceiveCount);
  return {
    results: [
      ...outcomes.flatMap((o) => (o.kind === 'result' ? [o.result] : [])),
      ...lastTries.map((o) => finalError(o, config, now)),
    ],
    requeue,
  };
}

/**
 * What the results queue gets once the store has answered (`stored`: by id, the JSON it holds):
 * each stored result; a final error the store did not take, all the same, so that it is not lost
 * as its request moves to the DLQ; and the stored answers that duplicate deliveries found.
 */
export function toPublish(outcomes: Outcome[], plan: BatchPlan, stored: Map<string, string>): { id: string; body: string }[] {
  return [
    ...plan.results.flatMap((r) => {
      const body = stored.get(r.id) ?? (r.final ? serializeResult(r) : undefined);
      return body === undefined ? [] : [{ id: r.id, body }];
    }),
    ...outcomes.flatMap((o) => (o.kind === 'stored' ? [{ id: o.result.id, body: o.text }] : [])),
  ];
}

/** Claims of requests that come back are given back; a stored result replaced its claim already. */
export function claimsToGiveBack(outcomes: Outcome[], stored: Map<string, string>): { id: string; claim: string }[] {
  return outcomes.flatMap((o) => (o.kind !== 'stored' && o.claim && (o.kind === 'retry' || !stored.has(o.result.id))
    ? [{ id: requestIdOf(o.record), claim: o.claim }] : []));
}

export interface BatchEnd {
  /** Requests tried again by SQS, each after `seconds` (its shortened visibility): the batch item failures. */
  retries: { outcome: Outcome; seconds: number }[];
  /** The outcomes put back as delayed copies. */
  requeued: Set<Outcome>;
  /** The results both published and stored, by request id: those requests are done. */
  ended: Map<string, ResultRecord>;
}

/**
 * After the I/O: a result is done once both the results queue and the store hold it (`unpublished`
 * names those that are not); a request neither done nor re-queued is tried again, after a delay
 * that grows with its attempts (longer for what an operator must fix).
 */
export function endBatch(outcomes: Outcome[], plan: BatchPlan, notRequeued: Set<string>, unpublished: Set<string>, random: () => number = Math.random): BatchEnd {
  const requeued = new Set<Outcome>(plan.requeue.filter((o) => !notRequeued.has(requestIdOf(o.record))));
  const failed = outcomes.filter((o) => (o.kind === 'retry' && !requeued.has(o)) || unpublished.has(requestIdOf(o.record)));
  return {
    retries: failed.map((outcome) => ({
      outcome,
      seconds: outcome.kind === 'retry' ? outcome.waitSeconds ?? retryDelaySeconds(outcome.code, outcome.attempt, random) : backoffSeconds(outcome.result.attempt, random),
    })),
    requeued,
    ended: new Map(plan.results.filter((r) => !unpublished.has(r.id)).map((r) => [r.id, r])),
  };
}
