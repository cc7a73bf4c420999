import { randomUUID } from 'node:crypto';
import { GetItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CLAIMED_STATUS, RESULT_ITEM, type ResultRecord } from '../contract.js';

/**
 * What claiming a request in the results store found:
 * - `claimed`: this invocation may call the model (it holds the lease until `untilMs`); `listeners`
 *   are the WebSocket connections subscribed so far, which its answer is streamed to;
 * - `answered`: an `ok` is stored already: publish it, call nothing;
 * - `busy`: another invocation holds a live lease: yield until it ends.
 */
export type Claim =
  | { kind: 'claimed'; token: string; untilMs: number; listeners: string[] }
  | { kind: 'answered'; text: string; record: ResultRecord }
  | { kind: 'busy'; untilMs: number };

const NAMES = {
  '#id': RESULT_ITEM.key, '#status': RESULT_ITEM.status, '#record': RESULT_ITEM.record,
  '#lease': RESULT_ITEM.leaseUntil, '#token': RESULT_ITEM.leaseToken, '#expires': RESULT_ITEM.expiresAt,
};

/**
 * The conditional write that claims a request before its model call: the item is created, or taken
 * over when it holds no `ok` and no live lease (a crashed invocation's lease expires with its
 * timeout). It drops an earlier error record: while claimed, the request is pending to readers.
 */
export function claimCommand(table: string, id: string, token: string, untilMs: number, ttlSeconds: number, now: number) {
  return new UpdateItemCommand({
    TableName: table,
    Key: { [RESULT_ITEM.key]: { S: id } },
    UpdateExpression: 'SET #status = :claimed, #lease = :until, #token = :token, #expires = :expires REMOVE #record',
    // An item with no status is a subscribe's (listeners only, no lease): it is claimed as a new one.
    ConditionExpression: 'attribute_not_exists(#id) OR attribute_not_exists(#status) OR (#status <> :ok AND (attribute_not_exists(#lease) OR #lease < :now))',
    ReturnValues: 'ALL_NEW',
    ExpressionAttributeNames: NAMES,
    ExpressionAttributeValues: {
      ':claimed': { S: CLAIMED_STATUS }, ':ok': { S: 'ok' }, ':until': { N: String(untilMs) }, ':now': { N: String(now) },
      ':token': { S: token }, ':expires': { N: String(Math.floor(now / 1000) + ttlSeconds) },
    },
  });
}

/** The stored item of a request, read strongly: its record (when answered) and its lease. */
export async function readStored(dynamo: DynamoDBClient, table: string, id: string) {
  const { Item } = await dynamo.send(new GetItemCommand({ TableName: table, Key: { [RESULT_ITEM.key]: { S: id } }, ConsistentRead: true }));
  return {
    status: Item?.[RESULT_ITEM.status]?.S,
    text: Item?.[RESULT_ITEM.record]?.S,
    leaseUntil: Number(Item?.[RESULT_ITEM.leaseUntil]?.N ?? 0),
  };
}

/** Claims a request for this invocation, until `untilMs` (when the invocation ends). */
export async function claimRequest(dynamo: DynamoDBClient, table: string, id: string, untilMs: number, ttlSeconds: number, now = Date.now()): Promise<Claim> {
  const token = randomUUID();
  try {
    const claimed = await dynamo.send(claimCommand(table, id, token, untilMs, ttlSeconds, now));
    return { kind: 'claimed', token, untilMs, listeners: claimed?.Attributes?.[RESULT_ITEM.listeners]?.SS ?? [] };
  } catch (err) {
    if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
  }
  const stored = await readStored(dynamo, table, id);
  if (stored.status === 'ok' && stored.text !== undefined) return { kind: 'answered', text: stored.text, record: JSON.parse(stored.text) as ResultRecord };
  // A lease that ended between the write and the read is free again: the next delivery takes it.
  return { kind: 'busy', untilMs: Math.max(stored.leaseUntil, now) };
}

/**
 * Gives a claim back when its request will be tried again (a failed or throttled model call, a
 * result not stored), so that the next delivery need not wait for the lease to run out. Only our
 * own lease is removed; a failure here costs that wait, nothing else.
 */
export async function releaseClaim(dynamo: DynamoDBClient, table: string, id: string, token: string): Promise<void> {
  try {
    await dynamo.send(new UpdateItemCommand({
      TableName: table,
      Key: { [RESULT_ITEM.key]: { S: id } },
      UpdateExpression: 'REMOVE #lease, #token',
      ConditionExpression: '#token = :token',
      ExpressionAttributeNames: { '#lease': RESULT_ITEM.leaseUntil, '#token': RESULT_ITEM.leaseToken },
      ExpressionAttributeValues: { ':token': { S: token } },
    }));
  } catch {
    // Not ours any more, or the store is away: the lease runs out on its own.
  }
}

/** The connections subscribed to a request, as the store has them now (an eventually consistent read of that set only). */
export async function readListeners(dynamo: DynamoDBClient, table: string, id: string): Promise<string[]> {
  const { Item } = await dynamo.send(new GetItemCommand({
    TableName: table, Key: { [RESULT_ITEM.key]: { S: id } }, ProjectionExpression: '#l', ExpressionAttributeNames: { '#l': RESULT_ITEM.listeners },
  }));
  return Item?.[RESULT_ITEM.listeners]?.SS ?? [];
}
