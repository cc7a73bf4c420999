/**
 * The published policies, proved with an IAM policy simulator (@cloud-copilot/iam-simulate)
 * rather than by reading them: every AWS request the CLI makes in a full life cycle against moto
 * (recorded by the AWS-behaviour proxy, turned into IAM's action, ARN and context keys by
 * iam-requests.ts) is Allowed by `bedrock-queue policy`, and the same requests are denied by
 * another stack's policy. The worker's and the API's calls are checked against their roles.
 */
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceNames } from '../../src/contract.js';
import { apiRolePolicy, batchRolePolicy, schedulerRolePolicy, workerRolePolicy } from '../../src/provision/role.js';
import { governorPolicy } from '../../src/provision/governor-policy.js';
import { MANAGED_POLICY_MAX_CHARS, PERMISSIONS, UNAUTHORIZED_CALLS, operatorPolicies } from '../../src/provision/permissions.js';
import type { Ctx } from '../../src/provision/types.js';
import { bedrockControlPlane } from '../helpers/aws-behaviours.js';
import { startAwsProxy, type AwsProxy } from '../helpers/aws-proxy.js';
import { runCli } from '../helpers/cli.js';
import { iamRequests, type IamRequest } from '../helpers/iam-requests.js';
import { requireMoto, startMoto, type Moto } from '../helpers/moto.js';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const credentials = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };
const hasMoto = requireMoto();

type Policy = { Version: string; Statement: unknown[] };

/**
 * Requests whose resource the simulator's data cannot type, evaluated without its input
 * validation (the policy logic is the same): the Region-less ARN of a global profile's model
 * (arn:aws:bedrock:::foundation-model/X, which AWS documents for global profiles), and API Gateway
 * paths of resource types that AWS gives two ARN forms (/apis/... and /restapis/...): models,
 * deployments, and CreateResource's /resources/{parentId}; and the paths of API Gateway v2 (the
 * WebSocket API: /apis and below), whose resource types the data has but does not list under the
 * actions that act on them (POST, PATCH, DELETE). Any other untyped request fails.
 */
const UNTYPED_IN_SIMULATOR = [
  /^arn:aws:bedrock:::foundation-model\/[^/]+$/,
  /^arn:aws:apigateway:[^:]+::\/restapis\/\w+\/(models|deployments|resources\/\w+)$/,
  /^arn:aws:apigateway:[^:]+::\/apis(\/[^/]+)*$/,
];

