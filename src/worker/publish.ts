import { ChangeMessageVisibilityBatchCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { REQUEUE_ATTRIBUTES, type ResultRecord } from '../contract.js';
import { fitJson } from './fit-json.js';
import { writeLogLine } from './metrics.js';

/** SQS limits: 10 entries and 1 MiB per batch, 1 MiB per message. */
const MAX_ENTRIES = 10;
const MAX_BATCH_BYTES = 1024 * 1024;
const MAX_MESSAGE_BYTES = 1024 * 1024 - 1024;

/** The JSON of a result within `maxBytes`, its output cut and `flag` set when it would not fit. */
export function fitResult(result: ResultRecord, maxBytes: number, flag: Partial<ResultRecord>): string {
  return fitJson(result, ['output'], maxBytes, flag);
}

/** The JSON of a result, its output cut (and flagged) if it would not fit in one SQS message. */
export function serializeResult(result: ResultRecord): string {
  return fitResult(result, MAX_MESSAGE_BYTES, { outputTruncated: true });
}

/** Publishes results (each its JSON, as `body`) with SendMessageBatch; returns the ids of the results that could not be published. */
export async function publishResults(sqs: SQSClient, queueUrl: string, results: { id: string; body: string }[]): Promise<Set<string>> {
  const unpublished = new Set<string>();
  const batches: { id: string; body: string }[][] = [];
  let current: { id: string; body: string }[] = [];
  let bytes = 0;
  for (const { id, body } of results) {
    const size = Buffer.byteLength(body);
    if (current.length === MAX_ENTRIES || bytes + size > MAX_BATCH_BYTES) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push({ id, body });
    bytes += size;
  }
  if (current.length) batches.push(current);

  await Promise.all(batches.map(async (batch) => {
    try {
      const response = await sqs.send(new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: batch.map((entry, i) => ({ Id: String(i), MessageBody: entry.body })),
      }));
      for (const failed of response.Failed ?? []) unpublished.add(batch[Number(failed.Id)]!.id);
    } catch {
      for (const entry of batch) unpublished.add(entry.id);
    }
  }));
  return unpublished;
}

/**
 * Errors an operator fixes (model access, a policy just rewritten by `up --model`, a model not yet
 * offered): AWS says AccessDenied can last minutes after the fix, so these attempts are spread over
 * minutes (15 s doubling: about 4 minutes over the default 5 attempts) rather than seconds.
 */
export const OPERATOR_FIXABLE_ERRORS = new Set(['AccessDeniedException', 'ResourceNotFoundException']);

export function retryDelaySeconds(code: string, attempt: number, random: () => number = Math.random): number {
  if (!OPERATOR_FIXABLE_ERRORS.has(code)) return backoffSeconds(attempt, random);
  return Math.min(300, 15 * 2 ** Math.max(0, attempt - 1));
}

/** Seconds before a failed request comes back: doubling from 2 s with the attempt, up to 5 minutes, half of it random. */
export function backoffSeconds(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(300, 2 * 2 ** Math.max(0, attempt - 1));
  return Math.max(1, Math.round(ceiling / 2 + random() * (ceiling / 2)));
}

/** Groups items by queue, then cuts each group into SQS batches of at most 10. */
function batchesPerQueue<T extends { queueUrl: string }>(items: T[]): [string, T[]][] {
  const byQueue = new Map<string, T[]>();
  for (const item of items) byQueue.set(item.queueUrl, [...(byQueue.get(item.queueUrl) ?? []), item]);
  return [...byQueue].flatMap(([queueUrl, group]) =>
    Array.from({ length: Math.ceil(group.length / MAX_ENTRIES) }, (_, i) => [queueUrl, group.slice(i * MAX_ENTRIES, (i + 1) * MAX_ENTRIES)] as [string, T[]]));
}

/** The queue URL of an SQS event source ARN (arn:aws:sqs:region:account:name). */
export function queueUrlOf(arn: string): string {
  const [, partition, , region, account, name] = arn.split(':');
  const domain = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${domain}/${account}/${name}`;
}

/**
 * Shortens the visibility of requests that failed, so they come back after their backoff rather than
 * after the whole visibility timeout. A failure here only delays the retry: nothing is lost.
 */
export async function delayRetries(sqs: SQSClient, retries: { queueUrl: string; receiptHandle: string; seconds: number }[]): Promise<void> {
  const calls = batchesPerQueue(retries).map(([queueUrl, chunk]) => sqs.send(new ChangeMessageVisibilityBatchCommand({
    QueueUrl: queueUrl,
    Entries: chunk.map((e, j) => ({ Id: String(j), ReceiptHandle: e.receiptHandle, VisibilityTimeout: e.seconds })),
  })));
  const settled = await Promise.allSettled(calls);
  for (const s of settled) {
    if (s.status === 'rejected') writeLogLine({ level: 'warn', message: 'could not shorten the visibility of failed requests; they return after the visibility timeout', error: String(s.reason) });
  }
}

/**
 * Seconds before a throttled request comes back: 1 or 2 the first time, then 1 to 3, at random.
 * Short on purpose: capacity under a quota comes back at moments nobody announces, and only requests
 * that are ready then can take it (BENCHMARKS.md). The mapping's maximum concurrency, not this delay,
 * bounds how many throttled calls a backlog makes.
 */
export function throttleDelaySeconds(throttles: number, random: () => number = Math.random): number {
  const most = Math.min(3, Math.max(1, throttles) + 1);
  return Math.min(most, 1 + Math.floor(random() * most));
}

export interface Requeue {
  queueUrl: string;
  body: string;
  requestId: string;
  queuedAt: number;
  throttles: number;
}

/**
 * Puts throttled requests back on the queue as new, delayed messages that carry their id, so that
 * throttling never counts towards maxReceiveCount: under a quota below the offered load, requests
 * wait for capacity instead of reaching the DLQ. Returns the request ids that could not be re-queued.
 */
export async function requeue(sqs: SQSClient, requests: Requeue[]): Promise<Set<string>> {
  const failed = new Set<string>();
  const calls = batchesPerQueue(requests).map(async ([queueUrl, chunk]) => {
    try {
      const response = await sqs.send(new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((r, j) => ({
          Id: String(j),
          MessageBody: r.body,
          DelaySeconds: throttleDelaySeconds(r.throttles),
          MessageAttributes: {
            [REQUEUE_ATTRIBUTES.requestId]: { DataType: 'String', StringValue: r.requestId },
            [REQUEUE_ATTRIBUTES.queuedAt]: { DataType: 'Number', StringValue: String(r.queuedAt) },
            [REQUEUE_ATTRIBUTES.throttles]: { DataType: 'Number', StringValue: String(r.throttles) },
          },
        })),
      }));
      for (const f of response.Failed ?? []) failed.add(chunk[Number(f.Id)]!.requestId);
    } catch {
      for (const r of chunk) failed.add(r.requestId);
    }
  });
  await Promise.all(calls);
  return failed;
}
