import { CreateDeploymentCommand, CreateResourceCommand, PutIntegrationCommand, PutIntegrationResponseCommand, PutMethodCommand, PutMethodResponseCommand, UpdateApiKeyCommand, UpdateStageCommand, CreateUsagePlanCommand, CreateUsagePlanKeyCommand } from '@aws-sdk/client-api-gateway';
import { CreateApiCommand } from '@aws-sdk/client-apigatewayv2';
import { CreateLogGroupCommand, PutRetentionPolicyCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateTableCommand, UpdateTableCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateRoleCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateEventSourceMappingCommand, CreateFunctionCommand, UpdateEventSourceMappingCommand, UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { CreateQueueCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError } from '../../src/errors.js';
import { apply, observe, plan } from '../../src/provision/engine.js';
import type { StackOptions } from '../../src/provision/types.js';
import { ACCOUNT, REGION, TAGS, TEST_CODE, convergedAccount, emptyAccount, mockAws, mutatingCommands, resetMocks, sentCommands, session, type AccountState, type Mocks } from '../helpers/fake-aws.js';
import { ACCEPTED_TEMPLATE, SEND_MESSAGE_TEMPLATE } from '../../src/provision/rest-api-shapes.js';

let mocks: Mocks | undefined;
afterEach(() => {
  if (mocks) resetMocks(mocks);
  mocks = undefined;
});

async function up(state: AccountState, options: StackOptions = {}) {
  mocks = mockAws(state);
  const s = await session(options);
  const observed = await observe(s.ctx);
  const items = await plan(s.ctx, observed);
  await apply(s.ctx, observed, items, (_item, run) => run());
  return { m: mocks, items, ctx: s.ctx };
}

const input = <T>(calls: { args: [{ input: T }] }[], i = 0) => calls[i]!.args[0].input;

describe('up from an empty account', () => {
  it('creates every resource in dependency order', async () => {
    const { m, items } = await up(emptyAccount());
    expect(items.every((i) => i.action === 'create')).toBe(true);
    expect(mutatingCommands(m)).toEqual([
      'iam:CreateRole', 'iam:PutRolePolicy',
      // The WebSocket API: models, then $connect (MOCK), invoke and subscribe (integration, its response, route, route response), then the stage.
      'apigatewayv2:CreateApi', 'apigatewayv2:CreateModel', 'apigatewayv2:CreateModel',
      'apigatewayv2:CreateIntegration', 'apigatewayv2:CreateIntegrationResponse', 'apigatewayv2:CreateRoute',
      ...Array(2).fill(['apigatewayv2:CreateIntegration', 'apigatewayv2:CreateIntegrationResponse', 'apigatewayv2:CreateRoute', 'apigatewayv2:CreateRouteResponse']).flat(),
      'apigatewayv2:CreateStage', 'apigatewayv2:CreateDeployment',
      'iam:CreateRole', 'iam:PutRolePolicy',
      'sqs:CreateQueue', 'sqs:CreateQueue', 'sqs:CreateQueue',
      'dynamodb:CreateTable', 'dynamodb:UpdateTimeToLive',
      'logs:CreateLogGroup', 'logs:PutRetentionPolicy',
      'lambda:CreateFunction', 'lambda:CreateEventSourceMapping',
      'apigateway:CreateRestApi', 'apigateway:CreateResource', 'apigateway:CreateResource', 'apigateway:CreateResource', 'apigateway:CreateModel', 'apigateway:CreateRequestValidator',
      'apigateway:PutGatewayResponse', 'apigateway:PutGatewayResponse', 'apigateway:PutGatewayResponse',
      // POST /invokeModel and its CORS preflight
      'apigateway:PutMethod', 'apigateway:PutMethodResponse', 'apigateway:PutMethodResponse', 'apigateway:PutMethodResponse',
      'apigateway:PutIntegration', 'apigateway:PutIntegrationResponse', 'apigateway:PutIntegrationResponse', 'apigateway:PutIntegrationResponse',
      'apigateway:PutMethod', 'apigateway:PutMethodResponse', 'apigateway:PutIntegration', 'apigateway:PutIntegrationResponse',
      // GET /results/{id} (200, 202, 400, 429, 500) and its CORS preflight
      'apigateway:PutMethod', ...Array(5).fill('apigateway:PutMethodResponse'),
      'apigateway:PutIntegration', 'apigateway:PutIntegrationResponse', 'apigateway:PutIntegrationResponse', 'apigateway:PutIntegrationResponse',
      'apigateway:PutMethod', 'apigateway:PutMethodResponse', 'apigateway:PutIntegration', 'apigateway:PutIntegrationResponse',
      'apigateway:CreateDeployment', 'apigateway:UpdateStage',
      'apigateway:CreateApiKey', 'apigateway:CreateUsagePlan', 'apigateway:CreateUsagePlanKey',
    ]);
  });

  it('creates the queues with encryption, retention, and a redrive policy to the DLQ', async () => {
    const { m } = await up(emptyAccount(), { timeout: 60, maxReceiveCount: 3 });
    const calls = m.sqs.commandCalls(CreateQueueCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([
      { QueueName: 'demo-requests-dlq', Attributes: { SqsManagedSseEnabled: 'true', MessageRetentionPeriod: '1209600' }, tags: TAGS },
      { QueueName: 'demo-results', Attributes: { SqsManagedSseEnabled: 'true', MessageRetentionPeriod: '345600' }, tags: TAGS },
      {
        QueueName: 'demo-requests',
        Attributes: {
          SqsManagedSseEnabled: 'true', MessageRetentionPeriod: '345600', VisibilityTimeout: '360',
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:demo-requests-dlq`, maxReceiveCount: 3 }),
        },
        tags: TAGS,
      },
    ]);
  });

  it('creates the results table on demand, tagged, with TTL on expiresAt once it is ACTIVE', async () => {
    const { m } = await up(emptyAccount(), { tags: { team: 'ml' } });
    expect(m.dynamodb.commandCalls(CreateTableCommand).map((c) => c.args[0].input)).toEqual([{
      TableName: 'demo-results',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      Tags: [{ Key: 'team', Value: 'ml' }, { Key: 'bedrock-queue:stack', Value: 'demo' }],
    }]);
    expect(m.dynamodb.commandCalls(UpdateTimeToLiveCommand).map((c) => c.args[0].input)).toEqual([{ TableName: 'demo-results', TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' } }]);
    expect(sentCommands(m).filter((c) => c.startsWith('dynamodb:'))).toEqual(['dynamodb:DescribeTable', 'dynamodb:CreateTable', 'dynamodb:DescribeTable', 'dynamodb:UpdateTimeToLive']);
  });

  it('grants each role exactly the ARNs it needs, under /bedrock-queue/', async () => {
    const { m } = await up(emptyAccount(), { tags: { team: 'ml' } });
    const roles = m.iam.commandCalls(CreateRoleCommand).map((c) => c.args[0].input);
    expect(roles.map((r) => [r.RoleName, r.Path, JSON.parse(r.AssumeRolePolicyDocument!).Statement[0].Principal.Service])).toEqual([
      ['demo-api', '/bedrock-queue/', 'apigateway.amazonaws.com'],
      ['demo-worker', '/bedrock-queue/', 'lambda.amazonaws.com'],
    ]);
    expect(roles[0]!.Tags).toEqual([{ Key: 'team', Value: 'ml' }, { Key: 'bedrock-queue:stack', Value: 'demo' }]);
    const policies = m.iam.commandCalls(PutRolePolicyCommand).map((c) => JSON.parse(c.args[0].input.PolicyDocument!));
    expect(policies[0]).toEqual({ Version: '2012-10-17', Statement: [
      { Sid: 'SendRequests', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:demo-requests` },
      { Sid: 'ReadResults', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/demo-results` },
    ] });
    // The worker may post to the connections of the API this up created, and no other's.
    const worker = convergedAccount().roles['demo-worker']!.policy as { Statement: { Sid: string; Resource: string }[] };
    const newApi = m.apigatewayv2.commandCalls(CreateApiCommand)[0]!;
    const apiId = (await newApi.returnValue as { ApiId: string }).ApiId;
    expect(policies[1]).toEqual({ ...worker, Statement: worker.Statement.map((s) => (s.Sid === 'PushToListeners' ? { ...s, Resource: `arn:aws:execute-api:${REGION}:${ACCOUNT}:${apiId}/prod/POST/@connections/*` } : s)) });
    expect(JSON.stringify(policies)).not.toContain('"Resource":"*"');
  });

  it('grants a plain foundation model in this Region only', async () => {
    const { m } = await up(emptyAccount(), { model: 'anthropic.claude-3-haiku-20240307-v1:0' });
    const worker = JSON.parse(input(m.iam.commandCalls(PutRolePolicyCommand), 1).PolicyDocument!);
    expect(worker.Statement.filter((s: { Action: string }) => s.Action === 'bedrock:InvokeModel')).toEqual([
      { Sid: 'InvokeModel', Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: `arn:aws:bedrock:${REGION}::foundation-model/anthropic.claude-3-haiku-20240307-v1:0` },
    ]);
  });

  it('creates the function from the bundle, and a mapping that bounds model calls by its concurrency', async () => {
    const { m } = await up(emptyAccount(), { concurrency: 4 });
    const fn = input(m.lambda.commandCalls(CreateFunctionCommand));
    expect(fn).toMatchObject({
      FunctionName: 'demo-worker', Runtime: 'nodejs22.x', Handler: 'index.handler', Timeout: 120, MemorySize: 512,
      Role: `arn:aws:iam::${ACCOUNT}:role/bedrock-queue/demo-worker`, Tags: TAGS,
      Environment: { Variables: { BQ_STACK_NAME: 'demo', BQ_RESULTS_QUEUE_URL: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/demo-results`, BQ_MODEL_ID: 'global.anthropic.claude-sonnet-4-6', BQ_DEFAULT_MAX_TOKENS: '1024' } },
    });
    expect(Buffer.from(fn.Code!.ZipFile!)).toEqual(Buffer.from(TEST_CODE.zip));
    expect(input(m.lambda.commandCalls(CreateEventSourceMappingCommand))).toEqual({
      EventSourceArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:demo-requests`, FunctionName: 'demo-worker', Enabled: true,
      BatchSize: 1, MaximumBatchingWindowInSeconds: 0, FunctionResponseTypes: ['ReportBatchItemFailures'], ScalingConfig: { MaximumConcurrency: 4 }, Tags: TAGS,
    });
  });

  it('builds an API that URL-encodes the body, needs a key, and never answers an SQS error with 200', async () => {
    const { m } = await up(emptyAccount());
    const post = input(m.apigateway.commandCalls(PutMethodCommand));
    expect(post).toEqual({ restApiId: 'newapi', resourceId: 'newres', httpMethod: 'POST', authorizationType: 'NONE', apiKeyRequired: true, requestValidatorId: 'newval', requestModels: { 'application/json': 'InvokeModelRequest' } });
    expect(input(m.apigateway.commandCalls(PutIntegrationCommand))).toEqual({
      restApiId: 'newapi', resourceId: 'newres', httpMethod: 'POST', integrationHttpMethod: 'POST', type: 'AWS',
      uri: `arn:aws:apigateway:${REGION}:sqs:path/${ACCOUNT}/demo-requests`, credentials: `arn:aws:iam::${ACCOUNT}:role/bedrock-queue/demo-api`,
      requestParameters: { 'integration.request.header.Content-Type': "'application/x-www-form-urlencoded'", 'integration.request.header.Accept': "'application/xml'" },
      // What the templates do is rendered in api-templates.test.ts.
      requestTemplates: { 'application/json': SEND_MESSAGE_TEMPLATE },
      passthroughBehavior: 'NEVER',
    });
    expect(SEND_MESSAGE_TEMPLATE).toContain('Action=SendMessageBatch&SendMessageBatchRequestEntry.1.Id=$id&SendMessageBatchRequestEntry.1.MessageBody=$util.urlEncode($input.body)');
    const responses = m.apigateway.commandCalls(PutIntegrationResponseCommand).slice(0, 3).map((c) => c.args[0].input);
    expect(responses.map((r) => [r.statusCode, r.selectionPattern])).toEqual([['202', undefined], ['400', '4\\d{2}'], ['500', '5\\d{2}']]);
    // The body is the id; the Location header names where its result will be.
    expect(responses[0]!.responseTemplates).toEqual({ 'application/json': ACCEPTED_TEMPLATE });
    expect(input(m.apigateway.commandCalls(PutMethodResponseCommand)).responseParameters).toEqual({ 'method.response.header.Access-Control-Allow-Origin': false, 'method.response.header.Location': false, 'method.response.header.Access-Control-Expose-Headers': false });
  });

  it('reads results with GET /results/{id}: a key, DynamoDB GetItem as the API role, 202 and Retry-After while pending, errors never 200', async () => {
    const { m } = await up(emptyAccount());
    expect(m.apigateway.commandCalls(CreateResourceCommand).map((c) => c.args[0].input)).toEqual([
      { restApiId: 'newapi', parentId: 'newroot', pathPart: 'invokeModel' },
      { restApiId: 'newapi', parentId: 'newroot', pathPart: 'results' },
      { restApiId: 'newapi', parentId: 'newres', pathPart: '{id}' },
    ]);
    const get = m.apigateway.commandCalls(PutMethodCommand).map((c) => c.args[0].input).find((i) => i.httpMethod === 'GET');
    expect(get).toEqual({ restApiId: 'newapi', resourceId: 'newres', httpMethod: 'GET', authorizationType: 'NONE', apiKeyRequired: true });
    const integration = m.apigateway.commandCalls(PutIntegrationCommand).map((c) => c.args[0].input).find((i) => i.httpMethod === 'GET');
    expect(integration).toEqual({
      restApiId: 'newapi', resourceId: 'newres', httpMethod: 'GET', integrationHttpMethod: 'POST', type: 'AWS',
      uri: `arn:aws:apigateway:${REGION}:dynamodb:action/GetItem`, credentials: `arn:aws:iam::${ACCOUNT}:role/bedrock-queue/demo-api`,
      requestTemplates: { 'application/json': "#set($id = $util.escapeJavaScript($input.params('id')).replaceAll(\"\\\\'\",\"'\"))" +
        '{"TableName": "demo-results", "Key": {"id": {"S": "$id"}}, "ProjectionExpression": "#r, #e", "ExpressionAttributeNames": {"#r": "record", "#e": "expiresAt"}, "ConsistentRead": true}' },
      passthroughBehavior: 'NEVER',
    });
    const responses = m.apigateway.commandCalls(PutIntegrationResponseCommand).map((c) => c.args[0].input).filter((i) => i.httpMethod === 'GET');
    expect(responses.map((r) => [r.statusCode, r.selectionPattern])).toEqual([['200', undefined], ['400', '4\\d{2}'], ['500', '5\\d{2}']]);
    const ok = responses[0]!.responseTemplates!['application/json']!;
    expect(ok).toContain("#if(!$id.matches('^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'))#set($context.responseOverride.status = 400)");
    expect(ok).toContain('#set($context.responseOverride.status = 202)#set($context.responseOverride.header.Retry-After = "2"){"id": "$util.escapeJavaScript($id)", "status": "pending"}');
    expect(ok).toContain("#set($record = $input.path('$.Item.record.S'))");
    expect(ok).toContain('#{else}$record#{end}');
    const throttled = responses[1]!.responseTemplates!['application/json']!;
    expect(throttled).toContain("$type.contains('ProvisionedThroughputExceeded')");
    expect(throttled).toContain('#set($context.responseOverride.status = 429)');
    expect(throttled).toContain('#set($context.responseOverride.status = 500)');
    const declared = m.apigateway.commandCalls(PutMethodResponseCommand).map((c) => c.args[0].input).filter((i) => i.httpMethod === 'GET');
    expect(declared.map((d) => [d.statusCode, Object.keys(d.responseParameters!).sort()])).toEqual([
      ['200', ['method.response.header.Access-Control-Allow-Origin', 'method.response.header.Access-Control-Expose-Headers']],
      ['202', ['method.response.header.Access-Control-Allow-Origin', 'method.response.header.Access-Control-Expose-Headers', 'method.response.header.Retry-After']],
      ['400', ['method.response.header.Access-Control-Allow-Origin', 'method.response.header.Access-Control-Expose-Headers']],
      ['429', ['method.response.header.Access-Control-Allow-Origin', 'method.response.header.Access-Control-Expose-Headers', 'method.response.header.Retry-After']],
      ['500', ['method.response.header.Access-Control-Allow-Origin']],
    ]);
    expect(input(m.apigateway.commandCalls(CreateDeploymentCommand))).toMatchObject({ restApiId: 'newapi', stageName: 'prod' });
    expect(input(m.apigateway.commandCalls(CreateUsagePlanCommand))).toMatchObject({ apiStages: [{ apiId: 'newapi', stage: 'prod' }, { apiId: 'ws1', stage: 'prod' }], throttle: { rateLimit: 50, burstLimit: 100 }, tags: TAGS });
    expect(input(m.apigateway.commandCalls(CreateUsagePlanKeyCommand))).toEqual({ usagePlanId: 'newplan', keyId: 'newkey', keyType: 'API_KEY' });
  });

  it('opens the API with --no-api-key', async () => {
    const { m } = await up(emptyAccount(), { apiKeyRequired: false });
    expect(input(m.apigateway.commandCalls(PutMethodCommand)).apiKeyRequired).toBe(false);
  });
});

describe('up on a converged stack', () => {
  it('makes no mutating call and plans every resource unchanged', async () => {
    const { m, items } = await up(convergedAccount());
    expect(items.filter((i) => i.action !== 'unchanged')).toEqual([]);
    expect(mutatingCommands(m)).toEqual([]);
  });

  it('keeps live settings that were not given (a concurrency set later survives a plain up)', async () => {
    const state = convergedAccount();
    state.mappings[0]!.ScalingConfig = { MaximumConcurrency: 4 };
    state.functions['demo-worker']!.config.MemorySize = 1024;
    const { m, ctx } = await up(state);
    expect(mutatingCommands(m)).toEqual([]);
    expect(ctx.settings).toMatchObject({ concurrency: 4, memory: 1024 });
  });

  it('applies a setting given on the command line', async () => {
    const state = convergedAccount();
    state.mappings[0]!.ScalingConfig = { MaximumConcurrency: 4 };
    const { m } = await up(state, { concurrency: 7 });
    expect(mutatingCommands(m)).toEqual(['lambda:UpdateEventSourceMapping']);
    expect(input(m.lambda.commandCalls(UpdateEventSourceMappingCommand))).toEqual({
      UUID: 'esm-1', BatchSize: 1, MaximumBatchingWindowInSeconds: 0, FunctionResponseTypes: ['ReportBatchItemFailures'], ScalingConfig: { MaximumConcurrency: 7 },
    });
  });
});

describe('drift repair', () => {
  const cases: { what: string; drift: (s: AccountState) => void; expected: string[]; check?: (m: Mocks) => void }[] = [
    {
      what: 'a changed queue attribute is set back, alone',
      drift: (s) => (s.queues['demo-requests']!.attributes.VisibilityTimeout = '30'),
      expected: ['sqs:SetQueueAttributes'],
      check: (m) => expect(input(m.sqs.commandCalls(SetQueueAttributesCommand))).toEqual({ QueueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/demo-requests`, Attributes: { VisibilityTimeout: '720' } }),
    },
    {
      what: 'a redrive policy pointing elsewhere is restored',
      drift: (s) => (s.queues['demo-requests']!.attributes.RedrivePolicy = `{"deadLetterTargetArn":"arn:aws:sqs:${REGION}:${ACCOUNT}:other","maxReceiveCount":"5"}`),
      expected: ['sqs:SetQueueAttributes'],
    },
    { what: 'a deleted queue is created again', drift: (s) => delete s.queues['demo-results'], expected: ['sqs:CreateQueue'] },
    {
      what: 'a widened role policy is put back',
      drift: (s) => (s.roles['demo-worker']!.policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
      expected: ['iam:PutRolePolicy'],
      check: (m) => expect(JSON.parse(input(m.iam.commandCalls(PutRolePolicyCommand)).PolicyDocument!)).toEqual(convergedAccount().roles['demo-worker']!.policy),
    },
    {
      what: 'a changed trust policy is put back',
      drift: (s) => (s.roles['demo-api']!.trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }] }),
      expected: ['iam:UpdateAssumeRolePolicy'],
      check: (m) => expect(JSON.parse(input(m.iam.commandCalls(UpdateAssumeRolePolicyCommand)).PolicyDocument!).Statement[0].Principal).toEqual({ Service: 'apigateway.amazonaws.com' }),
    },
    { what: 'a deleted inline policy is put back', drift: (s) => delete s.roles['demo-api']!.policy, expected: ['iam:PutRolePolicy'] },
    {
      what: 'a missing log group retention is set',
      drift: (s) => delete s.logGroups['/aws/lambda/demo-worker']!.retentionInDays,
      expected: ['logs:PutRetentionPolicy'],
      check: (m) => expect(input(m.logs.commandCalls(PutRetentionPolicyCommand))).toEqual({ logGroupName: '/aws/lambda/demo-worker', retentionInDays: 14 }),
    },
    { what: 'a results table switched to provisioned capacity is put back on demand', drift: (s) => void (s.tables['demo-results']!.billingMode = 'PROVISIONED'), expected: ['dynamodb:UpdateTable'],
      check: (m) => expect(input(m.dynamodb.commandCalls(UpdateTableCommand))).toEqual({ TableName: 'demo-results', BillingMode: 'PAY_PER_REQUEST' }) },
    { what: 'a results table whose TTL was turned off gets it back on expiresAt', drift: (s) => void (s.tables['demo-results']!.ttl = { status: 'DISABLED', attribute: 'expiresAt' }), expected: ['dynamodb:UpdateTimeToLive'],
      check: (m) => expect(input(m.dynamodb.commandCalls(UpdateTimeToLiveCommand))).toEqual({ TableName: 'demo-results', TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' } }) },
    { what: 'a deleted log group is created again', drift: (s) => delete s.logGroups['/aws/lambda/demo-worker'], expected: ['logs:CreateLogGroup', 'logs:PutRetentionPolicy'],
      check: (m) => expect(input(m.logs.commandCalls(CreateLogGroupCommand))).toEqual({ logGroupName: '/aws/lambda/demo-worker', tags: TAGS }) },
    {
      what: 'a changed runtime and environment are put back',
      drift: (s) => {
        s.functions['demo-worker']!.config.Runtime = 'nodejs20.x';
        delete s.functions['demo-worker']!.config.Environment!.Variables!.BQ_RESULTS_QUEUE_URL;
      },
      expected: ['lambda:UpdateFunctionConfiguration'],
      check: (m) => expect(input(m.lambda.commandCalls(UpdateFunctionConfigurationCommand))).toMatchObject({ FunctionName: 'demo-worker', Runtime: 'nodejs22.x', Environment: { Variables: { BQ_RESULTS_QUEUE_URL: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/demo-results` } } }),
    },
    {
      what: 'different code is uploaded only when its hash differs',
      drift: (s) => (s.functions['demo-worker']!.config.CodeSha256 = 'c29tZXRoaW5nIGVsc2U='),
      expected: ['lambda:UpdateFunctionCode'],
      check: (m) => expect(Buffer.from(input(m.lambda.commandCalls(UpdateFunctionCodeCommand)).ZipFile!)).toEqual(Buffer.from(TEST_CODE.zip)),
    },
    { what: 'a deleted mapping is created again', drift: (s) => (s.mappings = []), expected: ['lambda:CreateEventSourceMapping'] },
    { what: 'a mapping without partial batch responses is fixed', drift: (s) => (s.mappings[0]!.FunctionResponseTypes = []), expected: ['lambda:UpdateEventSourceMapping'] },
    {
      what: 'a removed method is put back and deployed',
      drift: (s) => delete s.restApis[0]!.resources[1]!.resourceMethods!.POST,
      expected: ['apigateway:PutMethod', 'apigateway:PutMethodResponse', 'apigateway:PutMethodResponse', 'apigateway:PutMethodResponse', 'apigateway:PutIntegration',
        'apigateway:PutIntegrationResponse', 'apigateway:PutIntegrationResponse', 'apigateway:PutIntegrationResponse', 'apigateway:CreateDeployment'],
    },
    {
      what: 'the reference pattern\'s unencoded template is replaced and deployed',
      drift: (s) => (s.restApis[0]!.resources[1]!.resourceMethods!.POST!.methodIntegration!.requestTemplates = { 'application/json': 'Action=SendMessage&MessageBody=$input.body' }),
      expected: ['apigateway:DeleteMethod', 'apigateway:PutMethod', 'apigateway:PutMethodResponse', 'apigateway:PutMethodResponse', 'apigateway:PutMethodResponse', 'apigateway:PutIntegration',
        'apigateway:PutIntegrationResponse', 'apigateway:PutIntegrationResponse', 'apigateway:PutIntegrationResponse', 'apigateway:CreateDeployment'],
    },
    {
      what: 'a changed stage throttle is set back without a new deployment',
      drift: (s) => (s.restApis[0]!.stage!.methodSettings = {}),
      expected: ['apigateway:UpdateStage'],
      check: (m) => expect(input(m.apigateway.commandCalls(UpdateStageCommand)).patchOperations).toEqual([
        { op: 'replace', path: '/*/*/throttling/rateLimit', value: '50' }, { op: 'replace', path: '/*/*/throttling/burstLimit', value: '100' }]),
    },
    { what: 'a deleted stage is deployed again, with its throttle', drift: (s) => delete s.restApis[0]!.stage, expected: ['apigateway:CreateDeployment', 'apigateway:UpdateStage'] },
    {
      what: 'a disabled API key is enabled',
      drift: (s) => (s.apiKeys[0]!.enabled = false),
      expected: ['apigateway:UpdateApiKey'],
      check: (m) => expect(input(m.apigateway.commandCalls(UpdateApiKeyCommand))).toEqual({ apiKey: 'key1', patchOperations: [{ op: 'replace', path: '/enabled', value: 'true' }] }),
    },
    { what: 'an API key removed from the usage plan is added back', drift: (s) => (s.usagePlans[0]!.keyIds = []), expected: ['apigateway:CreateUsagePlanKey'] },
    { what: 'tags someone else added are kept', drift: (s) => (s.queues['demo-results']!.tags = { ...TAGS, owner: 'someone' }), expected: [] },
  ];

  for (const c of cases) {
    it(c.what, async () => {
      const state = convergedAccount();
      c.drift(state);
      const { m } = await up(state);
      expect(mutatingCommands(m)).toEqual(c.expected);
      c.check?.(m);
    });
  }
  it('plans only the queue deleted by hand: the function, whose results URL comes back with it, is not called drifted', async () => {
    const state = convergedAccount();
    delete state.queues['demo-results'];
    const { items } = await up(state);
    expect(items.filter((i) => i.action !== 'unchanged').map((i) => [i.action, i.name])).toEqual([['create', 'demo-results']]);
  });
});

it('adds a --tag that is missing, the mapping included, without touching the rest', async () => {
  const { m } = await up(convergedAccount(), { tags: { team: 'ml' } });
  const mutations = mutatingCommands(m);
  expect(mutations).toEqual(['iam:TagRole', 'apigatewayv2:TagResource', 'iam:TagRole', 'sqs:TagQueue', 'sqs:TagQueue', 'sqs:TagQueue', 'dynamodb:TagResource', 'logs:TagResource', 'lambda:TagResource', 'lambda:TagResource', 'apigateway:TagResource', 'apigateway:TagResource', 'apigateway:TagResource']);
});

describe('ownership', () => {
  it('stops before any change when a resource with our name lacks the stack tag', async () => {
    const state = convergedAccount();
    state.queues['demo-requests']!.tags = { owner: 'someone-else' };
    state.functions['demo-worker']!.config.Timeout = 30;
    await expect(up(state)).rejects.toThrow(CliError);
    await expect(up(state)).rejects.toThrow(/SQS queue demo-requests exists without the tag bedrock-queue:stack=demo, so bedrock-queue will not touch it/);
    expect(mutatingCommands(mocks!)).toEqual([]);
  });

  it('leaves a results table whose TTL is on another attribute to its operator, before any change', async () => {
    const state = convergedAccount();
    state.tables['demo-results']!.ttl = { status: 'ENABLED', attribute: 'deleteAt' };
    await expect(up(state)).rejects.toThrow(/Table demo-results has time to live on attribute deleteAt, not expiresAt: disable it/);
    expect(mutatingCommands(mocks!)).toEqual([]);
  });

  it('treats a REST API tagged for another stack as not ours', async () => {
    const state = convergedAccount();
    state.restApis[0]!.tags = { 'bedrock-queue:stack': 'other' };
    await expect(up(state)).rejects.toThrow(/API Gateway REST API demo/);
    expect(mutatingCommands(mocks!)).toEqual([]);
  });
});
