/**
 * What real AWS does that moto and a plain mock do not (aws-facts.md, "Learned from a review"):
 * each test simulates one behaviour with AWS's own error names and messages and checks that
 * `up`, `down` or an operator command copes with it.
 */
import { DeleteRestApiCommand, GetResourcesCommand, NotFoundException } from '@aws-sdk/client-api-gateway';
import { CreateRoleCommand, EntityAlreadyExistsException, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateEventSourceMappingCommand,
  CreateFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  ListTagsCommand,
  ResourceConflictException,
  TagResourceCommand,
  UpdateEventSourceMappingCommand,
  UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, InvalidAttributeValue, ListQueuesCommand, QueueDoesNotExist } from '@aws-sdk/client-sqs';
import {
  CreateTableCommand, DeleteTableCommand, DescribeTableCommand, ListTagsOfResourceCommand, ResourceInUseException as DynamoInUse,
  ResourceNotFoundException as TableNotFound, UpdateTimeToLiveCommand, DynamoDBServiceException,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { tagProblem } from '../../src/commands/options.js';
import { observe } from '../../src/provision/engine.js';
import { changeMapping } from '../../src/operate/mapping.js';
import { ACCOUNT, REGION, TAGS, convergedAccount, createQueueIn, emptyAccount, mocksPerTest, mutatingCommands, runDown, runUp, session } from '../helpers/fake-aws.js';

const prepare = mocksPerTest();
const up = runUp;
const down = runDown;

const meta = { $metadata: { httpStatusCode: 400 } };
const fnArn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:demo-worker`;

describe('item 2: GetFunction without lambda:ListTags', () => {
  it('stops and names lambda:ListTags instead of calling our own function foreign; nothing is deleted', async () => {
    const state = convergedAccount();
    const m = prepare(state);
    m.lambda.on(GetFunctionCommand).resolves({
      Configuration: state.functions['demo-worker']!.config,
      TagsError: { ErrorCode: 'AccessDeniedException', Message: `User: arn:aws:iam::${ACCOUNT}:user/dev is not authorized to perform: lambda:ListTags on resource: ${fnArn}` },
    });
    await expect(up()).rejects.toThrow(/Cannot read the tags of Lambda function demo-worker \(AccessDeniedException: .*\), so bedrock-queue cannot tell whether it is this stack's: grant lambda:ListTags/);
    await expect(down()).rejects.toThrow(/grant lambda:ListTags/);
    expect(mutatingCommands(m)).toEqual([]);
  });
});

describe('item 4: reads right after a delete', () => {
  it('takes a queue that ListQueues still lists but that answers QueueDoesNotExist for missing, and creates it', async () => {
    const state = convergedAccount();
    const listed = Object.keys(state.queues);
    delete state.queues['demo-results'];
    const m = prepare(state);
    // ListQueues is stale: it still lists the deleted queue, whose reads answer QueueDoesNotExist.
    m.sqs.on(ListQueuesCommand).resolves({ QueueUrls: listed.map((n) => `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${n}`) });
    const { items } = await up();
    expect(items.find((i) => i.name === 'demo-results')!.action).toBe('create');
    expect(m.sqs.commandCalls(CreateQueueCommand).map((c) => c.args[0].input.QueueName)).toEqual(['demo-results']);
  });

  it('takes a REST API that is listed but answers NotFoundException for missing', async () => {
    const m = prepare(convergedAccount());
    m.apigateway.on(GetResourcesCommand).rejects(new NotFoundException({ message: 'Invalid API identifier specified 123456789012:api123', ...meta }));
    const s = await session();
    const observed = await observe(s.ctx);
    expect(observed.find((o) => o.resource.key === 'rest-api')!.live).toBeUndefined();
  });

  it('down returns only once GetQueueUrl has said QueueDoesNotExist three times in a row, starting over when a read flaps', async () => {
    const state = convergedAccount();
    const m = prepare(state);
    const answers: Record<string, boolean[]> = { 'demo-requests': [false, true, false, true, true] };
    m.sqs.on(GetQueueUrlCommand).callsFake((input) => {
      const script = answers[input.QueueName!];
      const exists = script?.length ? script.shift()! : false;
      if (!exists) throw new QueueDoesNotExist({ message: 'The specified queue does not exist.', ...meta });
      return { QueueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${input.QueueName}` };
    });
    const harness = await down();
    const reads = (name: string) => m.sqs.commandCalls(GetQueueUrlCommand).filter((c) => c.args[0].input.QueueName === name).length;
    // requests: gone, there, gone, there, there, then three gone in a row.
    expect(reads('demo-requests')).toBe(8);
    expect(reads('demo-results')).toBe(3);
    expect(reads('demo-requests-dlq')).toBe(3);
    expect(harness.notes).toContain('waiting for AWS to confirm demo-requests is deleted (2/3)');
  });
});

