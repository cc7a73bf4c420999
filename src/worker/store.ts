import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MAX_STORED_RECORD_BYTES, RESULT_ITEM, type ResultRecord } from '../contract.js';
import { readStored } from './claim.js';
import { fitResult, serializeResult } from './publish.js';

/** The record as the store keeps it: the results queue's JSON, or, above DynamoDB's item size, its output cut with `"truncated": true`. */
export function storedRecord(result: ResultRecord): string {
  const queued = serializeResult(result);
  return Buffer.byteLength(queued) <= MAX_STORED_RECORD_BYTES ? queued : fitResult(result, MAX_STORED_RECORD_BYTES, { truncated: true });
}

/**
 * The PutItem that stores one result; a duplicate delivery never replaces an `ok` with an error.
 * It answers with the item it replaced, whose `listeners` are the connections subscribed until
 * this moment: a later subscribe finds the record itself, so none is missed.
 */
export function putResult(table: string, result: ResultRecord, ttlSeconds: number, now = Date.now()) {
  return new PutItemCommand({
    ReturnValues: 'ALL_OLD',
    TableName: table,
    Item: {
      [RESULT_ITEM.key]: { S: result.id },
      [RESULT_ITEM.status]: { S: result.status },
      [RESULT_ITEM.record]: { S: storedRecord(result) },
      [RESULT_ITEM.expiresAt]: { N: String(Math.floor(now / 1000) + ttlSeconds) },
    },
    // An item with no status is a subscribe's (listeners only): said outright, not left to how a
    // comparison with a missing attribute comes out.
    ConditionExpression: 'attribute_not_exists(#id) OR attribute_not_exists(#status) OR #status <> :ok',
    ExpressionAttributeNames: { '#id': RESULT_ITEM.key, '#status': RESULT_ITEM.status },
    ExpressionAttributeValues: { ':ok': { S: 'ok' } },
  });
}

/** Errors worth another try within the invocation: a store write lost here costs a second model call later. */
const PASSING_ERRORS = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'InternalServerError']);
const STORE_TRIES = 3;
const storePause = (attempt: number) => new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));

async function withStoreRetries<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= STORE_TRIES || !PASSING_ERRORS.has((err as Error).name)) throw err;
      await storePause(attempt);
    }
  }
}

/** A record now in the store, with the connections subscribed to it until it was written. */
export type Heard = (id: string, stored: string, listeners: string[]) => void;

/**
 * Stores results, before anything is published: the store is the source of truth. Returns, by
 * id, the JSON the results queue gets: the result's own, or, when an `ok` is stored already (the
 * condition failed), the stored one, so that every reader sees one answer. An id missing was not
 * stored. `heard` learns each stored record and who was waiting for it.
 */
export async function storeResults(dynamo: DynamoDBClient, table: string, ttlSeconds: number, results: ResultRecord[], heard: Heard = () => undefined): Promise<Map<string, string>> {
  const toPublish = new Map<string, string>();
  await Promise.all(results.map(async (result) => {
    try {
      const replaced = await withStoreRetries(() => dynamo.send(putResult(table, result, ttlSeconds)));
      toPublish.set(result.id, serializeResult(result));
      heard(result.id, storedRecord(result), replaced?.Attributes?.[RESULT_ITEM.listeners]?.SS ?? []);
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') return;
      const stored = await readStored(dynamo, table, result.id).catch(() => undefined);
      if (stored?.text === undefined) return;
      toPublish.set(result.id, stored.text);
      heard(result.id, stored.text, []);
    }
  }));
  return toPublish;
}
