/**
 * aws-sdk-client-mock wiring for unit tests: reads are served from a plain description of the
 * account (`state`), written out the way AWS returns it; mutating calls resolve and are recorded.
 * Tests change `state` to simulate drift, and assert the exact commands sent.
 */
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateDeploymentCommand,
  CreateModelCommand,
  CreateRequestValidatorCommand,
  CreateResourceCommand,
  CreateRestApiCommand,
  CreateUsagePlanCommand,
  GetApiKeysCommand,
  GetGatewayResponsesCommand,
  GetModelsCommand,
  GetRequestValidatorsCommand,
  GetResourcesCommand,
  GetRestApisCommand,
  GetStageCommand,
  GetUsagePlanKeysCommand,
  GetUsagePlansCommand,
  NotFoundException,
  type Method,
} from '@aws-sdk/client-api-gateway';
import { CloudWatchLogsClient, DescribeLogGroupsCommand, ListTagsForResourceCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ListTagsOfResourceCommand,
  ResourceNotFoundException as TableNotFound,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { GetRoleCommand, GetRolePolicyCommand, IAMClient, ListRolePoliciesCommand, ListAttachedRolePoliciesCommand, NoSuchEntityException } from '@aws-sdk/client-iam';
import {
  CreateEventSourceMappingCommand,
  CreateFunctionCommand,
  DeleteEventSourceMappingCommand,
  GetEventSourceMappingCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  LambdaClient,
  ListEventSourceMappingsCommand,
  ListTagsCommand,
  ResourceNotFoundException,
  type EventSourceMappingConfiguration,
  type FunctionConfiguration,
} from '@aws-sdk/client-lambda';
import { CreateQueueCommand, type CreateQueueCommandInput, DeleteQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ListQueuesCommand, ListQueueTagsCommand, QueueDoesNotExist, SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { REQUEST_BODY_SCHEMA, resourceNames } from '../../src/contract.js';
import { resolveSettings } from '../../src/settings.js';
import type { Ctx } from '../../src/provision/types.js';
import type { ApiGatewayV2Client } from '@aws-sdk/client-apigatewayv2';
import { convergedWebSocketApi, mockWebSocketApis, type WebSocketApiState } from './fake-websocket-api.js';
import { mockScheduler, type ScheduleGroupState } from './fake-scheduler.js';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { S3Client } from '@aws-sdk/client-s3';
import { mockBuckets, type BucketState } from './fake-s3.js';
import { ACCEPTED_TEMPLATE, GET_ITEM_TEMPLATE, RESULT_TEMPLATE, SEND_MESSAGE_TEMPLATE, SQS_REQUEST_PARAMETERS, STORE_ERROR_TEMPLATE } from '../../src/provision/rest-api-shapes.js';
import { afterEach } from 'vitest';
import { apply, destroy, observe, openSession, plan } from '../../src/provision/engine.js';
import type { StackOptions, WorkerCode } from '../../src/provision/types.js';
import { codeSha256, deterministicZip } from '../../src/provision/zip.js';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
export const STACK = 'demo';
export const TAGS = { 'bedrock-queue:stack': STACK };
export const TEST_CODE: WorkerCode = (() => {
  const zip = deterministicZip([{ name: 'index.mjs', data: Buffer.from('export const handler = async () => ({ batchItemFailures: [] });\n') }]);
  return { zip, sha256: codeSha256(zip) };
})();

const queueUrl = (name: string) => `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
const encode = (doc: unknown) => encodeURIComponent(JSON.stringify(doc));

export interface QueueState { attributes: Record<string, string>; tags: Record<string, string> }
export interface RoleState { path: string; trust: unknown; policy?: unknown; tags: Record<string, string>; otherPolicies?: Record<string, unknown> }

export interface AccountState {
  queues: Record<string, QueueState>;
  roles: Record<string, RoleState>;
  logGroups: Record<string, { retentionInDays?: number; tags: Record<string, string> }>;
  functions: Record<string, { config: FunctionConfiguration; tags: Record<string, string> }>;
  mappings: EventSourceMappingConfiguration[];
  /** Tags of each mapping by UUID (ListTags): mappings do not inherit the function's. */
  mappingTags: Record<string, Record<string, string>>;
  restApis: { id: string; name: string; tags: Record<string, string>; rootResourceId: string; resources: { id: string; path: string; resourceMethods?: Record<string, Method> }[];
    models: { name: string; contentType: string; schema: string }[]; validators: { id: string; name: string; validateRequestBody: boolean; validateRequestParameters: boolean }[];
    gatewayResponses: { responseType: string; statusCode?: string; responseTemplates?: Record<string, string>; responseParameters?: Record<string, string>; defaultResponse: boolean }[];
    stage?: { stageName: string; deploymentId: string; methodSettings: Record<string, { throttlingRateLimit?: number; throttlingBurstLimit?: number }> } }[];
  apiKeys: { id: string; name: string; enabled: boolean; tags: Record<string, string> }[];
  usagePlans: { id: string; name: string; apiStages: { apiId: string; stage: string }[]; throttle?: { rateLimit: number; burstLimit: number }; tags: Record<string, string>; keyIds: string[] }[];
  tables: Record<string, TableState>;
  websocketApis: WebSocketApiState[];
  scheduleGroups: Record<string, ScheduleGroupState>;
  buckets: Record<string, BucketState>;
}

export interface TableState { billingMode: string; status: string; ttl?: { status: string; attribute: string }; tags: Record<string, string> }

export function emptyAccount(): AccountState {
  return { queues: {}, roles: {}, logGroups: {}, functions: {}, mappings: [], mappingTags: {}, restApis: [], apiKeys: [], usagePlans: [], tables: {}, websocketApis: [], scheduleGroups: {}, buckets: {} };
}

const WORKER_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'ConsumeRequests', Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes', 'sqs:SendMessage'], Resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:demo-requests` },
    { Sid: 'PublishResults', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:demo-results` },
    { Sid: 'StoreResults', Effect: 'Allow', Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:GetItem'], Resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/demo-results` },
    { Sid: 'InvokeInferenceProfile', Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: `arn:aws:bedrock:${REGION}:${ACCOUNT}:inference-profile/global.anthropic.claude-sonnet-4-6` },
    {
      Sid: 'InvokeProfileModel', Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: 'arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-6',
      Condition: { StringEquals: { 'bedrock:InferenceProfileArn': `arn:aws:bedrock:${REGION}:${ACCOUNT}:inference-profile/global.anthropic.claude-sonnet-4-6` } },
    },
    { Sid: 'WriteOwnLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/demo-worker:*` },
    { Sid: 'PushToListeners', Effect: 'Allow', Action: 'execute-api:ManageConnections', Resource: `arn:aws:execute-api:${REGION}:${ACCOUNT}:ws123/prod/POST/@connections/*` },
  ],
};

