import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MAX_STORED_RECORD_BYTES, RESULT_ITEM, type ResultRecord } from '../contract.js';
import { fitResult, serializeResult } from './publish.js';

/** The record as the store keeps it: the results queue's JSON, or, above DynamoDB's item size, its output cut with `"truncated": true`. */
export function storedRecord(result: ResultRecord): string {
  const queued = serializeResult(result);
  return Buffer.byteLength(queued) <= MAX_STORED_RECORD_BYTES ? queued : fitResult(result, MAX_STORED_RECORD_BYTES, { truncated: true });
}

/** The PutItem that stores one result; a duplicate delivery never replaces an `ok` with an error. */
export function putResult(table: string, result: ResultRecord, ttlSeconds: number, now = Date.now()) {
  return new PutItemCommand({
    TableName: table,
    Item: {
      [RESULT_ITEM.key]: { S: result.id },
      [RESULT_ITEM.status]: { S: result.status },
      [RESULT_ITEM.record]: { S: storedRecord(result) },
      [RESULT_ITEM.expiresAt]: { N: String(Math.floor(now / 1000) + ttlSeconds) },
    },
    ConditionExpression: 'attribute_not_exists(#id) OR #status <> :ok',
    ExpressionAttributeNames: { '#id': RESULT_ITEM.key, '#status': RESULT_ITEM.status },
    ExpressionAttributeValues: { ':ok': { S: 'ok' } },
  });
}

/** Stores results in the table; returns the ids that could not be stored (their requests are tried again). */
export async function storeResults(dynamo: DynamoDBClient, table: string, ttlSeconds: number, results: ResultRecord[]): Promise<Set<string>> {
  const unstored = new Set<string>();
  await Promise.all(results.map(async (result) => {
    try {
      await dynamo.send(putResult(table, result, ttlSeconds));
    } catch (err) {
      // The condition failed: an `ok` is stored already, which this error result must not replace.
      if ((err as Error).name !== 'ConditionalCheckFailedException') unstored.add(result.id);
    }
  }));
  return unstored;
}
