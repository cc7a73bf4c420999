import { STACK_TAG, resourceNames } from '../contract.js';
import { apiGatewayPathArn, bucketArn, foundationModelArn, functionArn, inferenceProfileArn, logGroupArn, mappingArn, modelInvocationJobArn, queueArn, roleArn, scheduleArn, scheduleGroupArn, tableArn } from './arns.js';

/**
 * Every AWS call the CLI makes (on AWS: up, status, down and the operator commands), with the IAM
 * action it needs, the resources it acts on and the conditions that scope it to one stack. The
 * operator policy (`bedrock-queue policy`, the README's policy) is generated from this table, and
 * the tests prove it with an IAM policy simulator against the calls the CLI really makes.
 */

/** Where the policy applies: one stack, in one Region and account (or any, as `*`). */
export interface PolicyScope {
  stack: string;
  region: string;
  account: string;
  partition: string;
}

function resources(scope: PolicyScope) {
  const names = resourceNames(scope.stack);
  const at = { account: { partition: scope.partition, region: scope.region, accountId: scope.account }, names };
  const queue = (name: string) => queueArn(at, name);
  const role = (name: string) => roleArn(at, name);
  const logGroup = logGroupArn(at);
  const api = (path: string) => apiGatewayPathArn(at, path);
  return {
    any: ['*'],
    queues: [names.requestsQueue, names.deadLetterQueue, names.resultsQueue].map(queue),
    /** Read by tail and send --wait (results), sampled by redrive --dry-run (DLQ). */
    consumedQueues: [names.resultsQueue, names.deadLetterQueue].map(queue),
    deadLetterQueue: [queue(names.deadLetterQueue)],
    requestsQueue: [queue(names.requestsQueue)],
    roles: [names.apiRole, names.workerRole, names.schedulerRole, names.batchRole].map(role),
    // IAM authorizes GetRole of a role that does not exist yet by its name alone, without a path.
    roleLookups: [names.apiRole, names.workerRole, names.schedulerRole, names.batchRole].flatMap((n) => [role(n), roleArn(at, n, '/')]),
    workerRole: [role(names.workerRole)],
    apiRole: [role(names.apiRole)],
    schedulerRole: [role(names.schedulerRole)],
    batchRole: [role(names.batchRole)],
    /** Batch inference jobs (`batch --discount`): their ids are Bedrock's, so any job in the Region and account. */
    jobs: [modelInvocationJobArn(at)],
    scheduleGroup: [scheduleGroupArn(at)],
    schedule: [scheduleArn(at)],
    function: [functionArn(at)],
    newMapping: ['*'],
    mappings: [mappingArn(at, '*')],
    mappingTags: [mappingArn(at, '*')],
    // DeleteLogGroup and friends are evaluated on either form, depending on the action.
    logGroup: [logGroup, `${logGroup}:*`],
    apiCollections: ['/restapis', '/apikeys', '/usageplans', '/apis'].map(api),
    apiItems: ['/restapis/*', '/apikeys/*', '/usageplans/*', '/apis/*'].map(api),
    apiRead: ['/restapis', '/restapis/*', '/apikeys', '/apikeys/*', '/usageplans', '/usageplans/*', '/apis', '/apis/*'].map(api),
    // What API Gateway's tag inheritance list does not name (request validators, method and
    // integration responses) may not carry the REST API's tags for ABAC: not conditioned on them.
    apiUntagged: [
      '/restapis/*/requestvalidators', '/restapis/*/requestvalidators/*',
      '/restapis/*/resources/*/methods/*/responses/*', '/restapis/*/resources/*/methods/*/integration/responses/*',
    ].map(api),
    // The WebSocket API's routes, integrations, models and stage: API Gateway v2 has no tag
    // inheritance (the tagging guide lists it for v1 only), so they cannot be conditioned on its tag.
    websocketParts: [api('/apis/*/*')],
    apiTags: [api('/tags/*')],
    resultsTable: [tableArn(at)],
    /** The discount route's bucket, and the jobs' files in it. */
    batchBucket: [bucketArn(at)],
    batchObjects: [bucketArn(at, '*')],
    models: [foundationModelArn(at, '*'), inferenceProfileArn(at, '*')],
    /** Bedrock's quotas in the Region (batch --discount reads the model's batch quotas; their codes are per model). */
    bedrockQuotas: [`arn:${scope.partition}:servicequotas:${scope.region}:${scope.account}:bedrock/*`],
  };
}