/** Enough of an engine context for the WebSocket API's shapes, with default settings. */
const SHAPE_CONTEXT = { stack: STACK, names: resourceNames(STACK), account: { region: REGION, accountId: ACCOUNT, partition: 'aws' }, settings: resolveSettings({}, {}) } as unknown as Ctx;

const CORS = { 'method.response.header.Access-Control-Allow-Origin': "'*'" };
const errorBody = (m: string) => `{"message": "${m}", "requestId": "$context.requestId"}`;

/** A stack `up` converged with default settings, as the AWS APIs describe it. */
export function convergedAccount(): AccountState {
  const trust = (service: string) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }] });
  return {
    queues: {
      'demo-requests-dlq': { attributes: { QueueArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:demo-requests-dlq`, MessageRetentionPeriod: '1209600', SqsManagedSseEnabled: 'true', VisibilityTimeout: '30', ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' }, tags: { ...TAGS } },
      'demo-results': { attributes: { MessageRetentionPeriod: '345600', SqsManagedSseEnabled: 'true', VisibilityTimeout: '30', ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' }, tags: { ...TAGS } },
      'demo-requests': {
        attributes: {
          MessageRetentionPeriod: '345600', SqsManagedSseEnabled: 'true', VisibilityTimeout: '720',
          RedrivePolicy: `{"deadLetterTargetArn":"arn:aws:sqs:${REGION}:${ACCOUNT}:demo-requests-dlq","maxReceiveCount":5}`,
          ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0',
        },
        tags: { ...TAGS },
      },
    },
    roles: {
      'demo-api': { path: '/bedrock-queue/', trust: trust('apigateway.amazonaws.com'), tags: { ...TAGS },
        policy: { Version: '2012-10-17', Statement: [
          { Sid: 'SendRequests', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:demo-requests` },
          { Sid: 'ReadResults', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/demo-results` },
        ] } },
      'demo-worker': { path: '/bedrock-queue/', trust: trust('lambda.amazonaws.com'), tags: { ...TAGS }, policy: WORKER_POLICY },
    },
    logGroups: { '/aws/lambda/demo-worker': { retentionInDays: 14, tags: { ...TAGS } } },
    functions: {
      'demo-worker': {
        tags: { ...TAGS },
        config: {
          FunctionName: 'demo-worker', FunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:demo-worker`, Runtime: 'nodejs22.x', Handler: 'index.handler',
          Role: `arn:aws:iam::${ACCOUNT}:role/bedrock-queue/demo-worker`, Timeout: 120, MemorySize: 512, CodeSha256: TEST_CODE.sha256, State: 'Active', LastUpdateStatus: 'Successful',
          Environment: { Variables: { BQ_STACK_NAME: 'demo', BQ_RESULTS_QUEUE_URL: queueUrl('demo-results'), BQ_MODEL_ID: 'global.anthropic.claude-sonnet-4-6', BQ_DEFAULT_MAX_TOKENS: '1024', BQ_MAX_RECEIVE_COUNT: '5', BQ_RESULTS_TABLE: 'demo-results', BQ_RESULTS_TTL_SECONDS: '604800',
            BQ_CONNECTIONS_ENDPOINT: `https://ws123.execute-api.${REGION}.amazonaws.com/prod` } },
        },
      },
    },
    mappingTags: { 'esm-1': { ...TAGS } },
    mappings: [{
      UUID: 'esm-1', EventSourceMappingArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:event-source-mapping:esm-1`, EventSourceArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:demo-requests`, FunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:demo-worker`,
      BatchSize: 1, MaximumBatchingWindowInSeconds: 0, FunctionResponseTypes: ['ReportBatchItemFailures'], ScalingConfig: { MaximumConcurrency: 10 }, State: 'Enabled',
    }],
    restApis: [{
      id: 'api123', name: 'demo', tags: { ...TAGS }, rootResourceId: 'root1',
      resources: [
        { id: 'root1', path: '/' },
        {
          id: 'res1', path: '/invokeModel', resourceMethods: {
            POST: {
              httpMethod: 'POST', authorizationType: 'NONE', apiKeyRequired: true, requestValidatorId: 'val1', requestModels: { 'application/json': 'InvokeModelRequest' },
              methodResponses: Object.fromEntries(['202', '400', '500'].map((s) => [s, { statusCode: s, responseParameters: { 'method.response.header.Access-Control-Allow-Origin': false, ...(s === '202' ? { 'method.response.header.Location': false, 'method.response.header.Access-Control-Expose-Headers': false } : {}) } }])),
              methodIntegration: {
                type: 'AWS', httpMethod: 'POST', uri: `arn:aws:apigateway:${REGION}:sqs:path/${ACCOUNT}/demo-requests`, credentials: `arn:aws:iam::${ACCOUNT}:role/bedrock-queue/demo-api`,
                requestParameters: SQS_REQUEST_PARAMETERS,
                requestTemplates: { 'application/json': SEND_MESSAGE_TEMPLATE },
                passthroughBehavior: 'NEVER', timeoutInMillis: 29000, cacheNamespace: 'res1', cacheKeyParameters: [],
                integrationResponses: {
                  '202': { statusCode: '202', responseParameters: { ...CORS, 'method.response.header.Access-Control-Expose-Headers': "'Location'" }, responseTemplates: { 'application/json': ACCEPTED_TEMPLATE } },
                  '400': { statusCode: '400', selectionPattern: '4\\d{2}', responseParameters: CORS, responseTemplates: { 'application/json': errorBody('The queue rejected the request') } },
                  '500': { statusCode: '500', selectionPattern: '5\\d{2}', responseParameters: CORS, responseTemplates: { 'application/json': errorBody('The queue is unavailable; try again') } },
                },
              },
            },
            OPTIONS: {
              httpMethod: 'OPTIONS', authorizationType: 'NONE', apiKeyRequired: false,
              methodResponses: { '200': { statusCode: '200', responseParameters: { 'method.response.header.Access-Control-Allow-Origin': false, 'method.response.header.Access-Control-Allow-Methods': false, 'method.response.header.Access-Control-Allow-Headers': false } } },
              methodIntegration: {
                type: 'MOCK', requestTemplates: { 'application/json': '{"statusCode": 200}' }, passthroughBehavior: 'WHEN_NO_MATCH', timeoutInMillis: 29000,
                integrationResponses: { '200': { statusCode: '200', responseParameters: { ...CORS, 'method.response.header.Access-Control-Allow-Methods': "'POST,OPTIONS'", 'method.response.header.Access-Control-Allow-Headers': "'Content-Type,X-Api-Key'" } } },
              },
            },
          },
        },
        // GET /results/{id} as API Gateway returns it (its templates are the app's own: up.test checks their text).
        { id: 'res2', path: '/results' },
        {
          id: 'res3', path: '/results/{id}', resourceMethods: {
            GET: {
              httpMethod: 'GET', authorizationType: 'NONE', apiKeyRequired: true,
              methodResponses: Object.fromEntries(['200', '202', '400', '429', '500'].map((s) => [s, { statusCode: s, responseParameters: {
                'method.response.header.Access-Control-Allow-Origin': false, ...(s === '202' || s === '429' ? { 'method.response.header.Retry-After': false } : {}),
                ...(s === '500' ? {} : { 'method.response.header.Access-Control-Expose-Headers': false }),
              } }])),
              methodIntegration: {
                type: 'AWS', httpMethod: 'POST', uri: `arn:aws:apigateway:${REGION}:dynamodb:action/GetItem`, credentials: `arn:aws:iam::${ACCOUNT}:role/bedrock-queue/demo-api`,
                requestTemplates: { 'application/json': GET_ITEM_TEMPLATE('demo-results') },
                passthroughBehavior: 'NEVER', timeoutInMillis: 29000, cacheNamespace: 'res3', cacheKeyParameters: [],
                integrationResponses: {
                  '200': { statusCode: '200', responseParameters: { ...CORS, 'method.response.header.Access-Control-Expose-Headers': "'Retry-After'" }, responseTemplates: { 'application/json': RESULT_TEMPLATE } },
                  '400': { statusCode: '400', selectionPattern: '4\\d{2}', responseParameters: { ...CORS, 'method.response.header.Access-Control-Expose-Headers': "'Retry-After'" }, responseTemplates: { 'application/json': STORE_ERROR_TEMPLATE } },
                  '500': { statusCode: '500', selectionPattern: '5\\d{2}', responseParameters: CORS, responseTemplates: { 'application/json': errorBody('The results store is unavailable; try again') } },
                },
              },
            },
            OPTIONS: {
              httpMethod: 'OPTIONS', authorizationType: 'NONE', apiKeyRequired: false,
              methodResponses: { '200': { statusCode: '200', responseParameters: { 'method.response.header.Access-Control-Allow-Origin': false, 'method.response.header.Access-Control-Allow-Methods': false, 'method.response.header.Access-Control-Allow-Headers': false } } },
              methodIntegration: {
                type: 'MOCK', requestTemplates: { 'application/json': '{"statusCode": 200}' }, passthroughBehavior: 'WHEN_NO_MATCH', timeoutInMillis: 29000,
                integrationResponses: { '200': { statusCode: '200', responseParameters: { ...CORS, 'method.response.header.Access-Control-Allow-Methods': "'GET,OPTIONS'", 'method.response.header.Access-Control-Allow-Headers': "'Content-Type,X-Api-Key'" } } },
              },
            },
          },
        },
      ],
      models: [{ name: 'InvokeModelRequest', contentType: 'application/json', schema: JSON.stringify(REQUEST_BODY_SCHEMA) }],
      validators: [{ id: 'val1', name: 'body-only', validateRequestBody: true, validateRequestParameters: false }],
      gatewayResponses: [
        { responseType: 'BAD_REQUEST_BODY', statusCode: '400', defaultResponse: false, responseParameters: { 'gatewayresponse.header.Access-Control-Allow-Origin': "'*'" },
          responseTemplates: { 'application/json': '{"message": "Invalid request body: $context.error.validationErrorString"}' } },
        ...['DEFAULT_4XX', 'DEFAULT_5XX'].map((t) => ({ responseType: t, defaultResponse: false, responseParameters: { 'gatewayresponse.header.Access-Control-Allow-Origin': "'*'" }, responseTemplates: { 'application/json': '{"message":$context.error.messageString}' } })),
        { responseType: 'THROTTLED', statusCode: '429', defaultResponse: true, responseTemplates: { 'application/json': '{"message":$context.error.messageString}' } },
      ],
      stage: { stageName: 'prod', deploymentId: 'dep1', methodSettings: { '*/*': { throttlingRateLimit: 50, throttlingBurstLimit: 100 } } },
    }],
    apiKeys: [{ id: 'key1', name: 'demo', enabled: true, tags: { ...TAGS } }],
    usagePlans: [{ id: 'plan1', name: 'demo', apiStages: [{ apiId: 'api123', stage: 'prod' }, { apiId: 'ws123', stage: 'prod' }], throttle: { rateLimit: 50, burstLimit: 100 }, tags: { ...TAGS }, keyIds: ['key1'] }],
    tables: { 'demo-results': { billingMode: 'PAY_PER_REQUEST', status: 'ACTIVE', ttl: { status: 'ENABLED', attribute: 'expiresAt' }, tags: { ...TAGS } } },
    websocketApis: [convergedWebSocketApi(SHAPE_CONTEXT, 'ws123', TAGS)],
    scheduleGroups: {},
    buckets: {},
  };
}

export type Mocks = {
  sqs: AwsClientStub<SQSClient>;
  iam: AwsClientStub<IAMClient>;
  lambda: AwsClientStub<LambdaClient>;
  logs: AwsClientStub<CloudWatchLogsClient>;
  apigateway: AwsClientStub<APIGatewayClient>;
  apigatewayv2: AwsClientStub<ApiGatewayV2Client>;
  dynamodb: AwsClientStub<DynamoDBClient>;
  sts: AwsClientStub<STSClient>;
  scheduler: AwsClientStub<SchedulerClient>;
  s3: AwsClientStub<S3Client>;
};

const nameOf = (url?: string) => url!.slice(url!.lastIndexOf('/') + 1);
const notFound = (Err: new (o: { message: string; $metadata: object }) => Error, message: string) => new Err({ message, $metadata: {} });

/** CreateQueue as SQS does it: the queue exists afterwards, with the attributes and tags given. */
export function createQueueIn(state: AccountState) {
  return (input: CreateQueueCommandInput) => {
    const name = input.QueueName!;
    state.queues[name] ??= { attributes: { ...input.Attributes, QueueArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}` }, tags: { ...input.tags } };
    return { QueueUrl: queueUrl(name) };
  };
}

