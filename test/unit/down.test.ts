import { UpdateUsagePlanCommand } from '@aws-sdk/client-api-gateway';
import { DeleteApiCommand } from '@aws-sdk/client-apigatewayv2';
import { GetEventSourceMappingCommand, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { messagesIn, queueReports, refuseBusyQueues } from '../../src/operate/busy-queues.js';
import { destroy, observe } from '../../src/provision/engine.js';
import { convergedAccount, emptyAccount, mockAws, mutatingCommands, resetMocks, session, type AccountState, type Mocks } from '../helpers/fake-aws.js';

let mocks: Mocks | undefined;
afterEach(() => {
  if (mocks) resetMocks(mocks);
  mocks = undefined;
});

async function down(state: AccountState) {
  mocks = mockAws(state);
  mocks.lambda.on(GetEventSourceMappingCommand).rejects(new ResourceNotFoundException({ message: 'The resource you requested does not exist.', $metadata: {} }));
  const s = await session();
  const observed = await observe(s.ctx);
  const removed: string[] = [];
  await destroy(s.ctx, observed, async (item, run) => {
    await run();
    removed.push(item.name);
  });
  return { m: mocks, removed, observed, ctx: s.ctx };
}

describe('down', () => {
  it('removes a full stack in reverse dependency order, waiting for the mapping to go', async () => {
    const { m, removed } = await down(convergedAccount());
    expect(removed).toEqual(['demo', 'demo', 'demo', 'demo-requests -> demo-worker', 'demo-worker', '/aws/lambda/demo-worker', 'demo-results', 'demo-requests', 'demo-results', 'demo-requests-dlq', 'demo-worker', 'demo-ws', 'demo-api']);
    expect(mutatingCommands(m)).toEqual([
      'apigateway:DeleteUsagePlanKey', 'apigateway:UpdateUsagePlan', 'apigateway:DeleteUsagePlan', 'apigateway:DeleteApiKey', 'apigateway:DeleteRestApi',
      'lambda:DeleteEventSourceMapping', 'lambda:DeleteFunction', 'logs:DeleteLogGroup', 'dynamodb:DeleteTable',
      'sqs:DeleteQueue', 'sqs:DeleteQueue', 'sqs:DeleteQueue',
      'iam:DeleteRolePolicy', 'iam:DeleteRole', 'apigatewayv2:DeleteApi', 'iam:DeleteRolePolicy', 'iam:DeleteRole',
    ]);
    expect(m.apigateway.commandCalls(UpdateUsagePlanCommand)[0]!.args[0].input).toEqual({ usagePlanId: 'plan1', patchOperations: [
      { op: 'remove', path: '/apiStages', value: 'api123:prod' }, { op: 'remove', path: '/apiStages', value: 'ws123:prod' },
    ] });
    expect(m.apigatewayv2.commandCalls(DeleteApiCommand).map((c) => c.args[0].input)).toEqual([{ ApiId: 'ws123' }]);
    expect(m.lambda.commandCalls(GetEventSourceMappingCommand)).toHaveLength(1);
  });

  it('removes what is left of a partial stack', async () => {
    const state = emptyAccount();
    const full = convergedAccount();
    state.queues = { 'demo-results': full.queues['demo-results']! };
    state.roles = { 'demo-api': full.roles['demo-api']! };
    const { m } = await down(state);
    expect(mutatingCommands(m)).toEqual(['sqs:DeleteQueue', 'iam:DeleteRolePolicy', 'iam:DeleteRole']);
  });

  it('does nothing on an empty account', async () => {
    const { m, removed } = await down(emptyAccount());
    expect(removed).toEqual([]);
    expect(mutatingCommands(m)).toEqual([]);
  });

  it('leaves a resource that carries our name but not our tag alone', async () => {
    const state = convergedAccount();
    state.queues['demo-results']!.tags = {};
    const { m } = await down(state);
    const deleted = m.sqs.commandCalls(DeleteQueueCommand).map((c) => c.args[0].input.QueueUrl);
    expect(deleted).toHaveLength(2);
    expect(deleted.some((u) => u!.endsWith('/demo-results'))).toBe(false);
  });

  it('reports the messages still held by each queue', async () => {
    const state = convergedAccount();
    state.queues['demo-requests']!.attributes.ApproximateNumberOfMessages = '3';
    state.queues['demo-requests-dlq']!.attributes.ApproximateNumberOfMessagesNotVisible = '2';
    mocks = mockAws(state);
    const s = await session();
    const reports = queueReports(s.ctx, await observe(s.ctx));
    expect(reports).toEqual([
      { name: 'demo-requests-dlq', visible: 0, inFlight: 2, delayed: 0 },
      { name: 'demo-results', visible: 0, inFlight: 0, delayed: 0 },
      { name: 'demo-requests', visible: 3, inFlight: 0, delayed: 0 },
    ]);
  });

  it('refuses while a queue holds only delayed messages (throttled requests waiting to come back)', () => {
    const empty = { name: 'demo-results', visible: 0, inFlight: 0, delayed: 0 };
    expect(() => refuseBusyQueues([empty], 'demo-results', 'lose them')).not.toThrow();
    expect(() => refuseBusyQueues([empty, { name: 'demo-requests', visible: 0, inFlight: 0, delayed: 2 }], 'demo-results', 'lose them'))
      .toThrow('Queues still hold unprocessed work (demo-requests: 0 waiting, 0 in flight, 2 delayed). Let it finish (redrive the DLQ first if you want its requests answered), or pass --force to lose them.');
  });

  it('lets unread results go (answers, not work) but not dead letters, and counts the results', () => {
    const results = { name: 'demo-results', visible: 4, inFlight: 1, delayed: 0 };
    const dlq = { name: 'demo-requests-dlq', visible: 1, inFlight: 0, delayed: 0 };
    expect(() => refuseBusyQueues([results], 'demo-results', 'lose them')).not.toThrow();
    expect(messagesIn([results], 'demo-results')).toBe(5);
    expect(() => refuseBusyQueues([results, dlq], 'demo-results', 'lose them')).toThrow(/demo-requests-dlq: 1 waiting/);
  });
});