type On = keyof ReturnType<typeof resources>;

function conditions(scope: PolicyScope) {
  const fn = resources(scope).function[0]!;
  return {
    /** Mapping calls support lambda:FunctionArn: only mappings that invoke this stack's worker. */
    ourFunction: { StringEquals: { 'lambda:FunctionArn': fn } },
    /** API Gateway creates only what is tagged for this stack... */
    taggedRequest: { StringEquals: { [`aws:RequestTag/${STACK_TAG}`]: scope.stack } },
    /** ...and changes only what carries the tag (children inherit their REST API's or usage plan's). */
    taggedResource: { StringEquals: { [`aws:ResourceTag/${STACK_TAG}`]: scope.stack } },
    passedToLambda: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
    passedToApiGateway: { StringEquals: { 'iam:PassedToService': 'apigateway.amazonaws.com' } },
    passedToScheduler: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    passedToBedrock: { StringEquals: { 'iam:PassedToService': 'bedrock.amazonaws.com' } },
  };
}

type When = keyof ReturnType<typeof conditions>;

/** The condition that scopes each resource set to the stack, where its ARNs cannot. */
const CONDITION_OF: Partial<Record<On, When>> = {
  newMapping: 'ourFunction',
  mappings: 'ourFunction',
  apiCollections: 'taggedRequest',
  apiItems: 'taggedResource',
  workerRole: 'passedToLambda',
  apiRole: 'passedToApiGateway',
  schedulerRole: 'passedToScheduler',
  batchRole: 'passedToBedrock',
};

export interface Permission {
  /** The SDK calls, as service:Command. */
  calls: string[];
  action: string;
  on: On;
  /** Why a call needs an action that is not its own name (AWS's documented quirks). */
  because?: string;
}

const sqs = (...commands: string[]) => commands.map((c) => `sqs:${c}`);
const apigw = (...commands: string[]) => commands.map((c) => `apigateway:${c}`);

