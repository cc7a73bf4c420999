import { CreateDeploymentCommand, TooManyRequestsException } from '@aws-sdk/client-api-gateway';
import { CreateRoleCommand } from '@aws-sdk/client-iam';
import {
  CreateEventSourceMappingCommand,
  CreateFunctionCommand,
  InvalidParameterValueException,
  ResourceConflictException,
  ResourceInUseException,
  UpdateEventSourceMappingCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { CreateQueueCommand, GetQueueUrlCommand, QueueDeletedRecently, QueueNameExists, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/errors.js';
import { apply, observe, plan } from '../../src/provision/engine.js';
import { convergedAccount, createQueueIn, emptyAccount, mocksPerTest, runUp, session } from '../helpers/fake-aws.js';

const prepare = mocksPerTest();
const up = runUp;

const meta = { $metadata: { httpStatusCode: 400 } };
const notAssumable = () => new InvalidParameterValueException({ message: 'The role defined for the function cannot be assumed by Lambda.', ...meta });

describe('waiting out real AWS behaviours', () => {
  it('retries CreateFunction while the new role is not assumable yet (IAM propagation)', async () => {
    const m = prepare(emptyAccount());
    m.lambda.on(CreateFunctionCommand).rejectsOnce(notAssumable()).rejectsOnce(notAssumable()).resolves({ FunctionName: 'demo-worker' });
    const harness = await up();
    expect(m.lambda.commandCalls(CreateFunctionCommand)).toHaveLength(3);
    expect(harness.sleeps.slice(0, 2)).toEqual([2000, 4000]);
    expect(harness.notes[0]).toMatch(/IAM propagation/);
  });

  it('retries CreateEventSourceMapping while the role cannot read the queue yet', async () => {
    const m = prepare(emptyAccount());
    m.lambda.on(CreateEventSourceMappingCommand)
      .rejectsOnce(new InvalidParameterValueException({ message: 'The provided execution role does not have permissions to call ReceiveMessage on SQS', ...meta }))
      .resolves({ UUID: 'esm-new', State: 'Creating' });
    await up();
    expect(m.lambda.commandCalls(CreateEventSourceMappingCommand)).toHaveLength(2);
  });

  it('does not retry an InvalidParameterValueException that waiting cannot fix', async () => {
    const m = prepare(emptyAccount());
    m.lambda.on(CreateFunctionCommand).rejects(new InvalidParameterValueException({ message: 'Unzipped size must be smaller than 262144000 bytes', ...meta }));
    await expect(up()).rejects.toThrow(/Unzipped size/);
    expect(m.lambda.commandCalls(CreateFunctionCommand)).toHaveLength(1);
  });

  it('gives up on IAM propagation after ten minutes of waiting', async () => {
    const m = prepare(emptyAccount());
    m.lambda.on(CreateFunctionCommand).rejects(notAssumable());
    const s = await session();
    const observed = await observe(s.ctx);
    await expect(apply(s.ctx, observed, await plan(s.ctx, observed), (_i, run) => run())).rejects.toThrow(/cannot be assumed/);
    expect(s.harness.sleeps.reduce((a, b) => a + b, 0)).toBe(10 * 60_000);
  });

  it('waits for SQS to release a queue name deleted less than 60 s ago', async () => {
    const state = emptyAccount();
    const m = prepare(state);
    m.sqs.on(CreateQueueCommand, { QueueName: 'demo-requests-dlq' })
      .rejectsOnce(new QueueDeletedRecently({ message: 'You must wait 60 seconds after deleting a queue before you can create another with the same name.', ...meta }))
      .callsFake(createQueueIn(state));
    const harness = await up();
    expect(m.sqs.commandCalls(CreateQueueCommand).filter((c) => c.args[0].input.QueueName === 'demo-requests-dlq')).toHaveLength(2);
    expect(harness.notes.some((n) => /60 s after DeleteQueue/.test(n))).toBe(true);
  });

  it('adopts its own queue that ListQueues did not list yet (eventual consistency) and converges it', async () => {
    const state = emptyAccount();
    const m = prepare(state);
    const url = 'https://sqs.us-east-1.amazonaws.com/123456789012/demo-results';
    m.sqs.on(CreateQueueCommand, { QueueName: 'demo-results' })
      .callsFake(() => {
        state.queues['demo-results'] = { attributes: { MessageRetentionPeriod: '60', SqsManagedSseEnabled: 'true' }, tags: { 'bedrock-queue:stack': 'demo' } };
        throw new QueueNameExists({ message: 'A queue already exists with the same name and a different value for attribute MessageRetentionPeriod', ...meta });
      });
    m.sqs.on(GetQueueUrlCommand, { QueueName: 'demo-results' }).resolves({ QueueUrl: url });
    await up();
    expect(m.sqs.commandCalls(SetQueueAttributesCommand).map((c) => c.args[0].input)).toEqual([{ QueueUrl: url, Attributes: { MessageRetentionPeriod: '345600' } }]);
  });

  it('refuses a queue that CreateQueue says exists when it is not ours', async () => {
    const state = emptyAccount();
    const m = prepare(state);
    m.sqs.on(CreateQueueCommand, { QueueName: 'demo-requests-dlq' }).callsFake(() => {
      state.queues['demo-requests-dlq'] = { attributes: {}, tags: {} };
      throw new QueueNameExists({ message: 'A queue already exists with the same name and a different value for attribute MessageRetentionPeriod', ...meta });
    });
    m.sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/demo-requests-dlq' });
    await expect(up()).rejects.toThrow(/SQS queue \(DLQ\) demo-requests-dlq exists without the tag/);
    expect(m.sqs.commandCalls(SetQueueAttributesCommand)).toEqual([]);
  });

  it('retries a function update while another update is in progress', async () => {
    const state = convergedAccount();
    state.functions['demo-worker']!.config.Handler = 'other.handler';
    const m = prepare(state);
    m.lambda.on(UpdateFunctionConfigurationCommand)
      .rejectsOnce(new ResourceConflictException({ message: 'The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:123456789012:function:demo-worker', ...meta }))
      .resolves({});
    await up();
    expect(m.lambda.commandCalls(UpdateFunctionConfigurationCommand)).toHaveLength(2);
  });

  it('retries a mapping update while the mapping is changing state', async () => {
    const m = prepare(convergedAccount());
    m.lambda.on(UpdateEventSourceMappingCommand)
      .rejectsOnce(new ResourceInUseException({ message: 'Cannot update the event source mapping because it is in use.', ...meta }))
      .resolves({ UUID: 'esm-1', State: 'Updating' });
    await up({ concurrency: 20 });
    expect(m.lambda.commandCalls(UpdateEventSourceMappingCommand)).toHaveLength(2);
  });

  it('retries API Gateway control-plane calls that are rate-limited', async () => {
    const state = convergedAccount();
    delete state.restApis[0]!.stage;
    const m = prepare(state);
    m.apigateway.on(CreateDeploymentCommand).rejectsOnce(new TooManyRequestsException({ message: 'Too Many Requests', ...meta })).resolves({ id: 'dep2' });
    const harness = await up();
    expect(m.apigateway.commandCalls(CreateDeploymentCommand)).toHaveLength(2);
    expect(harness.sleeps).toEqual([5000]);
  });

  it('stops on AccessDenied and names the missing action and resource', async () => {
    const m = prepare(emptyAccount());
    const denied = Object.assign(new Error('User: arn:aws:iam::123456789012:user/dev is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::123456789012:role/bedrock-queue/demo-api because no identity-based policy allows the iam:CreateRole action'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    m.iam.on(CreateRoleCommand).rejects(denied);
    const err = await up().catch((e: unknown) => e);
    expect(describeError(err)).toBe('Access denied: your credentials are missing the permission iam:CreateRole on arn:aws:iam::123456789012:role/bedrock-queue/demo-api. Grant it ("bedrock-queue policy" prints every permission bedrock-queue needs) and run the command again.');
    expect(m.iam.commandCalls(CreateRoleCommand)).toHaveLength(1);
  });
});