/** One policy, or several attached together (the operator policy's parts). */
async function decide(policy: Policy | Policy[], request: IamRequest): Promise<string> {
  const simulation = {
    request: { principal: `arn:aws:iam::${ACCOUNT}:user/operator`, action: request.action, resource: { resource: request.resource, accountId: ACCOUNT }, contextVariables: request.context },
    identityPolicies: [policy].flat().map((p, i) => ({ name: `policy-${i + 1}`, policy: p })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: undefined,
  };
  const result = await runSimulation(simulation, {});
  if (result.resultType !== 'error') return result.overallResult;
  const untyped = JSON.stringify(result.errors).includes('no.resource.types') && UNTYPED_IN_SIMULATOR.some((pattern) => pattern.test(request.resource));
  if (!untyped) throw new Error(`simulator refused ${request.action} on ${request.resource}: ${JSON.stringify(result.errors)}`);
  return runUnsafeSimulation(simulation, {});
}

async function decisions(policy: Policy | Policy[], requests: IamRequest[]) {
  return Promise.all(requests.map(async (r) => ({ ...r, decision: await decide(policy, r) })));
}

const describeRequest = (r: IamRequest & { decision: string }) => `${r.decision}: ${r.call} needs ${r.action} on ${r.resource} ${JSON.stringify(r.context)}`;

describe.runIf(hasMoto)('the operator policy, proved with an IAM simulator against every request of a life cycle', () => {
  let moto: Moto;
  let proxy: AwsProxy;
  let requests: IamRequest[];
  let published: Policy[];

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startAwsProxy(moto.endpoint, [bedrockControlPlane(ACCOUNT)]);
    const cli = async (...args: string[]) => {
      const run = await runCli([...args, '--region', REGION, '--endpoint-url', proxy.endpoint, '--name', 'itest', '--json'], credentials);
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
      return run;
    };
    await cli('up');
    await cli('up');
    // moto has no API Gateway TagResource for REST APIs, so no --tag here: tags on create are recorded.
    await cli('up', '--concurrency', '12');
    await cli('status');
    await cli('set-concurrency', '20');
    await cli('pause');
    await cli('resume');
    // The governor: its schedule, role and policy created, the ceiling changed live, then all removed.
    await cli('up', '--autopilot', '--budget', '5M-tokens/day');
    await cli('up');
    await cli('set-concurrency', '16');
    await cli('status');
    await cli('up', '--no-autopilot', '--budget', 'none');
    await cli('up', '--autopilot');
    // The discount route's bucket and role: created, converged, removed, created again for down to remove.
    await cli('up', '--discount');
    await cli('up');
    await cli('up', '--no-discount');
    await cli('up', '--discount');
    // A result and a dead letter to read, put there directly (not through the proxy: not the CLI's calls).
    const sqs = new SQSClient({ region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const names = resourceNames('itest');
    const results = (await sqs.send(new GetQueueUrlCommand({ QueueName: names.resultsQueue }))).QueueUrl;
    await sqs.send(new SendMessageCommand({ QueueUrl: results, MessageBody: JSON.stringify({ id: 'r1', status: 'ok', output: 'a', model: 'm', latencyMs: 1, attempt: 1, completedAt: new Date().toISOString() }) }));
    const dlq = (await sqs.send(new GetQueueUrlCommand({ QueueName: names.deadLetterQueue }))).QueueUrl;
    await sqs.send(new SendMessageCommand({ QueueUrl: dlq, MessageBody: '{"prompt":"stuck"}' }));
    await cli('tail', '--count', '1');
    await cli('result', '2c9de0d2-25c7-4397-99d4-5b9d4d70fcfe');
    await cli('redrive', '--dry-run');
    await cli('down', '--yes', '--force');
    requests = iamRequests(proxy.recorded, ACCOUNT);
    const printed = await runCli(['policy', '--name', 'itest', '--region', REGION, '--account', ACCOUNT], {});
    expect(printed.code, printed.stderr).toBe(0);
    published = (JSON.parse(printed.stdout) as { PolicyDocument: Policy }[]).map((p) => p.PolicyDocument);
  }, 240_000);
  afterAll(async () => {
    await proxy?.close();
    await moto?.stop();
  });

  it('recorded a whole life cycle, the implied permissions included', () => {
    const actions = new Set(requests.map((r) => r.action));
    // The WebSocket API's life: created with tags, its parts, deleted.
    expect(requests.filter((r) => r.resource.includes('::/apis')).map((r) => r.call)).toEqual(expect.arrayContaining(['apigateway:POST /v2/apis', 'apigateway:DELETE /v2/apis/' + requests.find((r) => r.call.startsWith('apigateway:DELETE /v2/apis/'))?.call.split('/').pop()]));
    for (const action of ['scheduler:CreateScheduleGroup', 'scheduler:CreateSchedule', 'scheduler:DeleteSchedule', 'scheduler:DeleteScheduleGroup', 'lambda:UntagResource', 'iam:CreateRole', 'iam:TagRole', 'iam:PassRole', 'sqs:CreateQueue', 'sqs:TagQueue', 'lambda:CreateFunction', 'lambda:ListTags', 'lambda:CreateEventSourceMapping',
      'lambda:TagResource', 'lambda:UpdateEventSourceMapping', 'apigateway:POST', 'apigateway:PUT', 'apigateway:PATCH', 'apigateway:DELETE', 'sqs:ReceiveMessage', 'sqs:DeleteMessage',
      'sqs:ChangeMessageVisibility', 'bedrock:GetInferenceProfile', 'bedrock:GetFoundationModelAvailability', 'sqs:DeleteQueue', 'iam:DeleteRole']) {
      expect(actions, action).toContain(action);
    }
    expect(requests.length).toBeGreaterThan(150);
  });

  it('allows every request the CLI made', async () => {
    const denied = (await decisions(published, requests)).filter((r) => r.decision !== 'Allowed');
    expect(denied.map(describeRequest)).toEqual([]);
    // The results store's life cycle is among them: created with tags, TTL set, read by `result`, deleted.
    expect(requests.map((r) => r.action)).toEqual(expect.arrayContaining(['dynamodb:CreateTable', 'dynamodb:TagResource', 'dynamodb:UpdateTimeToLive', 'dynamodb:GetItem', 'dynamodb:DeleteTable']));
  });

  it('allows the two quirks the simulator cannot know of: TagResource on a new mapping (item 1) and ListTags behind GetFunction (item 2)', async () => {
    const quirks = requests.filter((r) => (r.call.endsWith('/2015-03-31/event-source-mappings') && r.action === 'lambda:TagResource') || (r.action === 'lambda:ListTags' && r.resource.includes(':function:')));
    expect(quirks.map((r) => r.action).sort()).toEqual(expect.arrayContaining(['lambda:ListTags', 'lambda:TagResource']));
    expect((await decisions(published, quirks)).every((r) => r.decision === 'Allowed')).toBe(true);
  });

  it('denies the same requests on this stack\'s resources to another stack\'s policy', async () => {
    const other = operatorPolicies({ stack: 'other', region: REGION, account: ACCOUNT, partition: 'aws' }).map((p) => p.PolicyDocument);
    // The same for every stack: listings, API Gateway and Bedrock reads, and what AWS lets no
    // policy scope to a stack: tags of event source mappings (no lambda:FunctionArn on ListTags
    // TagResource and UntagResource), the parts of a REST API outside API Gateway's tag inheritance list, and
    // the parts of a WebSocket API (v2 has no tag inheritance).
    const unscopable = (r: IamRequest) => r.resource === '*' || r.action === 'apigateway:GET' || r.action.startsWith('bedrock:') ||
      (/^lambda:(ListTags|TagResource|UntagResource)$/.test(r.action) && r.resource.includes(':event-source-mapping:')) || /\/requestvalidators(\/|$)|\/responses\/[^/]+$/.test(r.resource) ||
      /::\/apis\/[^/]+\//.test(r.resource);
    const scoped = requests.filter((r) => !unscopable(r));
    const allowed = (await decisions(other, scoped)).filter((r) => r.decision === 'Allowed');
    expect(allowed.map(describeRequest)).toEqual([]);
    expect(scoped.length).toBeGreaterThan(100);
  });

  it('is the table: every service the CLI called is in it, each call by name where the protocol names it, and every part fits IAM\'s managed policy limit', () => {
    const services = new Set(proxy.recorded.map((r) => r.service));
    expect([...services].sort()).toEqual(['apigateway', 'bedrock', 'dynamodb', 'iam', 'lambda', 'logs', 'monitoring', 's3', 'scheduler', 'sqs', 'sts']);
    // JSON and query protocols name the operation (X-Amz-Target, Action=): each must be a call in the table.
    const named = proxy.recorded.filter((r) => !r.operation.includes(' ')).map((r) => `${r.service === 'monitoring' ? 'cloudwatch' : r.service}:${r.operation}`);
    const tabled = new Set([...PERMISSIONS.flatMap((p) => p.calls), ...UNAUTHORIZED_CALLS]);
    expect([...new Set(named)].filter((c) => !tabled.has(c))).toEqual([]);
    expect(new Set(named.map((c) => c.split(':')[0]))).toEqual(new Set(['sqs', 'iam', 'logs', 'dynamodb', 'cloudwatch', 'sts']));
    // REST protocols (Lambda, API Gateway, Bedrock) name it by method and path: each request's IAM action must be in the table.
    const actions = new Set(PERMISSIONS.map((p) => p.action));
    expect([...new Set(requests.map((r) => r.action))].filter((a) => !actions.has(a))).toEqual([]);
    expect(new Set(requests.map((r) => r.action.split(':')[0]))).toEqual(new Set(['sqs', 'iam', 'logs', 'lambda', 'apigateway', 'dynamodb', 'cloudwatch', 'bedrock', 'scheduler', 's3']));
    for (const part of published) expect(JSON.stringify(part).replace(/\s/g, '').length).toBeLessThanOrEqual(MANAGED_POLICY_MAX_CHARS);
  });
});

describe('the roles\' policies, proved with the IAM simulator', () => {
  const names = resourceNames('itest');
  const ctx = {
    stack: 'itest', names, account: { region: REGION, accountId: ACCOUNT, partition: 'aws' },
    settings: { model: 'global.anthropic.claude-sonnet-4-6' }, live: {}, ids: { queueUrls: {}, websocketApiId: 'ws123' },
    modelAccess: {
      profileArn: `arn:aws:bedrock:${REGION}:${ACCOUNT}:inference-profile/global.anthropic.claude-sonnet-4-6`,
      modelArns: ['arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-6', `arn:aws:bedrock:${REGION}::foundation-model/anthropic.claude-sonnet-4-6`],
    },
  } as unknown as Ctx;
  const queue = (name: string) => `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`;
  const profile = ctx.modelAccess!.profileArn!;
  const req = (call: string, action: string, resource: string, context: Record<string, string> = {}): IamRequest => ({ call, action, resource, context });

  // What the worker does (src/worker): the mapping polls as the function's role, the handler
  // publishes results, re-queues throttled requests, shortens visibilities and calls Converse
  // through the profile, and Lambda writes its logs.
  const worker = [
    ...['ReceiveMessage', 'DeleteMessage', 'ChangeMessageVisibility', 'GetQueueAttributes'].map((a) => req('mapping poller', `sqs:${a}`, queue(names.requestsQueue))),
    req('SendMessageBatch (results)', 'sqs:SendMessage', queue(names.resultsQueue)),
    req('SendMessageBatch (re-queue)', 'sqs:SendMessage', queue(names.requestsQueue)),
    req('PutItem (results store)', 'dynamodb:PutItem', `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${names.resultsTable}`),
    req('UpdateItem (the claim before a model call, and its release)', 'dynamodb:UpdateItem', `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${names.resultsTable}`),
    req('GetItem (what a failed claim or store write met)', 'dynamodb:GetItem', `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${names.resultsTable}`),
    req('Converse', 'bedrock:InvokeModel', profile),
    ...ctx.modelAccess!.modelArns.map((arn) => req('Converse, routed', 'bedrock:InvokeModel', arn, { 'bedrock:InferenceProfileArn': profile })),
    ...['CreateLogStream', 'PutLogEvents'].map((a) => req('Lambda runtime', `logs:${a}`, `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${names.logGroup}:log-stream:2026/11/25/[$LATEST]abc`)),
    req('PostToConnection (a delta or a result to a listener)', 'execute-api:ManageConnections', `arn:aws:execute-api:${REGION}:${ACCOUNT}:ws123/prod/POST/@connections/L0SM9cOFvHcCIhw=`),
  ];

  it('allows every call of the worker, and nothing beside its model and queues', async () => {
    const policy = workerRolePolicy(ctx) as Policy;
    expect((await decisions(policy, worker)).filter((r) => r.decision !== 'Allowed').map(describeRequest)).toEqual([]);
    const beside = [
      req('Converse, another model', 'bedrock:InvokeModel', `arn:aws:bedrock:${REGION}::foundation-model/anthropic.claude-opus-4-1`),
      req('Converse, the model without the profile', 'bedrock:InvokeModel', `arn:aws:bedrock:${REGION}::foundation-model/anthropic.claude-sonnet-4-6`),
      req('another stack\'s queue', 'sqs:SendMessage', queue('other-results')),
      req('purge', 'sqs:PurgeQueue', queue(names.requestsQueue)),
      req('another stack\'s table', 'dynamodb:PutItem', `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/other-results`),
      req('another stack\'s claims', 'dynamodb:UpdateItem', `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/other-results`),
      req('deleting results', 'dynamodb:DeleteItem', `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${names.resultsTable}`),
      req('another API\'s connections', 'execute-api:ManageConnections', `arn:aws:execute-api:${REGION}:${ACCOUNT}:other1/prod/POST/@connections/L0SM9cOFvHcCIhw=`),
      req('closing a listener\'s connection', 'execute-api:ManageConnections', `arn:aws:execute-api:${REGION}:${ACCOUNT}:ws123/prod/DELETE/@connections/L0SM9cOFvHcCIhw=`),
      req('another log group', 'logs:PutLogEvents', `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/other-worker:log-stream:x`),
    ];
    expect((await decisions(policy, beside)).filter((r) => r.decision === 'Allowed').map(describeRequest)).toEqual([]);
  });

  it('lets the worker, as the governor, steer its own mapping and read metrics, and no other mapping; lets the schedule invoke the worker only', async () => {
    const mapping = `arn:aws:lambda:${REGION}:${ACCOUNT}:event-source-mapping:esm-1`;
    const policy = governorPolicy({ ...ctx, ids: { ...ctx.ids, mappingUuid: 'esm-1' } } as Ctx) as Policy;
    const governor = [
      ...['GetEventSourceMapping', 'UpdateEventSourceMapping'].map((a) => req(a, `lambda:${a}`, mapping, { 'lambda:FunctionArn': `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${names.workerFunction}` })),
      ...['ListTags', 'TagResource', 'UntagResource'].map((a) => req(`${a} (its settings and marks)`, `lambda:${a}`, mapping)),
      req('GetMetricData (the last minute, the day\'s tokens)', 'cloudwatch:GetMetricData', '*'),
    ];
    expect((await decisions(policy, governor)).filter((r) => r.decision !== 'Allowed').map(describeRequest)).toEqual([]);
    const beside = [
      req('another mapping', 'lambda:UpdateEventSourceMapping', `arn:aws:lambda:${REGION}:${ACCOUNT}:event-source-mapping:esm-2`),
      req('deleting its mapping', 'lambda:DeleteEventSourceMapping', mapping),
      req('changing its function', 'lambda:UpdateFunctionConfiguration', `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${names.workerFunction}`),
      req('writing metrics', 'cloudwatch:PutMetricData', '*'),
    ];
    expect((await decisions(policy, beside)).filter((r) => r.decision === 'Allowed').map(describeRequest)).toEqual([]);
    const scheduler = schedulerRolePolicy(ctx) as Policy;
    expect(await decide(scheduler, req('the tick', 'lambda:InvokeFunction', `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${names.workerFunction}`))).toBe('Allowed');
    expect(await decide(scheduler, req('another function', 'lambda:InvokeFunction', `arn:aws:lambda:${REGION}:${ACCOUNT}:function:other-worker`))).not.toBe('Allowed');
  });

  it('lets Bedrock, running the stack\'s batch jobs, read their inputs, write their outputs and call the model, and nothing else', async () => {
    const policy = batchRolePolicy(ctx) as Policy;
    const bucket = `arn:aws:s3:::itest-bq-${ACCOUNT}-${REGION}`;
    const job = [
      req('read a job\'s input', 's3:GetObject', `${bucket}/batch/ab12cd34/input/0.jsonl`),
      req('list the job\'s files', 's3:ListBucket', bucket, { 's3:prefix': 'batch/ab12cd34/input/0.jsonl' }),
      req('write its output', 's3:PutObject', `${bucket}/batch/ab12cd34/output/0/job1/0.jsonl.out`),
      req('call the model through the profile', 'bedrock:InvokeModel', profile),
    ];
    expect((await decisions(policy, job)).filter((r) => r.decision !== 'Allowed').map(describeRequest)).toEqual([]);
    const beside = [
      req('overwrite an input', 's3:PutObject', `${bucket}/batch/ab12cd34/input/0.jsonl`),
      req('read another run\'s output', 's3:GetObject', `${bucket}/batch/ab12cd34/output/0/job1/0.jsonl.out`),
      req('delete a file', 's3:DeleteObject', `${bucket}/batch/ab12cd34/input/0.jsonl`),
      req('list the whole bucket', 's3:ListBucket', bucket, { 's3:prefix': '' }),
      req('another bucket', 's3:GetObject', `arn:aws:s3:::other-bq-${ACCOUNT}-${REGION}/batch/x/input/0.jsonl`),
      req('change the bucket\'s policy', 's3:PutBucketPolicy', bucket),
      req('another model', 'bedrock:InvokeModel', `arn:aws:bedrock:${REGION}::foundation-model/anthropic.claude-opus-4-1`),
    ];
    expect((await decisions(policy, beside)).filter((r) => r.decision === 'Allowed').map(describeRequest)).toEqual([]);
  });

  it('lets the operator run batch --discount (read the model\'s batch quotas, upload, create the job on its model with its tags and role, follow it, find it, download it), and not on another stack\'s bucket or with another role', async () => {
    const policy = operatorPolicies({ stack: 'itest', region: REGION, account: ACCOUNT, partition: 'aws' }).map((p) => p.PolicyDocument as Policy);
    const bucket = `arn:aws:s3:::itest-bq-${ACCOUNT}-${REGION}`;
    const job = `arn:aws:bedrock:${REGION}:${ACCOUNT}:model-invocation-job/abc123def456`;
    const tags = { 'aws:RequestTag/bedrock-queue:stack': 'itest', 'aws:TagKeys': 'bedrock-queue:stack' };
    const discount = [
      // Before anything is uploaded: the model's name and its batch quotas.
      req('GetFoundationModel (the model\'s name)', 'bedrock:GetFoundationModel', `arn:aws:bedrock:${REGION}::foundation-model/anthropic.claude-sonnet-4-6`),
      req('ListAWSDefaultServiceQuotas (Bedrock\'s quotas)', 'servicequotas:ListAWSDefaultServiceQuotas', '*'),
      req('GetServiceQuota (the account\'s value)', 'servicequotas:GetServiceQuota', `arn:aws:servicequotas:${REGION}:${ACCOUNT}:bedrock/L-1F644C2A`),
      req('PutObject (a job\'s input)', 's3:PutObject', `${bucket}/batch/ab12cd34/input/0.jsonl`),
      req('CreateModelInvocationJob', 'bedrock:CreateModelInvocationJob', job, tags),
      // IAM authorizes it on the foundation model (the Service Authorization Reference lists no inference-profile resource for it).
      req('CreateModelInvocationJob, on its model', 'bedrock:CreateModelInvocationJob', `arn:aws:bedrock:${REGION}::foundation-model/anthropic.claude-sonnet-4-6`),
      req('CreateModelInvocationJob, its tags', 'bedrock:TagResource', job, tags),
      req('CreateModelInvocationJob, its role', 'iam:PassRole', `arn:aws:iam::${ACCOUNT}:role/bedrock-queue/itest-batch`, { 'iam:PassedToService': 'bedrock.amazonaws.com' }),
      req('GetModelInvocationJob', 'bedrock:GetModelInvocationJob', job),
      req('ListModelInvocationJobs (a job created before a kill)', 'bedrock:ListModelInvocationJobs', '*'),
      req('ListObjectsV2 (its output)', 's3:ListBucket', bucket),
      req('GetObject (its output)', 's3:GetObject', `${bucket}/batch/ab12cd34/output/0/abc123def456/0.jsonl.out`),
      req('DeleteObject (an input AWS refused)', 's3:DeleteObject', `${bucket}/batch/ab12cd34/input/0.jsonl`),
    ];
    expect((await decisions(policy, discount)).filter((r) => r.decision !== 'Allowed').map(describeRequest)).toEqual([]);
    const beside = [
      req('another stack\'s bucket', 's3:PutObject', `arn:aws:s3:::other-bq-${ACCOUNT}-${REGION}/batch/x/input/0.jsonl`),
      req('the worker\'s role to Bedrock', 'iam:PassRole', `arn:aws:iam::${ACCOUNT}:role/bedrock-queue/itest-worker`, { 'iam:PassedToService': 'bedrock.amazonaws.com' }),
      req('the batch role to Lambda', 'iam:PassRole', `arn:aws:iam::${ACCOUNT}:role/bedrock-queue/itest-batch`, { 'iam:PassedToService': 'lambda.amazonaws.com' }),
      req('a job in another Region', 'bedrock:GetModelInvocationJob', `arn:aws:bedrock:eu-west-1:${ACCOUNT}:model-invocation-job/abc123def456`),
      req('another service\'s quota', 'servicequotas:GetServiceQuota', `arn:aws:servicequotas:${REGION}:${ACCOUNT}:ec2/L-1216C47A`),
      req('a quota increase', 'servicequotas:RequestServiceQuotaIncrease', `arn:aws:servicequotas:${REGION}:${ACCOUNT}:bedrock/L-1F644C2A`),
    ];
    expect((await decisions(policy, beside)).filter((r) => r.decision === 'Allowed').map(describeRequest)).toEqual([]);
  });

  it('lets the API role send to the requests queue and read the results table, and nothing else', async () => {
    const policy = apiRolePolicy(ctx) as Policy;
    const table = (name: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
    // POST /invokeModel calls SendMessageBatch, which SQS authorizes as sqs:SendMessage (no action of its own).
    expect(await decide(policy, req('SendMessageBatch (POST /invokeModel)', 'sqs:SendMessage', queue(names.requestsQueue)))).toBe('Allowed');
    expect(await decide(policy, req('GET /results/{id}', 'dynamodb:GetItem', table(names.resultsTable)))).toBe('Allowed');
    // The WebSocket routes: invoke sends as POST does; subscribe adds its connection to the listeners.
    expect(await decide(policy, req('UpdateItem (subscribe)', 'dynamodb:UpdateItem', table(names.resultsTable)))).toBe('Allowed');
    expect(await decide(policy, req('another stack\'s listeners', 'dynamodb:UpdateItem', table('other-results')))).not.toBe('Allowed');
    expect(await decide(policy, req('SendMessage', 'sqs:SendMessage', queue(names.resultsQueue)))).not.toBe('Allowed');
    expect(await decide(policy, req('ReceiveMessage', 'sqs:ReceiveMessage', queue(names.requestsQueue)))).not.toBe('Allowed');
    expect(await decide(policy, req('PutItem', 'dynamodb:PutItem', table(names.resultsTable)))).not.toBe('Allowed');
    expect(await decide(policy, req('another stack\'s table', 'dynamodb:GetItem', table('other-results')))).not.toBe('Allowed');
  });
});