export const PERMISSIONS: Permission[] = [
  { calls: sqs('ListQueues'), action: 'sqs:ListQueues', on: 'any' },
  ...['GetQueueUrl', 'GetQueueAttributes', 'ListQueueTags', 'CreateQueue', 'SetQueueAttributes', 'TagQueue', 'DeleteQueue']
    .map((c): Permission => ({ calls: sqs(c), action: `sqs:${c}`, on: 'queues' })),
  { calls: ['sqs:CreateQueue'], action: 'sqs:TagQueue', on: 'queues', because: 'CreateQueue with tags needs sqs:TagQueue' },
  { calls: sqs('ReceiveMessage'), action: 'sqs:ReceiveMessage', on: 'consumedQueues' },
  { calls: sqs('DeleteMessageBatch'), action: 'sqs:DeleteMessage', on: 'consumedQueues', because: 'batch calls are authorized as their single-message action' },
  { calls: sqs('ChangeMessageVisibilityBatch'), action: 'sqs:ChangeMessageVisibility', on: 'consumedQueues', because: 'batch calls are authorized as their single-message action' },
  { calls: sqs('StartMessageMoveTask'), action: 'sqs:StartMessageMoveTask', on: 'deadLetterQueue' },
  ...['ReceiveMessage', 'DeleteMessage'].map((a): Permission => ({ calls: sqs('StartMessageMoveTask'), action: `sqs:${a}`, on: 'consumedQueues', because: 'a message move task reads and deletes from its source with the caller\'s permissions' })),
  { calls: sqs('ListMessageMoveTasks'), action: 'sqs:ListMessageMoveTasks', on: 'deadLetterQueue' },
  { calls: sqs('StartMessageMoveTask'), action: 'sqs:SendMessage', on: 'requestsQueue', because: 'a message move task sends to its destination with the caller\'s permissions' },

  { calls: ['iam:GetRole'], action: 'iam:GetRole', on: 'roleLookups' },
  { calls: ['iam:GetRolePolicy'], action: 'iam:GetRolePolicy', on: 'roleLookups', because: 'the governor\'s policy is read beside its role, which may not exist yet: IAM then knows the role by its name alone' },
  ...['GetRolePolicy', 'CreateRole', 'TagRole', 'PutRolePolicy', 'UpdateAssumeRolePolicy', 'ListRolePolicies', 'ListAttachedRolePolicies', 'DeleteRolePolicy', 'DetachRolePolicy', 'DeleteRole']
    .map((c): Permission => ({ calls: [`iam:${c}`], action: `iam:${c}`, on: 'roles' })),
  { calls: ['iam:CreateRole'], action: 'iam:TagRole', on: 'roles', because: 'CreateRole with tags needs iam:TagRole' },
  { calls: ['lambda:CreateFunction', 'lambda:UpdateFunctionConfiguration'], action: 'iam:PassRole', on: 'workerRole', because: 'the function runs as the worker role' },
  { calls: ['apigateway:PutIntegration'], action: 'iam:PassRole', on: 'apiRole', because: 'the integration sends to SQS as the API role' },

  { calls: ['logs:DescribeLogGroups'], action: 'logs:DescribeLogGroups', on: 'any' },
  ...['CreateLogGroup', 'PutRetentionPolicy', 'DeleteLogGroup', 'TagResource', 'ListTagsForResource', 'FilterLogEvents']
    .map((c): Permission => ({ calls: [`logs:${c}`], action: `logs:${c}`, on: 'logGroup' })),
  { calls: ['logs:CreateLogGroup'], action: 'logs:TagResource', on: 'logGroup', because: 'CreateLogGroup with tags needs logs:TagResource' },
  { calls: ['logs:CreateLogGroup'], action: 'logs:TagLogGroup', on: 'logGroup', because: 'older Regions still check the retired logs:TagLogGroup for tags on create' },

  ...['GetFunction', 'GetFunctionConfiguration', 'CreateFunction', 'UpdateFunctionCode', 'UpdateFunctionConfiguration', 'DeleteFunction', 'TagResource', 'ListTags']
    .map((c): Permission => ({ calls: [`lambda:${c}`], action: `lambda:${c}`, on: 'function' })),
  { calls: ['lambda:GetFunction'], action: 'lambda:ListTags', on: 'function', because: 'GetFunction returns Tags only to callers allowed lambda:ListTags (else TagsError)' },
  { calls: ['lambda:CreateFunction'], action: 'lambda:TagResource', on: 'function', because: 'CreateFunction with tags needs lambda:TagResource' },
  { calls: ['lambda:ListEventSourceMappings'], action: 'lambda:ListEventSourceMappings', on: 'any' },
  { calls: ['lambda:CreateEventSourceMapping'], action: 'lambda:CreateEventSourceMapping', on: 'newMapping' },
  ...['GetEventSourceMapping', 'UpdateEventSourceMapping', 'DeleteEventSourceMapping']
    .map((c): Permission => ({ calls: [`lambda:${c}`], action: `lambda:${c}`, on: 'mappings' })),
  { calls: ['lambda:ListTags'], action: 'lambda:ListTags', on: 'mappingTags', because: 'a mapping is ours by its own tags' },
  ...['TagResource', 'UntagResource'].map((c): Permission => ({ calls: [`lambda:${c}`], action: `lambda:${c}`, on: 'mappingTags' })),
  { calls: ['lambda:CreateEventSourceMapping'], action: 'lambda:TagResource', on: 'mappingTags', because: 'tagging a mapping on create needs lambda:TagResource on event-source-mapping ARNs (Lambda guide, "Using tags on event source mappings")' },

  { calls: apigw('GetRestApis', 'GetResources', 'GetModels', 'GetRequestValidators', 'GetGatewayResponses', 'GetStage', 'GetApiKeys', 'GetApiKey', 'GetUsagePlans', 'GetUsagePlan', 'GetUsagePlanKeys'), action: 'apigateway:GET', on: 'apiRead' },
  { calls: apigw('CreateRestApi', 'CreateApiKey', 'CreateUsagePlan'), action: 'apigateway:POST', on: 'apiCollections' },
  { calls: apigw('CreateResource', 'CreateModel', 'CreateDeployment', 'CreateUsagePlanKey'), action: 'apigateway:POST', on: 'apiItems' },
  { calls: apigw('PutMethod', 'PutIntegration', 'PutGatewayResponse'), action: 'apigateway:PUT', on: 'apiItems' },
  { calls: apigw('PutMethodResponse', 'PutIntegrationResponse'), action: 'apigateway:PUT', on: 'apiUntagged', because: 'method and integration responses are not in API Gateway\'s tag inheritance list' },
  { calls: apigw('UpdateModel', 'UpdateStage', 'UpdateUsagePlan', 'UpdateApiKey'), action: 'apigateway:PATCH', on: 'apiItems' },
  { calls: apigw('DeleteMethod', 'DeleteRestApi', 'DeleteApiKey', 'DeleteUsagePlan', 'DeleteUsagePlanKey'), action: 'apigateway:DELETE', on: 'apiItems' },
  { calls: apigw('CreateRequestValidator'), action: 'apigateway:POST', on: 'apiUntagged', because: 'request validators are not in API Gateway\'s tag inheritance list' },
  { calls: apigw('UpdateRequestValidator'), action: 'apigateway:PATCH', on: 'apiUntagged', because: 'request validators are not in API Gateway\'s tag inheritance list' },
  { calls: apigw('TagResource'), action: 'apigateway:PUT', on: 'apiTags' },

  // API Gateway v2 (the WebSocket API): the same IAM actions, on /apis paths.
  { calls: apigw('GetApis', 'GetRoutes', 'GetIntegrations', 'GetIntegrationResponses', 'GetRouteResponses'), action: 'apigateway:GET', on: 'apiRead' },
  { calls: apigw('CreateApi'), action: 'apigateway:POST', on: 'apiCollections' },
  { calls: apigw('UpdateApi'), action: 'apigateway:PATCH', on: 'apiItems' },
  { calls: apigw('DeleteApi'), action: 'apigateway:DELETE', on: 'apiItems' },
  { calls: apigw('CreateModel', 'CreateIntegration', 'CreateIntegrationResponse', 'CreateRoute', 'CreateRouteResponse', 'CreateStage', 'CreateDeployment'), action: 'apigateway:POST', on: 'websocketParts', because: 'parts of a WebSocket API do not inherit its tags' },
  { calls: apigw('UpdateModel', 'UpdateIntegration', 'UpdateIntegrationResponse', 'UpdateRoute', 'UpdateStage'), action: 'apigateway:PATCH', on: 'websocketParts', because: 'parts of a WebSocket API do not inherit its tags' },
  { calls: apigw('DeleteIntegrationResponse'), action: 'apigateway:DELETE', on: 'websocketParts', because: 'parts of a WebSocket API do not inherit its tags' },
  { calls: apigw('TagResource'), action: 'apigateway:POST', on: 'apiTags', because: 'API Gateway v2 tags with POST /v2/tags/{arn}' },
  { calls: apigw('CreateIntegration', 'UpdateIntegration'), action: 'iam:PassRole', on: 'apiRole', because: 'the WebSocket routes send to SQS and DynamoDB as the API role' },

  ...['DescribeTable', 'DescribeTimeToLive', 'ListTagsOfResource', 'CreateTable', 'UpdateTable', 'UpdateTimeToLive', 'TagResource', 'DeleteTable', 'GetItem', 'BatchGetItem']
    .map((c): Permission => ({ calls: [`dynamodb:${c}`], action: `dynamodb:${c}`, on: 'resultsTable' })),
  { calls: ['dynamodb:CreateTable'], action: 'dynamodb:TagResource', on: 'resultsTable', because: 'CreateTable with tags needs dynamodb:TagResource' },

  // GetMetricData has no resource types: IAM scopes it by action alone (status, top).
  { calls: ['cloudwatch:GetMetricData'], action: 'cloudwatch:GetMetricData', on: 'any' },

  // The governor's schedule (--autopilot, --budget): its group carries the tags, the schedule runs as the scheduler role.
  ...['GetScheduleGroup', 'CreateScheduleGroup', 'DeleteScheduleGroup', 'TagResource', 'ListTagsForResource']
    .map((c): Permission => ({ calls: [`scheduler:${c}`], action: `scheduler:${c}`, on: 'scheduleGroup' })),
  { calls: ['scheduler:CreateScheduleGroup'], action: 'scheduler:TagResource', on: 'scheduleGroup', because: 'CreateScheduleGroup with tags needs scheduler:TagResource' },
  ...['GetSchedule', 'CreateSchedule', 'UpdateSchedule', 'DeleteSchedule']
    .map((c): Permission => ({ calls: [`scheduler:${c}`], action: `scheduler:${c}`, on: 'schedule' })),
  { calls: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule'], action: 'iam:PassRole', on: 'schedulerRole', because: 'the schedule invokes the worker as the scheduler role' },

  // The discount route's bucket (--discount). S3 names most of its bucket actions otherwise than the calls.
  ...['GetBucketTagging', 'PutBucketTagging', 'GetBucketPolicy', 'PutBucketPolicy', 'CreateBucket', 'DeleteBucket']
    .map((c): Permission => ({ calls: [`s3:${c}`], action: `s3:${c}`, on: 'batchBucket' })),
  ...([
    ['GetPublicAccessBlock', 's3:GetBucketPublicAccessBlock'], ['PutPublicAccessBlock', 's3:PutBucketPublicAccessBlock'],
    ['GetBucketEncryption', 's3:GetEncryptionConfiguration'], ['PutBucketEncryption', 's3:PutEncryptionConfiguration'],
    ['GetBucketLifecycleConfiguration', 's3:GetLifecycleConfiguration'], ['PutBucketLifecycleConfiguration', 's3:PutLifecycleConfiguration'],
    ['ListObjectsV2', 's3:ListBucket'],
  ] as const).map(([c, action]): Permission => ({ calls: [`s3:${c}`], action, on: 'batchBucket', because: 'S3 authorizes this call as that action (S3 guide, "Actions, resources, and condition keys")' })),
  { calls: ['s3:DeleteObjects'], action: 's3:DeleteObject', on: 'batchObjects', because: 'a multi-object delete is authorized as s3:DeleteObject on each key' },
  // batch --discount: the jobs' files, and the jobs (a job is authorized on the model it runs as well).
  ...['PutObject', 'GetObject', 'DeleteObject'].map((c): Permission => ({ calls: [`s3:${c}`], action: `s3:${c}`, on: 'batchObjects' })),
  { calls: ['bedrock:CreateModelInvocationJob'], action: 'bedrock:CreateModelInvocationJob', on: 'jobs' },
  { calls: ['bedrock:CreateModelInvocationJob'], action: 'bedrock:CreateModelInvocationJob', on: 'models' },
  { calls: ['bedrock:CreateModelInvocationJob'], action: 'bedrock:TagResource', on: 'jobs', because: 'CreateModelInvocationJob with tags needs bedrock:TagResource' },
  { calls: ['bedrock:CreateModelInvocationJob'], action: 'iam:PassRole', on: 'batchRole', because: 'the job reads and writes the bucket as the batch role' },
  { calls: ['bedrock:GetModelInvocationJob'], action: 'bedrock:GetModelInvocationJob', on: 'jobs' },
  { calls: ['bedrock:ListModelInvocationJobs'], action: 'bedrock:ListModelInvocationJobs', on: 'any' },
  { calls: ['servicequotas:ListAWSDefaultServiceQuotas'], action: 'servicequotas:ListAWSDefaultServiceQuotas', on: 'any', because: 'it supports no resource type: a list of AWS\'s default quotas, no account data' },
  { calls: ['servicequotas:GetServiceQuota'], action: 'servicequotas:GetServiceQuota', on: 'bedrockQuotas' },

  { calls: ['bedrock:GetInferenceProfile'], action: 'bedrock:GetInferenceProfile', on: 'models' },
  { calls: ['bedrock:GetFoundationModel'], action: 'bedrock:GetFoundationModel', on: 'models' },
  { calls: ['bedrock:GetFoundationModelAvailability'], action: 'bedrock:GetFoundationModelAvailability', on: 'any' },
];

/** Calls AWS authorizes for every caller (AWS: "No permissions are required to perform this operation"). */
export const UNAUTHORIZED_CALLS = ['sts:GetCallerIdentity'];

const SIDS: Record<On, string> = {
  any: 'ListAndCreateUnscoped', queues: 'Queues', consumedQueues: 'ReadResults', deadLetterQueue: 'Redrive', requestsQueue: 'RedriveDestination',
  roles: 'Roles', roleLookups: 'FindRoles', workerRole: 'PassWorkerRole', apiRole: 'PassApiRole', schedulerRole: 'PassSchedulerRole', function: 'Function', newMapping: 'CreateEventSourceMapping',
  mappings: 'EventSourceMapping', mappingTags: 'EventSourceMappingTags', logGroup: 'Logs',
  apiCollections: 'ApiCreate', apiItems: 'ApiChange', apiRead: 'ApiRead', apiUntagged: 'ApiUntaggedParts', websocketParts: 'WebSocketApiParts', apiTags: 'ApiTags', resultsTable: 'ResultsStore', models: 'ModelCheck',
  scheduleGroup: 'GovernorScheduleGroup', schedule: 'GovernorSchedule', batchBucket: 'DiscountBucket', batchObjects: 'DiscountFiles', batchRole: 'PassBatchRole', jobs: 'BatchInferenceJobs', bedrockQuotas: 'BatchQuotas',
};

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string>>;
}

