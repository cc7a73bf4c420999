/**
 * The governor on AWS (issue 21): what `up --autopilot` / `--budget` create and remove (exact inputs,
 * against the stateful fakes of the other unit tests), and the worker's tick with the exact Lambda,
 * CloudWatch and SQS calls it makes.
 */
import { GetMetricDataCommand, CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CreateRoleCommand, DeleteRolePolicyCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateEventSourceMappingCommand, GetEventSourceMappingCommand, LambdaClient, ListTagsCommand, TagResourceCommand, UntagResourceCommand, UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { CreateScheduleCommand, CreateScheduleGroupCommand, type CreateScheduleCommandInput } from '@aws-sdk/client-scheduler';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { governMapping } from '../../src/worker/governor.js';
import { ACCOUNT, REGION, TAGS, convergedAccount, emptyAccount, mocksPerTest, mutatingCommands, runDown, runUp, session, type AccountState } from '../helpers/fake-aws.js';
import { changeMapping } from '../../src/operate/mapping.js';
import { readGovernor } from '../../src/operate/governor.js';
import { governorRows } from '../../src/commands/governor-format.js';

const prepare = mocksPerTest();
const MAPPING_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:event-source-mapping:esm-1`;
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:demo-worker`;
const SCHEDULER_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/bedrock-queue/demo-scheduler`;

const GOVERNOR_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'SteerOwnMapping', Effect: 'Allow', Action: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping', 'lambda:ListTags', 'lambda:TagResource', 'lambda:UntagResource'], Resource: MAPPING_ARN },
    { Sid: 'ReadMetrics', Effect: 'Allow', Action: 'cloudwatch:GetMetricData', Resource: '*' },
  ],
};
const SCHEDULE: CreateScheduleCommandInput = {
  Name: 'governor', GroupName: 'demo-governor', ScheduleExpression: 'rate(1 minute)', FlexibleTimeWindow: { Mode: 'OFF' }, State: 'ENABLED',
  Description: 'bedrock-queue stack demo: the governor (autopilot, budget)',
  Target: { Arn: FUNCTION_ARN, RoleArn: SCHEDULER_ROLE_ARN, Input: '{"bq-governor":{"mapping":"esm-1"}}', RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 } },
};
const SCHEDULER_TRUST = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'scheduler.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } } }] };
const SCHEDULER_POLICY = { Version: '2012-10-17', Statement: [{ Sid: 'InvokeWorker', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: FUNCTION_ARN }] };

/** A converged stack whose governor is on (autopilot, ceiling 32, now at 7) with its schedule, role and policy. */
function governedAccount(): AccountState {
  const state = convergedAccount();
  state.mappings[0]!.ScalingConfig = { MaximumConcurrency: 7 };
  state.mappingTags['esm-1'] = { ...TAGS, 'bedrock-queue:autopilot': 'on', 'bedrock-queue:ceiling': '32', 'bedrock-queue:autopilot-last': 'at=2026-12-03T10:02:00.000Z from=10 to=7 cause=throttled figure=0.2' };
  state.roles['demo-worker']!.otherPolicies = { 'bedrock-queue-governor': GOVERNOR_POLICY };
  state.roles['demo-scheduler'] = { path: '/bedrock-queue/', trust: SCHEDULER_TRUST, policy: SCHEDULER_POLICY, tags: { ...TAGS } };
  state.scheduleGroups['demo-governor'] = { tags: { ...TAGS }, schedules: { governor: SCHEDULE } };
  return state;
}

describe('up with the governor on AWS', () => {
  it('--autopilot on a new stack: the mapping starts at the ceiling with the governor\'s tags, and the tick is scheduled for that mapping', async () => {
    const m = prepare(emptyAccount());
    await runUp({ autopilot: true, concurrency: 32 });
    expect(m.lambda.commandCalls(CreateEventSourceMappingCommand)[0]!.args[0].input).toMatchObject({
      ScalingConfig: { MaximumConcurrency: 32 }, Tags: { ...TAGS, 'bedrock-queue:autopilot': 'on', 'bedrock-queue:ceiling': '32' },
    });
    const input = m.scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input;
    expect(input.Target!.Input).toBe('{"bq-governor":{"mapping":"esm-new"}}');
    const governorPolicy = m.iam.commandCalls(PutRolePolicyCommand).map((c) => c.args[0].input).find((i) => i.PolicyName === 'bedrock-queue-governor')!;
    expect(JSON.parse(governorPolicy.PolicyDocument!).Statement[0].Resource).toBe(`arn:aws:lambda:${REGION}:${ACCOUNT}:event-source-mapping:esm-new`);
    // The order: the mapping, then what names it.
    expect(mutatingCommands(m).filter((c) => /EventSourceMapping|PutRolePolicy|Schedule/.test(c)).slice(-5)).toEqual([
      'lambda:CreateEventSourceMapping', 'iam:PutRolePolicy', 'iam:PutRolePolicy', 'scheduler:CreateScheduleGroup', 'scheduler:CreateSchedule',
    ]);
  });

  it('--budget in dollars on the default model: the price table\'s price, kept as the stack\'s price tag', async () => {
    const m = prepare(convergedAccount());
    await runUp({ budget: '40usd/day' });
    expect(m.lambda.commandCalls(TagResourceCommand).map((c) => c.args[0].input.Tags)).toEqual([
      expect.objectContaining({ 'bedrock-queue:budget': '40usd/day', 'bedrock-queue:price': 'in=3 out=15' }),
    ]);
  });

  it('--autopilot on a converged stack: tags the mapping, leaves its concurrency to the autopilot, lets the worker steer it alone, and schedules the tick', async () => {
    const m = prepare(convergedAccount());
    await runUp({ autopilot: true, concurrency: 32 });
    expect(m.lambda.commandCalls(TagResourceCommand).map((c) => c.args[0].input)).toEqual([
      { Resource: MAPPING_ARN, Tags: { 'bedrock-queue:autopilot': 'on', 'bedrock-queue:ceiling': '32' } },
    ]);
    expect(m.lambda.commandCalls(UpdateEventSourceMappingCommand)).toEqual([]);
    expect(m.iam.commandCalls(PutRolePolicyCommand).map((c) => c.args[0].input).map(({ RoleName, PolicyName, PolicyDocument }) => ({ RoleName, PolicyName, policy: JSON.parse(PolicyDocument!) }))).toEqual([
      { RoleName: 'demo-worker', PolicyName: 'bedrock-queue-governor', policy: GOVERNOR_POLICY },
      { RoleName: 'demo-scheduler', PolicyName: 'bedrock-queue', policy: SCHEDULER_POLICY },
    ]);
    expect(JSON.parse(m.iam.commandCalls(CreateRoleCommand)[0]!.args[0].input.AssumeRolePolicyDocument!)).toEqual(SCHEDULER_TRUST);
    expect(m.scheduler.commandCalls(CreateScheduleGroupCommand).map((c) => c.args[0].input)).toEqual([{ Name: 'demo-governor', Tags: [{ Key: 'bedrock-queue:stack', Value: 'demo' }] }]);
    expect(m.scheduler.commandCalls(CreateScheduleCommand).map((c) => c.args[0].input)).toEqual([SCHEDULE]);
  });

  it('a converged governed stack: no write, and the autopilot\'s concurrency is left where it got to', async () => {
    const m = prepare(governedAccount());
    const { items } = await runUp();
    expect(items.filter((i) => i.action !== 'unchanged')).toEqual([]);
    expect(mutatingCommands(m)).toEqual([]);
  });

  it('a lower ceiling brings the concurrency under it and is kept in the tag', async () => {
    const m = prepare(governedAccount());
    await runUp({ concurrency: 4 });
    expect(m.lambda.commandCalls(TagResourceCommand).map((c) => c.args[0].input)).toEqual([{ Resource: MAPPING_ARN, Tags: { 'bedrock-queue:ceiling': '4' } }]);
    expect(m.lambda.commandCalls(UpdateEventSourceMappingCommand)[0]!.args[0].input).toMatchObject({ ScalingConfig: { MaximumConcurrency: 4 } });
  });

  it('--no-autopilot with no budget removes the schedule, its role and the policy, and sets the concurrency back to the ceiling', async () => {
    const m = prepare(governedAccount());
    const { items } = await runUp({ autopilot: false });
    expect(items.filter((i) => i.action === 'remove').map((i) => i.key)).toEqual(['governor-policy', 'scheduler-role', 'schedule']);
    expect(m.lambda.commandCalls(UntagResourceCommand).map((c) => c.args[0].input)).toEqual([{ Resource: MAPPING_ARN, TagKeys: ['bedrock-queue:autopilot', 'bedrock-queue:ceiling'] }]);
    expect(m.lambda.commandCalls(UpdateEventSourceMappingCommand)[0]!.args[0].input).toMatchObject({ ScalingConfig: { MaximumConcurrency: 32 } });
    expect(m.iam.commandCalls(DeleteRolePolicyCommand).map((c) => c.args[0].input)).toEqual([
      { RoleName: 'demo-worker', PolicyName: 'bedrock-queue-governor' },
      { RoleName: 'demo-scheduler', PolicyName: 'bedrock-queue' },
    ]);
    expect(mutatingCommands(m)).toEqual(expect.arrayContaining(['iam:DeleteRole', 'scheduler:DeleteSchedule', 'scheduler:DeleteScheduleGroup']));
  });

  it('a budget alone keeps the concurrency fixed and still schedules the tick', async () => {
    const m = prepare(convergedAccount());
    await runUp({ budget: '5000000-tokens/day' });
    expect(m.lambda.commandCalls(TagResourceCommand).map((c) => c.args[0].input)).toEqual([{ Resource: MAPPING_ARN, Tags: { 'bedrock-queue:budget': '5000000-tokens/day' } }]);
    expect(m.lambda.commandCalls(UpdateEventSourceMappingCommand)).toEqual([]);
    expect(m.scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(1);
  });

  it('down removes the schedule group with the rest', async () => {
    const m = prepare(governedAccount());
    await runDown();
    expect(mutatingCommands(m)).toEqual(expect.arrayContaining(['scheduler:DeleteSchedule', 'scheduler:DeleteScheduleGroup']));
  });
});

describe('the worker\'s governor tick on AWS', () => {
  let lambda = mockClient(LambdaClient);
  let cloudwatch = mockClient(CloudWatchClient);
  let sqs = mockClient(SQSClient);
  beforeEach(() => {
    [lambda, cloudwatch, sqs] = [mockClient(LambdaClient), mockClient(CloudWatchClient), mockClient(SQSClient)];
  });
  afterEach(() => [lambda, cloudwatch, sqs].forEach((m) => m.restore()));
  const NOW = Date.UTC(2026, 11, 3, 10, 5, 20);
  const clients = () => ({ lambda: new LambdaClient({ region: REGION }), cloudwatch: new CloudWatchClient({ region: REGION }), sqs: new SQSClient({ region: REGION }) });

  function mapping(tags: Record<string, string>, concurrency = 20, state = 'Enabled') {
    lambda.on(GetEventSourceMappingCommand).resolves({ UUID: 'esm-1', EventSourceMappingArn: MAPPING_ARN, FunctionArn: FUNCTION_ARN, EventSourceArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:demo-requests`, State: state, ScalingConfig: { MaximumConcurrency: concurrency } });
    lambda.on(ListTagsCommand).resolves({ Tags: { ...TAGS, ...tags } });
  }

  it('cuts on throttling: reads the last whole minute, then marks and updates its own mapping', async () => {
    mapping({ 'bedrock-queue:autopilot': 'on', 'bedrock-queue:ceiling': '50' });
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [
      { Id: 'resultsOk', Values: [80] }, { Id: 'resultsError', Values: [6] }, { Id: 'throttledCalls', Values: [14] }, { Id: 'inFlight', Values: [20] },
    ] });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '500' } });
    const outcome = await governMapping({ 'bq-governor': { mapping: 'esm-1' } }, 'demo', clients(), NOW);
    expect(outcome.concurrency).toEqual({ from: 20, to: 14, reason: 'cut 30% after 14% of calls throttled' });
    const query = cloudwatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input;
    expect([query.StartTime, query.EndTime]).toEqual([new Date(Date.UTC(2026, 11, 3, 10, 4)), new Date(Date.UTC(2026, 11, 3, 10, 5))]);
    expect(query.MetricDataQueries!.map((q) => [q.Id, q.MetricStat!.Metric!.Namespace, q.MetricStat!.Metric!.MetricName, q.MetricStat!.Stat])).toEqual([
      ['resultsOk', 'BedrockQueue', 'ResultsOk', 'Sum'], ['resultsError', 'BedrockQueue', 'ResultsError', 'Sum'], ['throttledCalls', 'BedrockQueue', 'ThrottledCalls', 'Sum'],
      ['inFlight', 'AWS/Lambda', 'ConcurrentExecutions', 'Maximum'], ['modelLatency', 'BedrockQueue', 'ModelLatency', 'p50'],
    ]);
    expect(sqs.commandCalls(GetQueueAttributesCommand)[0]!.args[0].input).toEqual({ QueueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/demo-requests`, AttributeNames: ['ApproximateNumberOfMessages'] });
    expect(lambda.commandCalls(TagResourceCommand).map((c) => c.args[0].input)).toEqual([
      { Resource: MAPPING_ARN, Tags: { 'bedrock-queue:autopilot-last': 'at=2026-12-03T10:05:20.000Z from=20 to=14 cause=throttled figure=0.14' } },
    ]);
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input)).toEqual([{ UUID: 'esm-1', ScalingConfig: { MaximumConcurrency: 14 } }]);
  });

  it('with the minute\'s model latency, cuts straight to what the answers show fits', async () => {
    mapping({ 'bedrock-queue:autopilot': 'on', 'bedrock-queue:ceiling': '64' }, 64);
    // 600 answers in the minute at 1.5 s each: 10 a second x 1.5 s = 15 calls in flight fit.
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [
      { Id: 'resultsOk', Values: [600] }, { Id: 'throttledCalls', Values: [2400] }, { Id: 'inFlight', Values: [64] }, { Id: 'modelLatency', Values: [1500] },
    ] });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '5000' } });
    const outcome = await governMapping({ 'bq-governor': { mapping: 'esm-1' } }, 'demo', clients(), NOW);
    expect(outcome.concurrency).toEqual({ from: 64, to: 15, reason: 'cut to 15, what the answers show fits, after 80% of calls throttled' });
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input)).toEqual([{ UUID: 'esm-1', ScalingConfig: { MaximumConcurrency: 15 } }]);
  });

  it('pauses for a spent budget: the day\'s tokens from midnight UTC, the mark before the mapping stops', async () => {
    mapping({ 'bedrock-queue:budget': '1000-tokens/day' }, 10);
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'inputTokens', Values: [600] }, { Id: 'outputTokens', Values: [500] }] });
    const outcome = await governMapping({ 'bq-governor': { mapping: 'esm-1' } }, 'demo', clients(), NOW);
    expect(outcome.budget).toMatchObject({ action: 'pause', spentToday: 1100, paused: true });
    const query = cloudwatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input;
    expect(query.StartTime).toEqual(new Date(Date.UTC(2026, 11, 3)));
    expect(query.MetricDataQueries!.map((q) => [q.MetricStat!.Metric!.MetricName, q.MetricStat!.Period])).toEqual([['InputTokens', 86_400], ['OutputTokens', 86_400]]);
    expect(lambda.commandCalls(TagResourceCommand).map((c) => c.args[0].input)).toEqual([{ Resource: MAPPING_ARN, Tags: { 'bedrock-queue:budget-paused': '2026-12-03' } }]);
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input)).toEqual([{ UUID: 'esm-1', Enabled: false }]);
    // The mark is written before the mapping stops.
    expect(lambda.calls().map((c) => (c.args[0] as object).constructor.name)).toEqual(['GetEventSourceMappingCommand', 'ListTagsCommand', 'TagResourceCommand', 'UpdateEventSourceMappingCommand']);
  });

  it('the next UTC day resumes what it paused, and removes the mark', async () => {
    mapping({ 'bedrock-queue:budget': '1000-tokens/day', 'bedrock-queue:budget-paused': '2026-12-02' }, 10, 'Disabled');
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    await governMapping({ 'bq-governor': { mapping: 'esm-1' } }, 'demo', clients(), NOW);
    expect(lambda.commandCalls(UntagResourceCommand).map((c) => c.args[0].input)).toEqual([{ Resource: MAPPING_ARN, TagKeys: ['bedrock-queue:budget-paused'] }]);
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input)).toEqual([{ UUID: 'esm-1', Enabled: true }]);
  });

  it('holds through a minute CloudWatch has no data for, and writes nothing', async () => {
    mapping({ 'bedrock-queue:autopilot': 'on', 'bedrock-queue:ceiling': '50' });
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'resultsOk', Values: [] }, { Id: 'inFlight', Values: [] }] });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '500' } });
    const outcome = await governMapping({ 'bq-governor': { mapping: 'esm-1' } }, 'demo', clients(), NOW);
    expect(outcome).toMatchObject({ changed: false, concurrency: { from: 20, to: 20, reason: 'no figures for the last minute' } });
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand)).toEqual([]);
    expect(lambda.commandCalls(TagResourceCommand)).toEqual([]);
  });
});

describe('set-concurrency and resume on AWS with the governor on', () => {
  it('set-concurrency sets the ceiling tag and brings the concurrency under it', async () => {
    const m = prepare(governedAccount());
    const { ctx } = await session();
    const changed = await changeMapping(ctx, { concurrency: 5 });
    expect(m.lambda.commandCalls(TagResourceCommand).map((c) => c.args[0].input)).toEqual([{ Resource: MAPPING_ARN, Tags: { 'bedrock-queue:ceiling': '5' } }]);
    expect(m.lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input)).toEqual([{ UUID: 'esm-1', ScalingConfig: { MaximumConcurrency: 5 } }]);
    expect(changed).toMatchObject({ before: { concurrency: 7, ceiling: 32 }, after: { ceiling: 5 } });
  });

  it('set-concurrency above the autopilot\'s value changes the ceiling only', async () => {
    const m = prepare(governedAccount());
    const { ctx } = await session();
    await changeMapping(ctx, { concurrency: 64 });
    expect(m.lambda.commandCalls(UpdateEventSourceMappingCommand)).toEqual([]);
    expect(m.lambda.commandCalls(TagResourceCommand).map((c) => c.args[0].input)).toEqual([{ Resource: MAPPING_ARN, Tags: { 'bedrock-queue:ceiling': '64' } }]);
  });

  it('resume of what the budget paused marks the override before the mapping starts, and says the budget is spent', async () => {
    const state = convergedAccount();
    state.mappings[0]!.State = 'Disabled';
    const today = new Date().toISOString().slice(0, 10);
    state.mappingTags['esm-1'] = { ...TAGS, 'bedrock-queue:budget': '1000-tokens/day', 'bedrock-queue:budget-paused': today };
    const m = prepare(state);
    const { ctx } = await session();
    const changed = await changeMapping(ctx, { enabled: true });
    expect(changed.note).toMatch(/^the day's budget is spent: consumption resumes now/);
    expect(m.lambda.commandCalls(TagResourceCommand).map((c) => c.args[0].input)).toEqual([{ Resource: MAPPING_ARN, Tags: { 'bedrock-queue:budget-overridden': today } }]);
    expect(m.lambda.commandCalls(UntagResourceCommand).map((c) => c.args[0].input)).toEqual([{ Resource: MAPPING_ARN, TagKeys: ['bedrock-queue:budget-paused'] }]);
    const order = mutatingCommands(m);
    expect(order.indexOf('lambda:TagResource')).toBeLessThan(order.indexOf('lambda:UpdateEventSourceMapping'));
  });
});

describe('status of a budget on AWS', () => {
  it('reads the day\'s tokens from CloudWatch, and when CloudWatch refuses, says the spending is unknown and why, instead of failing', async () => {
    prepare(convergedAccount());
    const { ctx } = await session();
    const cloudwatch = mockClient(CloudWatchClient);
    try {
      const tags = { ...TAGS, 'bedrock-queue:budget': '1000-tokens/day' };
      cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'inputTokens', Values: [300] }, { Id: 'outputTokens', Values: [100] }] });
      expect((await readGovernor(ctx, { tags, concurrency: 10 })).budget).toEqual({ limit: 1000, unit: 'tokens', spentToday: 400, paused: false });
      cloudwatch.on(GetMetricDataCommand).rejects(Object.assign(new Error('User: arn:aws:iam::123456789012:user/dev is not authorized to perform: cloudwatch:GetMetricData'), { name: 'AccessDenied' }));
      const refused = (await readGovernor(ctx, { tags, concurrency: 10 })).budget!;
      expect(refused).toMatchObject({ limit: 1000, spentToday: null, spentError: expect.stringContaining('cloudwatch:GetMetricData') });
      expect(governorRows({ autopilot: null, budget: refused })[0]![1]).toMatch(/^1,000 tokens a day; today's spending unknown \(.*cloudwatch:GetMetricData/);
    } finally {
      cloudwatch.restore();
    }
  });
});
