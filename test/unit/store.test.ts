import { DynamoDBClient, GetItemCommand, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { readResult, waitForStoredResult } from '../../src/client/store.js';
import { ResultsStore } from '../../src/local/services/results-store.js';

const dynamoMock = mockClient(DynamoDBClient);
const source = { dynamodb: new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }), table: 'demo-results' };
const text = '{"id":"r1","status":"ok","output":"answer","model":"m","latencyMs":5,"attempt":1,"completedAt":"2026-11-25T09:00:00.000Z"}';

beforeEach(() => dynamoMock.reset());

describe('reading the results store', () => {
  it('reads one item, strongly consistent, projecting only the stored record, and returns its exact text', async () => {
    dynamoMock.on(GetItemCommand).resolves({ Item: { record: { S: text } } });
    expect(await readResult(source, 'r1')).toEqual({ record: JSON.parse(text), text });
    expect(dynamoMock.commandCalls(GetItemCommand).map((c) => c.args[0].input)).toEqual([{
      TableName: 'demo-results', Key: { id: { S: 'r1' } }, ProjectionExpression: '#record, #expires', ExpressionAttributeNames: { '#record': 'record', '#expires': 'expiresAt' }, ConsistentRead: true,
    }]);
  });

  it('takes a record past its expiresAt for gone, as if TTL had deleted it on time', async () => {
    const at = (seconds: number) => ({ Item: { record: { S: text }, expiresAt: { N: String(Math.floor(Date.now() / 1000) + seconds) } } });
    dynamoMock.on(GetItemCommand).resolvesOnce(at(-5)).resolvesOnce(at(3600));
    expect(await readResult(source, 'r1')).toBeUndefined();
    expect((await readResult(source, 'r1'))?.text).toBe(text);
  });

  it('the local results store says the same of an expired item, which it still returns to GetItem as DynamoDB does', () => {
    const store = new ResultsStore('demo-results', 'id');
    store.restore({ id: { S: 'old' }, record: { S: text }, expiresAt: { N: '1' } });
    store.restore({ id: { S: 'new' }, record: { S: text }, expiresAt: { N: String(Math.floor(Date.now() / 1000) + 3600) } });
    expect([store.expired('old', 'expiresAt'), store.expired('new', 'expiresAt')]).toEqual([true, false]);
    expect(store.text('old', 'record')).toBe(text);
  });

  it('says pending (undefined) when there is no item yet', async () => {
    dynamoMock.on(GetItemCommand).resolves({});
    expect(await readResult(source, 'r1')).toBeUndefined();
  });

  it('waits with polls from 250 ms doubling to 5 s, until the item is there', async () => {
    dynamoMock.on(GetItemCommand).resolves({}).resolvesOnce({}).resolvesOnce({}).resolvesOnce({}).resolvesOnce({}).resolvesOnce({}).resolvesOnce({})
      .resolvesOnce({ Item: { record: { S: text } } });
    const sleeps: number[] = [];
    const found = await waitForStoredResult(source, 'r1', { timeoutMs: 60_000, sleep: async (ms) => void sleeps.push(ms) });
    expect(found?.text).toBe(text);
    expect(sleeps).toEqual([250, 500, 1000, 2000, 4000, 5000]);
  });

  it('gives up when time runs out, and passes on an error DynamoDB answers', async () => {
    dynamoMock.on(GetItemCommand).resolves({});
    expect(await waitForStoredResult(source, 'r1', { timeoutMs: 0, sleep: async () => undefined })).toBeUndefined();
    dynamoMock.on(GetItemCommand).rejects(new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the current capacity of your table or index.', $metadata: {} }));
    await expect(waitForStoredResult(source, 'r1', { timeoutMs: 1_000, sleep: async () => undefined })).rejects.toThrow(/Throughput exceeds/);
  });
});
