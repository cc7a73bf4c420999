/**
 * One model call per request, whatever happens around it: copies delivered at once, a crash between
 * the claim and the model call, a store write throttled, a publish that fails. The results table
 * behind the mocked client is the local target's (the same conditional writes DynamoDB evaluates).
 */
import { ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { ConditionalCheckFailedException, GetItemCommand, ProvisionedThroughputExceededException, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { beforeEach, describe, expect, it } from 'vitest';
import { CLAIMED_STATUS, RESULT_ITEM } from '../../src/contract.js';
import { ResultsStore } from '../../src/local/services/results-store.js';
import { handler } from '../../src/worker/index.js';
import { subscribeUpdate } from '../../src/stream-contract.js';
import { bedrock, context, dynamodb, echo, event, published, record, sqs, useWorkerFixture } from '../helpers/worker-fixture.js';

useWorkerFixture();

let table: ResultsStore;
const modelCalls = () => bedrock.commandCalls(ConverseCommand).length;
const itemOf = (id: string) => table.all().find((i) => (i[RESULT_ITEM.key] as { S?: string }).S === id);

/** The mocked DynamoDB client answers from a real conditional store, with DynamoDB's exception classes. */
function storeBehindTheClient() {
  table = new ResultsStore('demo-results', RESULT_ITEM.key);
  const actions = table.actions();
  const call = (name: string) => async (input: Record<string, unknown>) => {
    try {
      return await actions[name]!(input);
    } catch (err) {
      if ((err as { code?: string }).code === 'ConditionalCheckFailedException') throw new ConditionalCheckFailedException({ message: (err as Error).message, $metadata: {} });
      throw err;
    }
  };
  dynamodb.on(PutItemCommand).callsFake(call('PutItem'));
  dynamodb.on(UpdateItemCommand).callsFake(call('UpdateItem'));
  dynamodb.on(GetItemCommand).callsFake(call('GetItem'));
}

/** A model that answers after `ms`, so that copies overlap. */
function slowModel(ms: number) {
  bedrock.on(ConverseCommand).callsFake(async (input) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return echo(input);
  });
}

describe('one model call per request', () => {
  beforeEach(() => storeBehindTheClient());

  it('two copies delivered at once: one calls the model, the other yields, then publishes the stored answer', async () => {
    slowModel(100);
    const [first, second] = await Promise.all([
      handler(event(record('m1', { prompt: 'once' })), context()),
      handler(event(record('m1', { prompt: 'once' })), context()),
    ]);
    expect(modelCalls()).toBe(1);
    // One copy answered; the other comes back when the claim would end, not sooner.
    expect([first.batchItemFailures, second.batchItemFailures].filter((f) => f.length)).toEqual([[{ itemIdentifier: 'm1' }]]);
    const delays = sqs.commandCalls(SendMessageBatchCommand).length;
    expect(delays).toBe(1);
    // The copy comes back: the answer is stored, so it is published again and the model is not called.
    const again = await handler(event(record('m1', { prompt: 'once' }, 2)), context());
    expect(again.batchItemFailures).toEqual([]);
    expect(modelCalls()).toBe(1);
    const bodies = sqs.commandCalls(SendMessageBatchCommand).flatMap((c) => c.args[0].input.Entries!.map((e) => e.MessageBody));
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).toBe(bodies[0]);
  });

  it('a claim left by a crashed invocation is taken over once it expires, and only then', async () => {
    const claimedBy = (leaseUntil: number) => table.restore({ id: { S: 'm2' }, status: { S: CLAIMED_STATUS }, leaseUntil: { N: String(leaseUntil) }, leaseToken: { S: 'crashed' }, expiresAt: { N: '9999999999' } });
    claimedBy(Date.now() + 30_000);
    const live = await handler(event(record('m2', { prompt: 'p' })), context());
    expect(live.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
    expect(modelCalls()).toBe(0);
    claimedBy(Date.now() - 1);
    const expired = await handler(event(record('m2', { prompt: 'p' }, 2)), context());
    expect(expired.batchItemFailures).toEqual([]);
    expect(modelCalls()).toBe(1);
    expect(published().get('m2')!.status).toBe('ok');
  });

  it('a store write throttled once is tried again in the invocation: one model call, one result', async () => {
    let throttled = 0;
    const put = table.actions().PutItem!;
    dynamodb.on(PutItemCommand).callsFake(async (input) => {
      if (!throttled++) throw new ProvisionedThroughputExceededException({ message: 'The level of configured provisioned throughput for the table was exceeded.', $metadata: {} });
      return put(input);
    });
    const response = await handler(event(record('m3', { prompt: 'p' })), context());
    expect(response.batchItemFailures).toEqual([]);
    expect(modelCalls()).toBe(1);
    expect(JSON.parse(table.text('m3', RESULT_ITEM.record)!)).toMatchObject({ id: 'm3', status: 'ok' });
  });

  it('a publish that fails is tried again without calling the model again', async () => {
    sqs.on(SendMessageBatchCommand).rejectsOnce(Object.assign(new Error('socket hang up'), { name: 'NetworkingError' }))
      .callsFake((input) => ({ Successful: input.Entries.map((e: { Id: string }) => ({ Id: e.Id, MessageId: `r-${e.Id}`, MD5OfMessageBody: '' })), Failed: [] }));
    const first = await handler(event(record('m4', { prompt: 'p' })), context());
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'm4' }]);
    const second = await handler(event(record('m4', { prompt: 'p' }, 2)), context());
    expect(second.batchItemFailures).toEqual([]);
    expect(modelCalls()).toBe(1);
    expect(published().get('m4')!.output).toBe('echo: p');
  });

  it('a failed model call gives its claim back, so the next delivery calls at once', async () => {
    bedrock.on(ConverseCommand).rejectsOnce(Object.assign(new Error('read ECONNRESET'), { name: 'Error' })).callsFake(echo);
    const first = await handler(event(record('m5', { prompt: 'p' })), context());
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'm5' }]);
    expect(itemOf('m5')).toEqual({ id: { S: 'm5' }, status: { S: CLAIMED_STATUS }, expiresAt: expect.anything() });
    const second = await handler(event(record('m5', { prompt: 'p' }, 2)), context());
    expect(second.batchItemFailures).toEqual([]);
    expect(modelCalls()).toBe(2);
  });

  it('readers see a claimed request as pending: the claim carries no record', async () => {
    slowModel(50);
    const running = handler(event(record('m6', { prompt: 'p' })), context());
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(table.text('m6', RESULT_ITEM.record)).toBeUndefined();
    expect(itemOf('m6')?.status).toEqual({ S: CLAIMED_STATUS });
    await running;
    expect(JSON.parse(table.text('m6', RESULT_ITEM.record)!)).toMatchObject({ status: 'ok' });
  });
});

