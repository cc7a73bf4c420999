/**
 * The worker's decisions as a table: for each outcome of a model call, whether its result is
 * published, whether the request is put back as a delayed copy, gets a final error, or is tried
 * again by SQS (and after how long) — a pure function of the outcomes, the configuration and the time.
 */
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { ResultRecord } from '../../src/contract.js';
import type { WorkerConfig } from '../../src/worker/config.js';
import { claimsToGiveBack, endBatch, MAX_THROTTLED_WAIT_MS, planBatch, toPublish } from '../../src/worker/decide.js';
import type { Outcome } from '../../src/worker/record.js';

const NOW = Date.UTC(2026, 11, 3, 12);
const HOUR = 3_600_000;
const config: WorkerConfig = {
  resultsQueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/demo-results', resultsTable: 'demo-results', resultsTtlSeconds: 604_800,
  modelId: 'm', defaultMaxTokens: 1024, logText: false, recordConcurrency: 4, maxReceiveCount: 5, deadLetterQueue: 'demo-requests-dlq', stack: 'demo',
};

function sqsRecord(id: string, receives: number, queuedAgoMs: number): SQSRecord {
  return {
    messageId: id, receiptHandle: `rh-${id}`, body: '{"prompt":"p"}', messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:demo-requests', awsRegion: 'us-east-1',
    attributes: { ApproximateReceiveCount: String(receives), SentTimestamp: String(NOW - queuedAgoMs), SenderId: 'AROA', ApproximateFirstReceiveTimestamp: String(NOW - queuedAgoMs) },
  };
}

const answered = (id: string, receives = 1): Outcome => ({
  kind: 'result', record: sqsRecord(id, receives, HOUR), modelCalled: true,
  result: { id, model: 'm', attempt: receives, status: 'ok', output: 'o', latencyMs: 5, completedAt: new Date(NOW).toISOString() } as ResultRecord,
});
const failed = (id: string, code: string, receives: number, queuedAgoMs = HOUR): Outcome => ({
  kind: 'retry', record: sqsRecord(id, receives, queuedAgoMs), attempt: receives, code, message: `${code} happened`, latencyMs: 7, modelCalled: true,
});

interface Row {
  case: string;
  outcome: Outcome;
  config?: Partial<WorkerConfig>;
  /** The I/O's answers: the result was not published or stored; the delayed copy could not be sent. */
  unpublished?: boolean;
  notRequeued?: boolean;
  want: { published: 'answer' | 'final error' | 'nothing'; requeued: boolean; retryAfter: number | 'none'; ended: boolean };
}

// Math.random is 0.5: backoff is 3/4 of its ceiling (2 s doubling); operator-fixable errors wait 15 s doubling.
const ROWS: Row[] = [
  { case: 'an answer, published and stored', outcome: answered('a'), want: { published: 'answer', requeued: false, retryAfter: 'none', ended: true } },
  { case: 'an answer the results queue or store did not take', outcome: answered('b', 2), unpublished: true, want: { published: 'answer', requeued: false, retryAfter: 3, ended: false } },
  { case: 'a network error on the first receive', outcome: failed('c', 'NetworkError', 1), want: { published: 'nothing', requeued: false, retryAfter: 2, ended: false } },
  { case: 'a network error on the last receive', outcome: failed('d', 'NetworkError', 5), want: { published: 'final error', requeued: false, retryAfter: 24, ended: true } },
  { case: 'access denied (an operator must fix it)', outcome: failed('e', 'AccessDeniedException', 2), want: { published: 'nothing', requeued: false, retryAfter: 30, ended: false } },
  { case: 'throttled, queued an hour ago', outcome: failed('f', 'ThrottlingException', 5), want: { published: 'nothing', requeued: true, retryAfter: 'none', ended: false } },
  { case: 'throttled, but the delayed copy was not sent', outcome: failed('g', 'ThrottlingException', 1), notRequeued: true, want: { published: 'nothing', requeued: false, retryAfter: 2, ended: false } },
  { case: 'throttled for over a day, on the last receive', outcome: failed('h', 'ServiceQuotaExceededException', 5, MAX_THROTTLED_WAIT_MS + HOUR), want: { published: 'final error', requeued: false, retryAfter: 24, ended: true } },
  { case: 'a last receive with no maxReceiveCount known', outcome: failed('i', 'NetworkError', 9), config: { maxReceiveCount: undefined }, want: { published: 'nothing', requeued: false, retryAfter: 225, ended: false } },
];

