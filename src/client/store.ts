import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { isExpired, RESULT_ITEM, type ResultRecord } from '../contract.js';
import { waitFor, WaitTimeout } from '../waiter.js';
import { pause } from './pause.js';

export interface ResultsStoreSource {
  dynamodb: DynamoDBClient;
  table: string;
}

/** The stored record of one request, byte for byte as the worker wrote it; undefined while it is pending. */
export async function readResult(source: ResultsStoreSource, id: string, signal?: AbortSignal): Promise<{ record: ResultRecord; text: string } | undefined> {
  const { Item } = await source.dynamodb.send(new GetItemCommand({
    TableName: source.table,
    Key: { [RESULT_ITEM.key]: { S: id } },
    ProjectionExpression: '#record, #expires',
    ExpressionAttributeNames: { '#record': RESULT_ITEM.record, '#expires': RESULT_ITEM.expiresAt },
    ConsistentRead: true,
  }), { abortSignal: signal });
  const text = Item?.[RESULT_ITEM.record]?.S;
  if (text === undefined || isExpired(Item?.[RESULT_ITEM.expiresAt]?.N)) return undefined;
  return { record: JSON.parse(text) as ResultRecord, text };
}

export interface WaitOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const FIRST_POLL_MS = 250;
const MOST_POLL_MS = 5_000;

/**
 * Polls the store for one request's record, from 250 ms apart doubling to 5 s: each waiter reads
 * only its own item, so any number of them wait side by side. Undefined when time runs out.
 */
export async function waitForStoredResult(source: ResultsStoreSource, id: string, options: WaitOptions): Promise<{ record: ResultRecord; text: string } | undefined> {
  const sleep = options.sleep ?? pause;
  const { signal } = options;
  try {
    return await waitFor({ sleep: (ms) => sleep(ms, signal), note: () => {} }, {
      what: `the result of ${id}`,
      read: () => readResult(source, id, signal),
      done: (found) => found !== undefined,
      intervalMs: FIRST_POLL_MS, maxIntervalMs: MOST_POLL_MS, timeoutMs: options.timeoutMs, signal,
      reference: 'the --timeout given',
    });
  } catch (err) {
    // Out of time, or stopped (Ctrl-C): no result, said by the caller.
    if (err instanceof WaitTimeout || signal?.aborted) return undefined;
    throw err;
  }
}