describe('a request subscribed to before its claim', () => {
  it('is claimed and answered: the subscribe\'s item (listeners only, no status) is no one\'s claim', async () => {
    storeBehindTheClient();
    // The conditions say so outright, whatever a comparison with a missing attribute gives.
    await table.actions().UpdateItem!(subscribeUpdate('demo-results', 'm9', 'conn=', 4102444800));
    await handler(event(record('m9', { prompt: 'subscribed first' })), context());
    expect(modelCalls()).toBe(1);
    expect(itemOf('m9')?.[RESULT_ITEM.status]).toEqual({ S: 'ok' });
    expect(dynamodb.commandCalls(UpdateItemCommand)[0]!.args[0].input.ConditionExpression).toContain('attribute_not_exists(#status)');
    expect(dynamodb.commandCalls(PutItemCommand)[0]!.args[0].input.ConditionExpression).toContain('attribute_not_exists(#status)');
  });
});

describe('the claim', () => {
  it('is one conditional UpdateItem, before the model call', async () => {
    storeBehindTheClient();
    await handler(event(record('m7', { prompt: 'p' })), context());
    const claim = dynamodb.commandCalls(UpdateItemCommand)[0]!.args[0].input;
    expect(claim).toMatchObject({
      TableName: 'demo-results',
      Key: { id: { S: 'm7' } },
      UpdateExpression: 'SET #status = :claimed, #lease = :until, #token = :token, #expires = :expires REMOVE #record',
      ConditionExpression: 'attribute_not_exists(#id) OR attribute_not_exists(#status) OR (#status <> :ok AND (attribute_not_exists(#lease) OR #lease < :now))',
    });
    // The store had the claim before the model was asked.
    expect(dynamodb.commandCalls(UpdateItemCommand)[0]!.calledBefore(bedrock.commandCalls(ConverseCommand)[0]! as never)).toBe(true);
  });
});