describe('the worker decides, from the outcomes, the configuration and the time', () => {
  it.each(ROWS)('$case', (row) => {
    const id = row.outcome.kind === 'result' ? row.outcome.result.id : row.outcome.record.messageId;
    const plan = planBatch([row.outcome], { ...config, ...row.config }, NOW);
    const result = plan.results[0];
    const published = !result ? 'nothing' : result.final ? 'final error' : 'answer';
    const end = endBatch([row.outcome], plan, new Set(row.notRequeued ? [id] : []), new Set(row.unpublished ? [id] : []), () => 0.5);
    expect({
      published,
      requeued: end.requeued.has(row.outcome),
      retryAfter: end.retries[0]?.seconds ?? 'none',
      ended: end.ended.has(id),
    }).toEqual(row.want);
    expect((plan.requeue as Outcome[]).includes(row.outcome)).toBe(row.want.requeued || !!row.notRequeued);
  });

  it('writes a final error at the time it is given, naming the DLQ', () => {
    const { results } = planBatch([failed('d', 'NetworkError', 5)], config, NOW);
    expect(results).toEqual([{
      id: 'd', model: 'm', attempt: 5, queuedAt: new Date(NOW - HOUR).toISOString(), status: 'error', latencyMs: 7,
      completedAt: new Date(NOW).toISOString(), error: { code: 'NetworkError', message: 'NetworkError happened' }, final: true, deadLetterQueue: 'demo-requests-dlq',
    }]);
  });

  it('keeps a batch\'s outcomes apart: one failure does not hold back the others', () => {
    const outcomes = [answered('a'), failed('c', 'NetworkError', 1), failed('f', 'ThrottlingException', 1)];
    const plan = planBatch(outcomes, config, NOW);
    const end = endBatch(outcomes, plan, new Set(), new Set(), () => 0.5);
    expect(plan.results.map((r) => r.id)).toEqual(['a']);
    expect(end.retries.map((r) => r.outcome.record.messageId)).toEqual(['c']);
    expect([...end.requeued].map((o) => o.record.messageId)).toEqual(['f']);
    expect([...end.ended.keys()]).toEqual(['a']);
  });
});

describe('after the store has answered', () => {
  const claimed = <T extends Outcome>(o: T): T => ({ ...o, claim: `claim-${o.record.messageId}` });

  it('publishes what the store holds, a final error the store refused all the same, and the answers duplicates found', () => {
    const outcomes: Outcome[] = [answered('a'), answered('b'), failed('d', 'NetworkError', 5),
      { kind: 'stored', record: sqsRecord('s', 2, HOUR), result: { id: 's' } as ResultRecord, text: '{"id":"s"}', modelCalled: false }];
    const plan = planBatch(outcomes, config, NOW);
    // a is stored as ours; b met an ok stored by another (its JSON wins); d's final error was refused.
    const bodies = toPublish(outcomes, plan, new Map([['a', 'A'], ['b', 'B-stored']]));
    expect(bodies.map((b) => b.id)).toEqual(['a', 'b', 'd', 's']);
    expect(bodies.filter((b) => b.id !== 'd').map((b) => b.body)).toEqual(['A', 'B-stored', '{"id":"s"}']);
    expect(JSON.parse(bodies.find((b) => b.id === 'd')!.body)).toMatchObject({ id: 'd', status: 'error', final: true });
  });

  it('gives back the claims of requests that come back, and no other', () => {
    const outcomes: Outcome[] = [claimed(answered('stored')), claimed(answered('refused')), claimed(failed('failed', 'NetworkError', 1)), failed('unclaimed', 'NetworkError', 1)];
    expect(claimsToGiveBack(outcomes, new Map([['stored', '{}']]))).toEqual([
      { id: 'refused', claim: 'claim-refused' }, { id: 'failed', claim: 'claim-failed' },
    ]);
  });
});