/** Wires every client's reads to `state`; mutating calls resolve with plausible ids. */
export function mockAws(state: AccountState): Mocks {
  const m: Mocks = {
    sqs: mockClient(SQSClient), iam: mockClient(IAMClient), lambda: mockClient(LambdaClient),
    logs: mockClient(CloudWatchLogsClient), apigateway: mockClient(APIGatewayClient), apigatewayv2: mockWebSocketApis(state.websocketApis), dynamodb: mockClient(DynamoDBClient), sts: mockClient(STSClient),
    scheduler: mockScheduler(state.scheduleGroups),
    s3: mockBuckets(state.buckets),
  };
  m.sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:user/dev` });

  m.sqs.on(ListQueuesCommand).callsFake((input) => ({ QueueUrls: Object.keys(state.queues).filter((n) => n.startsWith(input.QueueNamePrefix ?? '')).map(queueUrl) }));
  const queue = (name: string) => {
    const found = state.queues[name];
    if (!found) throw notFound(QueueDoesNotExist, 'The specified queue does not exist.');
    return found;
  };
  m.sqs.on(GetQueueUrlCommand).callsFake((input) => (queue(input.QueueName!), { QueueUrl: queueUrl(input.QueueName!) }));
  m.sqs.on(GetQueueAttributesCommand).callsFake((input) => ({ Attributes: queue(nameOf(input.QueueUrl)).attributes }));
  m.sqs.on(ListQueueTagsCommand).callsFake((input) => ({ Tags: queue(nameOf(input.QueueUrl)).tags }));
  m.sqs.on(DeleteQueueCommand).callsFake((input) => void delete state.queues[nameOf(input.QueueUrl)]);
  m.sqs.on(CreateQueueCommand).callsFake(createQueueIn(state));

  m.iam.on(GetRoleCommand).callsFake((input) => {
    const r = state.roles[input.RoleName!];
    if (!r) throw notFound(NoSuchEntityException, `The role with name ${input.RoleName} cannot be found.`);
    return { Role: { RoleName: input.RoleName, Path: r.path, Arn: `arn:aws:iam::${ACCOUNT}:role${r.path}${input.RoleName}`, AssumeRolePolicyDocument: encode(r.trust), RoleId: input.RoleName, CreateDate: new Date(0),
      Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })) } };
  });
  m.iam.on(GetRolePolicyCommand).callsFake((input) => {
    const role = state.roles[input.RoleName!];
    const policy = input.PolicyName === 'bedrock-queue' ? role?.policy : role?.otherPolicies?.[input.PolicyName!];
    if (!policy) throw notFound(NoSuchEntityException, `The role policy with name ${input.PolicyName} cannot be found.`);
    return { RoleName: input.RoleName, PolicyName: input.PolicyName, PolicyDocument: encode(policy) };
  });
  m.iam.on(ListRolePoliciesCommand).callsFake((input) => ({ PolicyNames: [...(state.roles[input.RoleName!]?.policy ? ['bedrock-queue'] : []), ...Object.keys(state.roles[input.RoleName!]?.otherPolicies ?? {})] }));
  m.iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });

  m.logs.on(DescribeLogGroupsCommand).callsFake((input) => ({
    logGroups: Object.entries(state.logGroups).filter(([n]) => n.startsWith(input.logGroupNamePrefix ?? '')).map(([logGroupName, g]) => ({ logGroupName, retentionInDays: g.retentionInDays, arn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${logGroupName}:*` })),
  }));
  m.logs.on(ListTagsForResourceCommand).callsFake((input) => ({ tags: state.logGroups[input.resourceArn!.split(':log-group:')[1]!]?.tags ?? {} }));

  const fn = (name?: string) => {
    const found = state.functions[name!];
    if (!found) throw notFound(ResourceNotFoundException, `Function not found: arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`);
    return found;
  };
  m.lambda.on(GetFunctionCommand).callsFake((input) => ({ Configuration: fn(input.FunctionName).config, Tags: fn(input.FunctionName).tags }));
  m.lambda.on(GetFunctionConfigurationCommand).resolves({ State: 'Active', LastUpdateStatus: 'Successful' });
  m.lambda.on(ListTagsCommand).callsFake((input) => {
    const uuid = /:event-source-mapping:(.+)$/.exec(input.Resource!)?.[1];
    if (uuid) {
      if (!state.mappings.some((e) => e.UUID === uuid)) throw notFound(ResourceNotFoundException, `Event source mapping not found: ${uuid}`);
      return { Tags: state.mappingTags[uuid] ?? {} };
    }
    return { Tags: fn(input.Resource!.split(':function:')[1]).tags };
  });
  m.lambda.on(ListEventSourceMappingsCommand).callsFake((input) => ({ EventSourceMappings: state.mappings.filter((e) => e.EventSourceArn === input.EventSourceArn) }));
  m.lambda.on(CreateEventSourceMappingCommand).resolves({ UUID: 'esm-new', State: 'Creating' });
  // A mapping is Enabled once created, and gone once deleted.
  const deletedMappings = new Set<string>();
  m.lambda.on(GetEventSourceMappingCommand).callsFake((input) => {
    if (deletedMappings.has(input.UUID!)) throw notFound(ResourceNotFoundException, 'The resource you requested does not exist.');
    return { State: 'Enabled', ...state.mappings.find((e) => e.UUID === input.UUID), UUID: input.UUID };
  });
  m.lambda.on(DeleteEventSourceMappingCommand).callsFake((input) => {
    deletedMappings.add(input.UUID!);
    state.mappings = state.mappings.filter((e) => e.UUID !== input.UUID);
    return { UUID: input.UUID, State: 'Deleting' };
  });
  m.lambda.on(CreateFunctionCommand).resolves({ FunctionName: 'demo-worker', State: 'Pending' });

  const api = (id?: string) => state.restApis.find((a) => a.id === id)!;
  m.apigateway.on(GetRestApisCommand).callsFake(() => ({ items: state.restApis.map(({ id, name, tags, rootResourceId }) => ({ id, name, tags, rootResourceId })) }));
  m.apigateway.on(GetResourcesCommand).callsFake((input) => ({ items: api(input.restApiId).resources }));
  m.apigateway.on(GetModelsCommand).callsFake((input) => ({ items: api(input.restApiId).models }));
  m.apigateway.on(GetRequestValidatorsCommand).callsFake((input) => ({ items: api(input.restApiId).validators }));
  m.apigateway.on(GetGatewayResponsesCommand).callsFake((input) => ({ items: api(input.restApiId).gatewayResponses }));
  m.apigateway.on(GetStageCommand).callsFake((input) => {
    const stage = state.restApis.find((a) => a.id === input.restApiId)?.stage;
    if (!stage) throw notFound(NotFoundException, 'Invalid Stage identifier specified');
    return stage;
  });
  // With includeValues, GetApiKeys returns each key's value (here a stand-in derived from its id).
  m.apigateway.on(GetApiKeysCommand).callsFake((input) => ({ items: state.apiKeys.map((k) => (input.includeValues ? { ...k, value: `value-of-${k.id}` } : k)) }));
  m.apigateway.on(GetUsagePlansCommand).callsFake(() => ({ items: state.usagePlans }));
  m.apigateway.on(GetUsagePlanKeysCommand).callsFake((input) => ({ items: state.usagePlans.find((p) => p.id === input.usagePlanId)!.keyIds.map((id) => ({ id, type: 'API_KEY' })) }));
  m.apigateway.on(CreateRestApiCommand).resolves({ id: 'newapi', rootResourceId: 'newroot' });
  m.apigateway.on(CreateResourceCommand).resolves({ id: 'newres' });
  m.apigateway.on(CreateRequestValidatorCommand).resolves({ id: 'newval' });
  m.apigateway.on(CreateModelCommand).resolves({ name: 'InvokeModelRequest' });
  m.apigateway.on(CreateDeploymentCommand).resolves({ id: 'newdep' });
  m.apigateway.on(CreateApiKeyCommand).resolves({ id: 'newkey' });
  m.apigateway.on(CreateUsagePlanCommand).resolves({ id: 'newplan' });

  // DynamoDB as it answers: a table is ACTIVE once created here (waiters pass), and gone once deleted.
  const table = (name?: string) => {
    const found = state.tables[name!];
    if (!found) throw notFound(TableNotFound, `Requested resource not found: Table: ${name} not found`);
    return found;
  };
  const tableArn = (name: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
  m.dynamodb.on(DescribeTableCommand).callsFake((input) => {
    const t = table(input.TableName);
    return { Table: { TableName: input.TableName, TableArn: tableArn(input.TableName!), TableStatus: t.status, BillingModeSummary: { BillingMode: t.billingMode } } };
  });
  m.dynamodb.on(ListTagsOfResourceCommand).callsFake((input) => ({ Tags: Object.entries(table(input.ResourceArn!.split(':table/')[1]).tags).map(([Key, Value]) => ({ Key, Value })) }));
  m.dynamodb.on(DescribeTimeToLiveCommand).callsFake((input) => {
    const { ttl } = table(input.TableName);
    return { TimeToLiveDescription: ttl ? { TimeToLiveStatus: ttl.status, AttributeName: ttl.attribute } : { TimeToLiveStatus: 'DISABLED' } };
  });
  m.dynamodb.on(CreateTableCommand).callsFake((input) => {
    state.tables[input.TableName!] = { billingMode: input.BillingMode!, status: 'ACTIVE', tags: Object.fromEntries((input.Tags ?? []).map((t: { Key?: string; Value?: string }) => [t.Key!, t.Value!])) };
    return { TableDescription: { TableName: input.TableName, TableStatus: 'CREATING' } };
  });
  m.dynamodb.on(UpdateTimeToLiveCommand).callsFake((input) => {
    table(input.TableName).ttl = { status: 'ENABLED', attribute: input.TimeToLiveSpecification!.AttributeName! };
    return { TimeToLiveSpecification: input.TimeToLiveSpecification };
  });
  m.dynamodb.on(DeleteTableCommand).callsFake((input) => {
    table(input.TableName);
    delete state.tables[input.TableName!];
    return { TableDescription: { TableName: input.TableName, TableStatus: 'DELETING' } };
  });
  return m;
}