describe('item 5: a new queue answers about a second after CreateQueue', () => {
  it('waits for the DLQ to answer, and retries "Dead letter target does not exist"', async () => {
    const state = emptyAccount();
    const m = prepare(state);
    let dlqReads = 0;
    m.sqs.on(GetQueueAttributesCommand).callsFake((input) => {
      const name = input.QueueUrl!.split('/').pop()!;
      if (name === 'demo-requests-dlq' && dlqReads++ < 2) throw new QueueDoesNotExist({ message: 'The specified queue does not exist.', ...meta });
      return { Attributes: state.queues[name]!.attributes };
    });
    m.sqs.on(CreateQueueCommand, { QueueName: 'demo-requests' })
      .rejectsOnce(new InvalidAttributeValue({ message: `Value {"deadLetterTargetArn":"arn:aws:sqs:${REGION}:${ACCOUNT}:demo-requests-dlq","maxReceiveCount":5} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.`, ...meta }))
      .callsFake(createQueueIn(state));
    const harness = await up();
    expect(dlqReads).toBe(3);
    expect(m.sqs.commandCalls(CreateQueueCommand).filter((c) => c.args[0].input.QueueName === 'demo-requests')).toHaveLength(2);
    expect(harness.notes.some((n) => /does not see the new dead-letter queue yet/.test(n))).toBe(true);
  });
});

describe('item 6: functions must be Active and Successful', () => {
  it('waits while the new function is Pending', async () => {
    const m = prepare(emptyAccount());
    m.lambda.on(GetFunctionConfigurationCommand)
      .resolvesOnce({ State: 'Pending', LastUpdateStatus: 'InProgress' })
      .resolvesOnce({ State: 'Pending', LastUpdateStatus: 'InProgress' })
      .resolves({ State: 'Active', LastUpdateStatus: 'Successful' });
    await up();
    expect(m.lambda.commandCalls(GetFunctionConfigurationCommand)).toHaveLength(3);
    expect(m.lambda.commandCalls(CreateEventSourceMappingCommand)).toHaveLength(1);
  });

  it('stops with the reason code and reason of a Failed function, before the mapping', async () => {
    const m = prepare(emptyAccount());
    m.lambda.on(GetFunctionConfigurationCommand).resolves({ State: 'Failed', StateReasonCode: 'InvalidZipFileException', StateReason: 'Lambda was unable to unzip the file.' });
    await expect(up()).rejects.toThrow('Lambda function demo-worker failed to become Active: InvalidZipFileException: Lambda was unable to unzip the file.');
    expect(m.lambda.commandCalls(CreateEventSourceMappingCommand)).toHaveLength(0);
  });

  it('stops when an update Failed', async () => {
    const state = convergedAccount();
    state.functions['demo-worker']!.config.CodeSha256 = 'old';
    const m = prepare(state);
    m.lambda.on(GetFunctionConfigurationCommand).resolves({ State: 'Active', LastUpdateStatus: 'Failed', LastUpdateStatusReasonCode: 'EniLimitExceeded', LastUpdateStatusReason: 'ENI limit reached.' });
    await expect(up()).rejects.toThrow('The update of Lambda function demo-worker failed: EniLimitExceeded: ENI limit reached.');
  });
});

