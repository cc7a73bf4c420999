import { GetEventSourceMappingCommand, ResourceInUseException, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { ChangeMessageVisibilityBatchCommand, GetQueueUrlCommand, ListMessageMoveTasksCommand, ReceiveMessageCommand, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { changeMapping } from '../../src/operate/mapping.js';
import { StackLocator } from '../../src/operate/locate.js';
import { redrive, sampleQueue } from '../../src/operate/redrive.js';
import { openTarget } from '../../src/commands/session.js';
import { ACCOUNT, REGION, convergedAccount, emptyAccount, mockAws, mutatingCommands, resetMocks, sentCommands, session, type AccountState, type Mocks } from '../helpers/fake-aws.js';

let mocks: Mocks | undefined;
afterEach(() => {
  if (mocks) resetMocks(mocks);
  mocks = undefined;
});

async function open(state: AccountState = convergedAccount()) {
  mocks = mockAws(state);
  mocks.sqs.on(GetQueueUrlCommand).callsFake((input) => {
    if (!state.queues[input.QueueName!]) throw Object.assign(new Error('The specified queue does not exist.'), { name: 'QueueDoesNotExist' });
    return { QueueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${input.QueueName}` };
  });
  const s = await session();
  return { m: mocks, ctx: s.ctx, harness: s.harness };
}

const meta = { $metadata: { httpStatusCode: 409 } };
const dlqUrl = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/demo-requests-dlq`;

describe('set-concurrency, pause and resume', () => {
  it('waits out a transitional state, updates the concurrency in place, and waits until enabled again', async () => {
    const state = convergedAccount();
    state.mappings[0]!.State = 'Updating';
    const { m, ctx } = await open(state);
    m.lambda.on(GetEventSourceMappingCommand)
      .resolvesOnce({ UUID: 'esm-1', State: 'Updating', ScalingConfig: { MaximumConcurrency: 10 } })
      .resolvesOnce({ UUID: 'esm-1', State: 'Enabled', ScalingConfig: { MaximumConcurrency: 10 } })
      .resolvesOnce({ UUID: 'esm-1', State: 'Updating', ScalingConfig: { MaximumConcurrency: 25 } })
      .resolves({ UUID: 'esm-1', State: 'Enabled', ScalingConfig: { MaximumConcurrency: 25 } });
    m.lambda.on(UpdateEventSourceMappingCommand)
      .rejectsOnce(new ResourceInUseException({ message: 'Cannot update the event source mapping because it is in use.', ...meta }))
      .resolves({ UUID: 'esm-1', State: 'Updating' });
    const result = await changeMapping(ctx, { concurrency: 25 });
    expect(result).toEqual({ before: { state: 'Enabled', concurrency: 10 }, after: { state: 'Enabled', concurrency: 25 } });
    expect(m.lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input)).toEqual([
      { UUID: 'esm-1', ScalingConfig: { MaximumConcurrency: 25 } },
      { UUID: 'esm-1', ScalingConfig: { MaximumConcurrency: 25 } },
    ]);
  });

  it('pauses and resumes by disabling and enabling the mapping', async () => {
    const { m, ctx } = await open();
    m.lambda.on(GetEventSourceMappingCommand).resolvesOnce({ UUID: 'esm-1', State: 'Disabled', ScalingConfig: { MaximumConcurrency: 10 } });
    m.lambda.on(UpdateEventSourceMappingCommand).resolves({});
    const paused = await changeMapping(ctx, { enabled: false });
    expect(m.lambda.commandCalls(UpdateEventSourceMappingCommand)[0]!.args[0].input).toEqual({ UUID: 'esm-1', Enabled: false });
    expect(paused.after).toEqual({ state: 'Disabled', concurrency: 10 });
  });

  it('makes no call when the mapping already is as asked', async () => {
    const { m, ctx } = await open();
    await changeMapping(ctx, { enabled: true, concurrency: 10 });
    expect(mutatingCommands(m)).toEqual([]);
  });

  it('says how to deploy when the stack has no mapping', async () => {
    const { ctx } = await open(emptyAccount());
    await expect(changeMapping(ctx, { concurrency: 5 })).rejects.toThrow('Stack demo has no event source mapping from demo-requests to demo-worker in us-east-1: deploy it with "bedrock-queue up --name demo".');
  });
});

describe('redrive', () => {
  it('starts a message move task from the DLQ to the requests queue and waits for it to finish', async () => {
    const { m, ctx } = await open();
    m.sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-1' });
    m.sqs.on(ListMessageMoveTasksCommand)
      .resolvesOnce({ Results: [{ Status: 'RUNNING', ApproximateNumberOfMessagesMoved: 2, ApproximateNumberOfMessagesToMove: 5 }] })
      .resolves({ Results: [{ Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 5, ApproximateNumberOfMessagesToMove: 5 }] });
    const progress: number[] = [];
    const done = await redrive(ctx, (p) => progress.push(p.moved));
    expect(m.sqs.commandCalls(StartMessageMoveTaskCommand)[0]!.args[0].input).toEqual({
      SourceArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:demo-requests-dlq`, DestinationArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:demo-requests`,
    });
    expect(progress).toEqual([2, 5]);
    expect(done).toEqual({ status: 'COMPLETED', moved: 5, toMove: 5 });
  });

  it('reports a failed move task with its reason', async () => {
    const { m, ctx } = await open();
    m.sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-1' });
    m.sqs.on(ListMessageMoveTasksCommand).resolves({ Results: [{ Status: 'FAILED', ApproximateNumberOfMessagesMoved: 1, FailureReason: 'AWS.SimpleQueueService.NonExistentQueue' }] });
    expect(await redrive(ctx, () => {})).toEqual({ status: 'FAILED', moved: 1, toMove: 0, failureReason: 'AWS.SimpleQueueService.NonExistentQueue' });
  });

  it('samples the DLQ for a dry run and releases the messages at once', async () => {
    const state = convergedAccount();
    state.queues['demo-requests-dlq']!.attributes.ApproximateNumberOfMessages = '2';
    const { m, ctx } = await open(state);
    m.sqs.on(ReceiveMessageCommand).resolves({ Messages: [
      { MessageId: 'a', ReceiptHandle: 'rh-a', Body: '{"prompt":"one"}', Attributes: { ApproximateReceiveCount: '5' } },
      { MessageId: 'b', ReceiptHandle: 'rh-b', Body: '{"prompt":"two"}', Attributes: { ApproximateReceiveCount: '6' } },
    ] });
    const sample = await sampleQueue(ctx, dlqUrl);
    expect(sample).toEqual({ count: 2, messages: [{ id: 'a', body: '{"prompt":"one"}', receiveCount: 5 }, { id: 'b', body: '{"prompt":"two"}', receiveCount: 6 }] });
    expect(m.sqs.commandCalls(ChangeMessageVisibilityBatchCommand)[0]!.args[0].input).toEqual({
      QueueUrl: dlqUrl, Entries: [{ Id: '0', ReceiptHandle: 'rh-a', VisibilityTimeout: 0 }, { Id: '1', ReceiptHandle: 'rh-b', VisibilityTimeout: 0 }],
    });
  });
});

describe('finding a deployed stack', () => {
  it('finds the invoke URL and the API key value', async () => {
    const { ctx } = await open();
    expect(await new StackLocator(ctx).api()).toEqual({ invokeUrl: `https://api123.execute-api.${REGION}.amazonaws.com/prod/invokeModel`, apiKey: 'value-of-key1' });
  });

  it('send makes two AWS calls before its POST: GetRestApis and GetApiKeys (no STS, no GetApiKey)', async () => {
    mocks = mockAws(convergedAccount());
    const target = await openTarget({ name: 'demo', region: REGION, json: true, yes: false, local: false }, true);
    expect(await target.api()).toMatchObject({ apiKey: 'value-of-key1' });
    expect(sentCommands(mocks).sort()).toEqual(['apigateway:GetApiKeys', 'apigateway:GetRestApis']);
  });

  it('finds the WebSocket API and its key for the commands that wait (send --wait, result --wait), and none that is not the stack\'s', async () => {
    mocks = mockAws(convergedAccount());
    const target = await openTarget({ name: 'demo', region: REGION, json: true, yes: false, local: false }, true);
    await target.api();
    expect(await target.websocket()).toEqual({ websocketUrl: `wss://ws123.execute-api.${REGION}.amazonaws.com/prod`, apiKey: 'value-of-key1' });
    // send --wait posts, then opens the socket: the key is read once for both.
    expect(sentCommands(mocks).sort()).toEqual(['apigateway:GetApiKeys', 'apigateway:GetRestApis', 'apigatewayv2:GetApis']);
    const foreign = convergedAccount();
    foreign.websocketApis[0]!.Tags = { 'bedrock-queue:stack': 'other' };
    resetMocks(mocks);
    mocks = mockAws(foreign);
    expect(await (await openTarget({ name: 'demo', region: REGION, json: true, yes: false, local: false }, true)).websocket()).toBeUndefined();
  });

  it('under an emulator, names no WebSocket API (moto serves none, and nothing may reach AWS): callers poll', async () => {
    mocks = mockAws(convergedAccount());
    const target = await openTarget({ name: 'demo', region: REGION, json: true, yes: false, local: false, endpointUrl: 'http://127.0.0.1:4566' }, true);
    expect(await target.websocket()).toBeUndefined();
    expect(sentCommands(mocks).filter((c) => c.startsWith('apigatewayv2:'))).toEqual([]);
  });

  it('refuses a REST API that is not tagged for the stack', async () => {
    const state = convergedAccount();
    state.restApis[0]!.tags = {};
    const { ctx } = await open(state);
    await expect(new StackLocator(ctx).api()).rejects.toThrow('Stack demo has no REST API in us-east-1: deploy it with "bedrock-queue up --name demo".');
  });

  it('finds a queue by name and checks its tag', async () => {
    const state = convergedAccount();
    const { ctx } = await open(state);
    expect(await new StackLocator(ctx).queueUrl('resultsQueue')).toBe(`https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/demo-results`);
    state.queues['demo-results']!.tags = {};
    await expect(new StackLocator(ctx).queueUrl('resultsQueue')).rejects.toThrow('Queue demo-results is not tagged for stack demo');
    delete state.queues['demo-results'];
    await expect(new StackLocator(ctx).queueUrl('resultsQueue')).rejects.toThrow('Stack demo has no queue demo-results');
  });
});