export function resetMocks(m: Mocks) {
  for (const stub of Object.values(m)) stub.restore();
}

/** The commands sent to every client in the order they were sent, as "service:Command" strings. */
export function sentCommands(m: Mocks): string[] {
  return Object.entries(m)
    .flatMap(([service, stub]) => stub.calls().map((call) => ({
      order: (call as unknown as { callId: number }).callId,
      name: `${service}:${(call.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, '')}`,
    })))
    .sort((a, b) => a.order - b.order)
    .map((c) => c.name);
}

export function mutatingCommands(m: Mocks): string[] {
  return sentCommands(m).filter((c) => !/:(Get|List|Describe)/.test(c));
}

/** Mocks for one test at a time: `prepare(state)` wires them; they are restored after each test. */
export function mocksPerTest(): (state: AccountState) => Mocks {
  let current: Mocks | undefined;
  afterEach(() => {
    if (current) resetMocks(current);
    current = undefined;
  });
  return (state) => (current = mockAws(state));
}

/** `up` through the engine against the mocks: observe, plan, apply; returns the plan, sleeps and notes. */
export async function runUp(options: StackOptions = {}) {
  const s = await session(options);
  const observed = await observe(s.ctx);
  const items = await plan(s.ctx, observed);
  await apply(s.ctx, observed, items, (_item, run) => run());
  return { ...s.harness, items };
}

/** `down` through the engine against the mocks. */
export async function runDown() {
  const s = await session();
  await destroy(s.ctx, await observe(s.ctx), (_item, run) => run());
  return s.harness;
}

export interface Harness {
  sleeps: number[];
  notes: string[];
}

/** Opens an engine session against the mocks, with recorded sleeps instead of real waiting. */
export async function session(options: StackOptions = {}, harness: Harness = { sleeps: [], notes: [] }) {
  const s = await openSession({
    stack: STACK,
    target: { region: REGION },
    options,
    sleep: async (ms) => void harness.sleeps.push(ms),
    note: (msg) => void harness.notes.push(msg),
    code: async () => TEST_CODE,
  });
  return { ...s, harness };
}