describe('item 7: the event source mapping is ours by its tags or both of its ends', () => {
  it('refuses an untagged mapping between namesakes that are not ours, in up and in set-concurrency', async () => {
    const state = convergedAccount();
    state.mappingTags = {};
    state.functions['demo-worker']!.tags = { owner: 'someone-else' };
    const m = prepare(state);
    const s = await session();
    const observed = await observe(s.ctx);
    expect(observed.find((o) => o.resource.key === 'event-source-mapping')!.owned).toBe(false);
    await expect(changeMapping(s.ctx, { concurrency: 20 })).rejects.toThrow(/Not this stack's: Event source mapping demo-requests -> demo-worker/);
    expect(m.lambda.commandCalls(UpdateEventSourceMappingCommand)).toHaveLength(0);
  });

  it('owns an untagged mapping whose queue and function are both ours, and up tags it', async () => {
    const state = convergedAccount();
    state.mappingTags = {};
    const m = prepare(state);
    const s = await session();
    const observed = await observe(s.ctx);
    expect(observed.find((o) => o.resource.key === 'event-source-mapping')!.owned).toBe(true);
    expect((await changeMapping(s.ctx, { concurrency: 10 })).after.concurrency).toBe(10);
    await up();
    expect(mutatingCommands(m)).toEqual(['lambda:TagResource']);
    expect(m.lambda.commandCalls(TagResourceCommand)[0]!.args[0].input).toEqual({ Resource: `arn:aws:lambda:${REGION}:${ACCOUNT}:event-source-mapping:esm-1`, Tags: TAGS });
  });

  it('owns a tagged mapping, read with ListTags on its ARN', async () => {
    const m = prepare(convergedAccount());
    const s = await session();
    await observe(s.ctx);
    expect(m.lambda.commandCalls(ListTagsCommand).map((c) => c.args[0].input.Resource)).toContain(`arn:aws:lambda:${REGION}:${ACCOUNT}:event-source-mapping:esm-1`);
  });
});

describe('item 8: EntityAlreadyExists after an interrupted up', () => {
  const exists = () => new EntityAlreadyExistsException({ message: 'Role with name demo-api already exists.', ...meta });

  it('adopts its own role that the first read missed, and puts its policy', async () => {
    const state = emptyAccount();
    const m = prepare(state);
    m.iam.on(CreateRoleCommand, { RoleName: 'demo-api' }).callsFake(() => {
      state.roles['demo-api'] = { path: '/bedrock-queue/', trust: convergedAccount().roles['demo-api']!.trust, tags: { ...TAGS } };
      throw exists();
    });
    await up();
    expect(m.iam.commandCalls(PutRolePolicyCommand).map((c) => c.args[0].input.RoleName)).toEqual(['demo-api', 'demo-worker']);
  });

  it('refuses a role of that name outside /bedrock-queue/', async () => {
    const state = emptyAccount();
    const m = prepare(state);
    m.iam.on(CreateRoleCommand, { RoleName: 'demo-api' }).callsFake(() => {
      state.roles['demo-api'] = { path: '/', trust: {}, tags: { ...TAGS } };
      throw exists();
    });
    await expect(up()).rejects.toThrow(/Not this stack's: IAM role demo-api exists without the tag bedrock-queue:stack=demo/);
    expect(m.iam.commandCalls(PutRolePolicyCommand)).toHaveLength(0);
  });
});

describe('item 9: Lambda conflicts', () => {
  it('retries any ResourceConflictException on a function update', async () => {
    const state = convergedAccount();
    state.functions['demo-worker']!.config.CodeSha256 = 'old';
    const m = prepare(state);
    m.lambda.on(UpdateFunctionCodeCommand)
      .rejectsOnce(new ResourceConflictException({ message: 'The function could not be updated due to a concurrent update operation.', ...meta }))
      .resolves({});
    await up();
    expect(m.lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(2);
  });

  it('adopts its function when a retried CreateFunction says it already exists', async () => {
    const state = emptyAccount();
    const m = prepare(state);
    m.lambda.on(CreateFunctionCommand).callsFake(() => {
      state.functions['demo-worker'] = { ...convergedAccount().functions['demo-worker']!, config: { ...convergedAccount().functions['demo-worker']!.config, Timeout: 3 } };
      throw new ResourceConflictException({ message: 'Function already exist: demo-worker', ...meta });
    });
    await up();
    expect(mutatingCommands(m)).toContain('lambda:UpdateFunctionConfiguration');
  });

  it('adopts its mapping when CreateEventSourceMapping says one already exists', async () => {
    const state = convergedAccount();
    const mapping = state.mappings.pop()!;
    const m = prepare(state);
    m.lambda.on(CreateEventSourceMappingCommand).callsFake(() => {
      state.mappings.push({ ...mapping, ScalingConfig: { MaximumConcurrency: 3 } });
      throw new ResourceConflictException({ message: `An event source mapping with SQS arn (" arn:aws:sqs:${REGION}:${ACCOUNT}:demo-requests ") and function (" demo-worker ") already exists. Please update or delete the existing mapping with UUID esm-1`, ...meta });
    });
    await up();
    expect(m.lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input.ScalingConfig)).toEqual([{ MaximumConcurrency: 10 }]);
  });
});

describe('item 10: duplicates left by non-idempotent creates', () => {
  function twoApis() {
    const state = convergedAccount();
    const first = state.restApis[0]!;
    state.restApis.push({ ...first, id: 'api999', stage: undefined });
    return state;
  }

  it('up keeps one tagged REST API and deletes the other', async () => {
    const m = prepare(twoApis());
    const { items } = await up();
    expect(items.find((i) => i.key === 'rest-api')!.changes).toEqual([{ field: 'duplicates', live: ['api999'], desired: [] }]);
    expect(m.apigateway.commandCalls(DeleteRestApiCommand).map((c) => c.args[0].input.restApiId)).toEqual(['api999']);
  });

  it('down deletes every tagged namesake', async () => {
    const m = prepare(twoApis());
    await down();
    expect(m.apigateway.commandCalls(DeleteRestApiCommand).map((c) => c.args[0].input.restApiId).sort()).toEqual(['api123', 'api999']);
  });
});

describe('item 12: tags', () => {
  it('accepts what AWS accepts and names what it does not', () => {
    expect(tagProblem('Équipe', 'ML ops/2026 x+y=z')).toBeUndefined();
    // DynamoDB's tagging rules leave out the @ that the other services take.
    expect(tagProblem('owner', 'ml@example.com')).toMatch(/DynamoDB \(the results table\) allows no @ in tags/);
    expect(tagProblem('aws:x', '1')).toMatch(/reserved/);
    expect(tagProblem('team', 'a;b')).toMatch(/only letters, digits/);
  });

  it('counts the tags already on a resource towards AWS\'s 50 and refuses before any write', async () => {
    const state = convergedAccount();
    state.functions['demo-worker']!.tags = { ...TAGS, ...Object.fromEntries(Array.from({ length: 48 }, (_, i) => [`old${i}`, 'x'])) };
    const m = prepare(state);
    await expect(up({ tags: { team: 'ml', env: 'dev' } })).rejects.toThrow(/AWS allows 50 tags on a resource, and these would carry more: Lambda function demo-worker \(49 live, 51 with yours\)/);
    expect(mutatingCommands(m)).toEqual([]);
  });

  it('lets a resource reach exactly 50', async () => {
    const state = convergedAccount();
    state.functions['demo-worker']!.tags = { ...TAGS, ...Object.fromEntries(Array.from({ length: 48 }, (_, i) => [`old${i}`, 'x'])) };
    prepare(state);
    await expect(up({ tags: { team: 'ml' } })).resolves.toBeDefined();
  });
});

/** DynamoDB's ValidationException has no class of its own in the SDK: a service exception by that name. */
const validation = (message: string) => new DynamoDBServiceException({ name: 'ValidationException', $fault: 'client', message, ...meta });

describe('the third review: the results table', () => {
  /** DescribeTable's answer for the results table, in the state the test gives it. */
  const described = (t: { status: string; billingMode: string }) => ({
    Table: { TableName: 'demo-results', TableArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/demo-results`, TableStatus: t.status, BillingModeSummary: { BillingMode: t.billingMode } },
  });
  const gone = () => new TableNotFound({ message: 'Requested resource not found: Table: demo-results not found', ...meta });
  /** A results table DELETING (gone after `reads` reads) or CREATING (ACTIVE after them). */
  const inTransition = (status: 'DELETING' | 'CREATING', reads: number) => {
    const state = convergedAccount();
    state.tables['demo-results']!.status = status;
    const m = prepare(state);
    let seen = 0;
    m.dynamodb.on(DescribeTableCommand, { TableName: 'demo-results' }).callsFake(() => {
      const t = state.tables['demo-results'];
      if (t?.status === status && ++seen > reads) {
        if (status === 'DELETING') delete state.tables['demo-results'];
        else t.status = 'ACTIVE';
      }
      const now = state.tables['demo-results'];
      if (!now) throw gone();
      return described(now);
    });
    return { state, m };
  };
  const ttlOff = () => {
    const state = convergedAccount();
    state.tables['demo-results']!.ttl = { status: 'DISABLED', attribute: 'expiresAt' };
    return state;
  };

  for (const message of ['Time to live has been modified multiple times within a fixed interval', 'TimeToLive is already enabled']) {
    it(`warns and goes on when UpdateTimeToLive answers "${message}"`, async () => {
      const m = prepare(ttlOff());
      m.dynamodb.on(UpdateTimeToLiveCommand).rejects(validation(message));
      const harness = await up();
      expect(harness.notes.some((n) => n.startsWith('warning: table demo-results did not take the time to live now') && n.includes(message))).toBe(true);
    });
  }

  it('still stops on another ValidationException from UpdateTimeToLive', async () => {
    const m = prepare(ttlOff());
    m.dynamodb.on(UpdateTimeToLiveCommand).rejects(validation('One or more parameter values were invalid'));
    await expect(up()).rejects.toThrow(/One or more parameter values were invalid/);
  });

  it('leaves a TTL that is being disabled alone, and says to run up later', async () => {
    const state = convergedAccount();
    state.tables['demo-results']!.ttl = { status: 'DISABLING', attribute: 'expiresAt' };
    const m = prepare(state);
    const harness = await up();
    expect(m.dynamodb.commandCalls(UpdateTimeToLiveCommand)).toEqual([]);
    expect(harness.notes.some((n) => /is being disabled; run up again later/.test(n))).toBe(true);
  });

  it('waits for a table still DELETING (an interrupted down) to be gone, then creates it', async () => {
    const { state, m } = inTransition('DELETING', 3);
    m.dynamodb.on(CreateTableCommand, { TableName: 'demo-results' }).callsFake((input) => {
      if (state.tables['demo-results']) throw new DynamoInUse({ message: 'Table already exists: demo-results', ...meta });
      state.tables['demo-results'] = { billingMode: 'PAY_PER_REQUEST', status: 'ACTIVE', tags: Object.fromEntries((input.Tags ?? []).map((t: { Key?: string; Value?: string }) => [t.Key!, t.Value!])) };
      return { TableDescription: { TableName: 'demo-results', TableStatus: 'CREATING' } };
    });
    await up();
    expect(m.dynamodb.commandCalls(CreateTableCommand)).toHaveLength(2);
    expect(state.tables['demo-results']).toMatchObject({ status: 'ACTIVE', ttl: { status: 'ENABLED', attribute: 'expiresAt' } });
  });

  it('waits for a CREATING table to be ACTIVE before deleting it (DeleteTable refuses it)', async () => {
    const { state, m } = inTransition('CREATING', 2);
    m.dynamodb.on(DeleteTableCommand, { TableName: 'demo-results' }).callsFake(() => {
      if (state.tables['demo-results']!.status !== 'ACTIVE') throw new DynamoInUse({ message: 'Attempt to change a resource which is still in use: Table is being created: demo-results', ...meta });
      delete state.tables['demo-results'];
      return { TableDescription: { TableName: 'demo-results', TableStatus: 'DELETING' } };
    });
    await down();
    expect(m.dynamodb.commandCalls(DeleteTableCommand)).toHaveLength(1);
    expect(state.tables['demo-results']).toBeUndefined();
  });

  it('reads the tags of a table created moments ago again before calling it foreign (TagResource is eventually consistent)', async () => {
    const state = convergedAccount();
    const m = prepare(state);
    m.dynamodb.on(DescribeTableCommand, { TableName: 'demo-results' }).resolves({
      Table: { TableName: 'demo-results', TableArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/demo-results`, TableStatus: 'ACTIVE', CreationDateTime: new Date(), BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' } },
    });
    m.dynamodb.on(ListTagsOfResourceCommand).resolvesOnce({ Tags: [] }).resolves({ Tags: Object.entries(TAGS).map(([Key, Value]) => ({ Key, Value })) });
    const { items } = await up();
    expect(items.find((i) => i.key === 'results-table')!.action).toBe('unchanged');
    expect(m.dynamodb.commandCalls(ListTagsOfResourceCommand)).toHaveLength(2);
  });
});

