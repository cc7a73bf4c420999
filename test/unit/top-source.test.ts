import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openSnapshotSource } from '../../src/commands/top-source.js';
import { ACCOUNT, REGION, convergedAccount, mockAws, resetMocks, sentCommands, type Mocks } from '../helpers/fake-aws.js';

const cloudwatch = mockClient(CloudWatchClient);
let mocks: Mocks | undefined;
afterEach(() => {
  if (mocks) resetMocks(mocks);
  mocks = undefined;
  cloudwatch.reset();
  vi.useRealTimers();
});

describe('top on AWS', () => {
  it('finds the queues and the mapping once, then reads four cheap calls a refresh, and CloudWatch and the governor\'s tags once a minute', async () => {
    const state = convergedAccount();
    state.queues['demo-requests']!.attributes.ApproximateNumberOfMessages = '120';
    mocks = mockAws(state);
    mocks.sqs.on(GetQueueUrlCommand).callsFake((input) => ({ QueueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${input.QueueName}` }));
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'invocationsInFlight', Timestamps: [new Date()], Values: [7] }] });
    const next = await openSnapshotSource({ name: 'demo', region: REGION, json: false, yes: false, local: false }, 900);
    const setUp = sentCommands(mocks).length;

    vi.useFakeTimers({ toFake: ['Date'] });
    const first = await next();
    const firstReads = sentCommands(mocks).slice(setUp);
    expect(firstReads.sort()).toEqual(['lambda:GetEventSourceMapping', 'lambda:ListTags', 'sqs:GetQueueAttributes', 'sqs:GetQueueAttributes', 'sqs:GetQueueAttributes']);
    expect(mocks.sqs.commandCalls(GetQueueAttributesCommand).at(-1)!.args[0].input.AttributeNames).toEqual(['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed']);
    expect(cloudwatch.commandCalls(GetMetricDataCommand)).toHaveLength(1);
    expect(first.queues.map((q) => [q.name, q.visible])).toEqual([['demo-requests', 120], ['demo-requests-dlq', 0], ['demo-results', 0]]);
    expect(first.mapping).toEqual({ state: 'Enabled', limit: 10, inFlight: 7 });
    expect(first.metrics.perMinute.ok).toHaveLength(15);

    expect(first.governor).toEqual({ autopilot: null, budget: null });

    vi.setSystemTime(Date.now() + 30_000);
    const beforeSecond = sentCommands(mocks).length;
    const second = await next();
    expect(sentCommands(mocks).slice(beforeSecond)).toHaveLength(4);
    expect(cloudwatch.commandCalls(GetMetricDataCommand)).toHaveLength(1);
    expect(second.metricsAt).toBe(first.metricsAt);
    vi.setSystemTime(Date.now() + 31_000);
    await next();
    expect(cloudwatch.commandCalls(GetMetricDataCommand)).toHaveLength(2);
  });
});