type PolicyDocument = { Version: '2012-10-17'; Statement: PolicyStatement[] };

/** IAM's limit on a managed policy: 6,144 characters, whitespace not counted. */
export const MANAGED_POLICY_MAX_CHARS = 6_144;

/**
 * The operator policy comes in parts, by service, so that each fits in one managed policy for every
 * stack name and Region the CLI accepts (a test checks the longest of each). A service that the
 * CLI starts to call goes into one of them, or a new part.
 */
export const POLICY_PARTS = [
  { part: 'pipeline', services: ['sqs', 'iam', 'logs', 'lambda', 'dynamodb'] },
  { part: 'api', services: ['apigateway', 'cloudwatch', 'bedrock', 'scheduler', 's3', 'servicequotas'] },
] as const;

export type PolicyPart = (typeof POLICY_PARTS)[number]['part'];

/** One part's least-privilege policy: one statement per resource set and condition, actions sorted. */
function partPolicy(scope: PolicyScope, services: readonly string[]): PolicyDocument {
  const arns = resources(scope);
  const when = conditions(scope);
  const groups = new Map<On, Set<string>>();
  for (const p of PERMISSIONS) {
    if (services.includes(p.action.split(':')[0]!)) groups.set(p.on, (groups.get(p.on) ?? new Set()).add(p.action));
  }
  const Statement = [...groups].map(([on, actions]): PolicyStatement => {
    const list = arns[on];
    const condition = CONDITION_OF[on];
    return {
      Sid: SIDS[on],
      Effect: 'Allow',
      Action: [...actions].sort(),
      Resource: list.length === 1 ? list[0]! : list,
      ...(condition ? { Condition: when[condition] } : {}),
    };
  });
  return { Version: '2012-10-17', Statement };
}

/** The least-privilege policies for one stack, a managed policy each, with the name to give it. */
export function operatorPolicies(scope: PolicyScope): { PolicyName: string; PolicyDocument: PolicyDocument }[] {
  return POLICY_PARTS.map(({ part, services }) => ({ PolicyName: `${scope.stack}-operator-${part}`, PolicyDocument: partPolicy(scope, services) }));
}

/** The services of every action in the table: each must be in one part. */
export function servicesWithoutPart(): string[] {
  const parted = new Set<string>(POLICY_PARTS.flatMap((p) => [...p.services]));
  return [...new Set(PERMISSIONS.map((p) => p.action.split(':')[0]!))].filter((service) => !parted.has(service));
}
