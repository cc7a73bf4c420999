/**
 * What IAM authorizes for each recorded AWS request: the action, the resource ARN and the context
 * keys, derived from the HTTP request itself (and what earlier answers said about the resources),
 * following AWS's Service Authorization Reference, independently of the CLI's own table.
 */
import type { Recorded } from './aws-proxy.js';

export interface IamRequest {
  /** The request, for messages: service and operation. */
  call: string;
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
}

const SQS_BATCH: Record<string, string> = { DeleteMessageBatch: 'DeleteMessage', ChangeMessageVisibilityBatch: 'ChangeMessageVisibility', SendMessageBatch: 'SendMessage' };
/** Calls AWS authorizes for every caller. */
const NO_PERMISSION = new Set(['sts:GetCallerIdentity']);

function requestTags(tags: Record<string, string> | undefined): Record<string, string | string[]> {
  if (!tags || !Object.keys(tags).length) return {};
  return { ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])), 'aws:TagKeys': Object.keys(tags) };
}

const parseJson = (text: string) => {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return {};
  }
};

export function iamRequests(recorded: Recorded[], account: string): IamRequest[] {
  const rolePaths = new Map<string, string>();
  const mappingFunctions = new Map<string, string>();
  const apiTags = new Map<string, Record<string, string>>();
  const out: IamRequest[] = [];

  for (const r of recorded) {
    const region = r.region;
    const call = `${r.service}:${r.operation}`;
    const push = (action: string, resource: string, context: Record<string, string | string[]> = {}) => out.push({ call, action, resource, context });
    const answer = parseJson(r.answer.body);
    const p = r.params;
    if (NO_PERMISSION.has(call)) continue;

    if (r.service === 'sqs') {
      const name = String(p.QueueName ?? String(p.QueueUrl ?? p.SourceArn ?? '').split(/[/:]/).pop());
      const action = `sqs:${SQS_BATCH[r.operation] ?? r.operation}`;
      if (r.operation === 'ListQueues') {
        push(action, '*');
        continue;
      }
      const arn = `arn:aws:sqs:${region}:${account}:${name}`;
      push(action, arn, r.operation === 'CreateQueue' ? requestTags(p.tags as Record<string, string>) : {});
      if (r.operation === 'CreateQueue' && p.tags) push('sqs:TagQueue', arn, requestTags(p.tags as Record<string, string>));
      if (r.operation === 'StartMessageMoveTask') push('sqs:SendMessage', String(p.DestinationArn));
    } else if (r.service === 'iam') {
      const name = String(p.RoleName);
      if (r.operation === 'CreateRole' && r.answer.status < 300) rolePaths.set(name, String(p.Path ?? '/'));
      const fromAnswer = /<Path>([^<]*)<\/Path>/.exec(r.answer.body)?.[1];
      if (r.operation === 'GetRole' && fromAnswer) rolePaths.set(name, fromAnswer);
      // A role that does not exist (yet) is authorized by its name alone: IAM cannot know its path.
      const path = r.operation === 'CreateRole' ? String(p.Path ?? '/') : rolePaths.get(name) ?? '/';
      const arn = `arn:aws:iam::${account}:role${path}${name}`;
      const tags = Object.fromEntries(Object.entries(p).filter(([k]) => /^Tags\.member\.\d+\.Key$/.test(k)).map(([k, v]) => [String(v), String(p[k.replace(/Key$/, 'Value')] ?? '')]));
      push(`iam:${r.operation}`, arn, r.operation === 'CreateRole' ? requestTags(tags) : {});
      if (r.operation === 'CreateRole' && Object.keys(tags).length) push('iam:TagRole', arn, requestTags(tags));
      if (r.operation === 'DeleteRole' && r.answer.status < 300) rolePaths.delete(name);
    } else if (r.service === 'logs') {
      if (r.operation === 'DescribeLogGroups') {
        push('logs:DescribeLogGroups', '*');
        continue;
      }
      const arn = p.resourceArn ? String(p.resourceArn).replace(/:\*$/, '') : `arn:aws:logs:${region}:${account}:log-group:${String(p.logGroupName)}`;
      push(`logs:${r.operation}`, arn, r.operation === 'CreateLogGroup' ? requestTags(p.tags as Record<string, string>) : {});
      if (r.operation === 'CreateLogGroup' && p.tags) push('logs:TagResource', arn, requestTags(p.tags as Record<string, string>));
    } else if (r.service === 'lambda') {
      lambdaRequests(r, region, account, answer, mappingFunctions, push);
    } else if (r.service === 'apigateway') {
      apiGatewayRequests(r, region, answer, apiTags, push);
    } else if (r.service === 'dynamodb') {
      // Table actions are authorized on the table's ARN; BatchGetItem on each table it reads.
      const table = (name: string) => `arn:aws:dynamodb:${region}:${account}:table/${name}`;
      const tables = r.operation === 'BatchGetItem' ? Object.keys(p.RequestItems as object) : [p.ResourceArn ? String(p.ResourceArn).split(':table/')[1]! : String(p.TableName)];
      const tags = p.Tags ? Object.fromEntries((p.Tags as { Key: string; Value: string }[]).map((t) => [t.Key, t.Value])) : undefined;
      for (const name of tables) push(`dynamodb:${r.operation}`, table(name), r.operation === 'CreateTable' ? requestTags(tags) : {});
      if (r.operation === 'CreateTable' && tags) push('dynamodb:TagResource', table(String(p.TableName)), requestTags(tags));
    } else if (r.service === 'bedrock') {
      const [, kind, id] = /^\/([a-z-]+)\/(.+)$/.exec(r.path) ?? [];
      const model = decodeURIComponent(id ?? '');
      if (kind === 'inference-profiles') push('bedrock:GetInferenceProfile', `arn:aws:bedrock:${region}:${account}:inference-profile/${model}`);
      else if (kind === 'foundation-models') push('bedrock:GetFoundationModel', `arn:aws:bedrock:${region}::foundation-model/${model}`);
      else if (kind === 'foundation-model-availability') push('bedrock:GetFoundationModelAvailability', '*');
      else throw new Error(`iam-requests: unknown Bedrock request ${r.method} ${r.path}`);
    } else if (r.service === 'scheduler') {
      schedulerRequests(r, region, account, push);
    } else if (r.service === 's3') {
      s3Requests(r, push);
    } else if (r.service === 'monitoring') {
      // CloudWatch (signing name "monitoring"): GetMetricData has no resource types, so IAM sees "*".
      push(`cloudwatch:${r.operation}`, '*');
    } else {
      throw new Error(`iam-requests: no rule for ${call}`);
    }
  }
  return out;
}

type Push = (action: string, resource: string, context?: Record<string, string | string[]>) => void;

function lambdaRequests(r: Recorded, region: string, account: string, answer: Record<string, unknown>, mappingFunctions: Map<string, string>, push: Push) {
  const fnArn = (name: string) => (name.startsWith('arn:') ? name : `arn:aws:lambda:${region}:${account}:function:${name}`);
  const p = r.params;
  const fn = /^\/2015-03-31\/functions\/([^/]+)(\/configuration|\/code)?$/.exec(r.path);
  const esm = /^\/2015-03-31\/event-source-mappings\/?([^/]*)$/.exec(r.path);
  const tags = /^\/2017-03-31\/tags\/(.+)$/.exec(r.path);
  const passRole = () => {
    if (p.Role) push('iam:PassRole', String(p.Role), { 'iam:PassedToService': 'lambda.amazonaws.com' });
  };
  if (r.method === 'POST' && r.path === '/2015-03-31/functions') {
    const arn = fnArn(String(p.FunctionName));
    push('lambda:CreateFunction', arn, requestTags(p.Tags as Record<string, string>));
    if (p.Tags) push('lambda:TagResource', arn, requestTags(p.Tags as Record<string, string>));
    passRole();
  } else if (fn) {
    const arn = fnArn(decodeURIComponent(fn[1]!));
    const op = { GET: { '': 'GetFunction', '/configuration': 'GetFunctionConfiguration' }, PUT: { '/configuration': 'UpdateFunctionConfiguration', '/code': 'UpdateFunctionCode' }, DELETE: { '': 'DeleteFunction' } }[r.method as 'GET']?.[(fn[2] ?? '') as '']
      ?? (() => { throw new Error(`iam-requests: unknown Lambda request ${r.method} ${r.path}`); })();
    push(`lambda:${op}`, arn);
    // GetFunction returns the function's tags only to callers allowed lambda:ListTags.
    if (op === 'GetFunction') push('lambda:ListTags', arn);
    if (op === 'UpdateFunctionConfiguration') passRole();
  } else if (esm && r.method === 'GET' && !esm[1]) {
    push('lambda:ListEventSourceMappings', '*');
  } else if (esm && r.method === 'POST') {
    const functionArn = fnArn(String(p.FunctionName));
    push('lambda:CreateEventSourceMapping', '*', { 'lambda:FunctionArn': functionArn, ...requestTags(p.Tags as Record<string, string>) });
    if (answer.UUID) mappingFunctions.set(String(answer.UUID), functionArn);
    // Tagging a mapping on create is authorized as lambda:TagResource on the new mapping's ARN.
    if (p.Tags) push('lambda:TagResource', `arn:aws:lambda:${region}:${account}:event-source-mapping:${String(answer.UUID ?? 'new')}`, requestTags(p.Tags as Record<string, string>));
  } else if (esm) {
    const uuid = esm[1]!;
    if (answer.FunctionArn) mappingFunctions.set(uuid, String(answer.FunctionArn));
    const op = { GET: 'GetEventSourceMapping', PUT: 'UpdateEventSourceMapping', DELETE: 'DeleteEventSourceMapping' }[r.method as 'GET'];
    push(`lambda:${op}`, `arn:aws:lambda:${region}:${account}:event-source-mapping:${uuid}`, { 'lambda:FunctionArn': mappingFunctions.get(uuid) ?? '' });
  } else if (tags) {
    const arn = decodeURIComponent(tags[1]!);
    const action = { GET: 'lambda:ListTags', POST: 'lambda:TagResource', DELETE: 'lambda:UntagResource' }[r.method as 'GET'];
    push(action, arn, r.method === 'POST' ? requestTags(p.Tags as Record<string, string>) : {});
  } else {
    throw new Error(`iam-requests: unknown Lambda request ${r.method} ${r.path}`);
  }
}

/**
 * API Gateway v2 (the WebSocket API): IAM sees the path without /v2. Only the API and its stage
 * carry tags; its routes, integrations and models inherit none (the tagging guide lists
 * inheritance for v1 only), so they are evaluated without tag keys.
 */
function apiGatewayV2Requests(r: Recorded, region: string, answer: Record<string, unknown>, apiTags: Map<string, Record<string, string>>, push: Push) {
  const path = r.path.slice('/v2'.length);
  const resource = `arn:aws:apigateway:${region}::${path}`;
  const tagsOf = (item: Record<string, unknown>) => (item.tags as Record<string, string>) ?? {};
  if (path === '/apis' && r.answer.status < 300) {
    for (const item of (r.method === 'GET' ? answer.items ?? [] : [answer]) as Record<string, unknown>[]) if (item.apiId) apiTags.set(`/apis/${String(item.apiId)}`, tagsOf(item));
  }
  if (r.method === 'GET') return push('apigateway:GET', resource);
  const created = r.method === 'POST' && (path === '/apis' || path.startsWith('/tags/') || /^\/apis\/[^/]+\/stages$/.test(path));
  const own = /^\/apis\/[^/]+$/.test(path) ? Object.fromEntries(Object.entries(apiTags.get(path) ?? {}).map(([k, v]) => [`aws:ResourceTag/${k}`, v])) : {};
  push(`apigateway:${r.method}`, resource, created ? requestTags(r.params.tags as Record<string, string>) : own);
  if (/\/integrations(\/[^/]+)?$/.test(path) && r.params.credentialsArn) push('iam:PassRole', String(r.params.credentialsArn), { 'iam:PassedToService': 'apigateway.amazonaws.com' });
}

function apiGatewayRequests(r: Recorded, region: string, answer: Record<string, unknown>, apiTags: Map<string, Record<string, string>>, push: Push) {
  if (r.path.startsWith('/v2/')) return apiGatewayV2Requests(r, region, answer, apiTags, push);
  const learn = (item: { id?: unknown; tags?: unknown }, kind: string) => {
    if (item.id) apiTags.set(`/${kind}/${String(item.id)}`, (item.tags as Record<string, string>) ?? {});
  };
  const collection = /^\/(restapis|apikeys|usageplans)$/.exec(r.path)?.[1];
  if (collection && r.answer.status < 300) {
    if (r.method === 'GET') for (const item of (answer.item ?? answer.items ?? []) as { id?: unknown; tags?: unknown }[]) learn(item, collection);
    if (r.method === 'POST') learn(answer, collection);
  }
  const resource = `arn:aws:apigateway:${region}::${r.path}`;
  if (r.method === 'GET') {
    push('apigateway:GET', resource);
    return;
  }
  let context: Record<string, string | string[]>;
  if (collection) context = requestTags(r.params.tags as Record<string, string>);
  else if (r.path.startsWith('/tags/')) context = requestTags(r.params.tags as Record<string, string>);
  else {
    // Children inherit the tags of their REST API or usage plan for ABAC (API Gateway's list);
    // request validators and method or integration responses are not in that list.
    const root = /^\/(restapis|apikeys|usageplans)\/[^/]+/.exec(r.path)?.[0] ?? '';
    const inherits = !/\/requestvalidators(\/|$)|\/responses\/[^/]+$/.test(r.path);
    context = inherits ? Object.fromEntries(Object.entries(apiTags.get(root) ?? {}).map(([k, v]) => [`aws:ResourceTag/${k}`, v])) : {};
  }
  push(`apigateway:${r.method}`, resource, context);
  if (r.method === 'PUT' && /\/integration$/.test(r.path) && r.params.credentials) {
    push('iam:PassRole', String(r.params.credentials), { 'iam:PassedToService': 'apigateway.amazonaws.com' });
  }
}

/**
 * EventBridge Scheduler (REST): schedule groups and their tags by the group's ARN, schedules by
 * schedule/{group}/{name}; a schedule created or updated passes its role to the service.
 */
function schedulerRequests(r: Recorded, region: string, account: string, push: Push) {
  const p = r.params;
  const groupArn = (name: string) => `arn:aws:scheduler:${region}:${account}:schedule-group/${name}`;
  const tagsOf = (list: unknown) => (Array.isArray(list) ? Object.fromEntries((list as { Key: string; Value: string }[]).map((t) => [t.Key, t.Value])) : undefined);
  const group = /^\/schedule-groups\/([^/]+)$/.exec(r.path);
  const schedule = /^\/schedules\/([^/]+)$/.exec(r.path);
  const tags = /^\/tags\/(.+)$/.exec(r.path);
  if (group) {
    const arn = groupArn(decodeURIComponent(group[1]!));
    const op = { GET: 'GetScheduleGroup', POST: 'CreateScheduleGroup', DELETE: 'DeleteScheduleGroup' }[r.method as 'GET'];
    const created = tagsOf(p.Tags);
    push(`scheduler:${op}`, arn, op === 'CreateScheduleGroup' ? requestTags(created) : {});
    if (op === 'CreateScheduleGroup' && created) push('scheduler:TagResource', arn, requestTags(created));
  } else if (schedule) {
    const groupName = String(p.GroupName ?? r.query.get('groupName') ?? 'default');
    const arn = `arn:aws:scheduler:${region}:${account}:schedule/${groupName}/${decodeURIComponent(schedule[1]!)}`;
    const op = { GET: 'GetSchedule', POST: 'CreateSchedule', PUT: 'UpdateSchedule', DELETE: 'DeleteSchedule' }[r.method as 'GET'];
    push(`scheduler:${op}`, arn);
    const role = (p.Target as { RoleArn?: string } | undefined)?.RoleArn;
    if (role && (op === 'CreateSchedule' || op === 'UpdateSchedule')) push('iam:PassRole', role, { 'iam:PassedToService': 'scheduler.amazonaws.com' });
  } else if (tags) {
    const op = { GET: 'ListTagsForResource', POST: 'TagResource', DELETE: 'UntagResource' }[r.method as 'GET'];
    push(`scheduler:${op}`, decodeURIComponent(tags[1]!), op === 'TagResource' ? requestTags(tagsOf(p.Tags)) : {});
  } else {
    throw new Error(`iam-requests: unknown Scheduler request ${r.method} ${r.path}`);
  }
}

/** S3's bucket subresources (the query key) and the action IAM authorizes each as, by method. */
const S3_SUBRESOURCES: Record<string, { GET: string; PUT: string }> = {
  tagging: { GET: 's3:GetBucketTagging', PUT: 's3:PutBucketTagging' },
  publicAccessBlock: { GET: 's3:GetBucketPublicAccessBlock', PUT: 's3:PutBucketPublicAccessBlock' },
  encryption: { GET: 's3:GetEncryptionConfiguration', PUT: 's3:PutEncryptionConfiguration' },
  lifecycle: { GET: 's3:GetLifecycleConfiguration', PUT: 's3:PutLifecycleConfiguration' },
  policy: { GET: 's3:GetBucketPolicy', PUT: 's3:PutBucketPolicy' },
};

/** S3 (REST XML, path-style against the emulator): bucket actions on the bucket's ARN, object actions on the object's. */
function s3Requests(r: Recorded, push: Push) {
  const [, bucket, key] = /^\/([^/]+)\/?(.*)$/.exec(r.path) ?? [];
  if (!bucket) throw new Error(`iam-requests: unknown S3 request ${r.method} ${r.path}`);
  const arn = `arn:aws:s3:::${bucket}`;
  const sub = Object.keys(S3_SUBRESOURCES).find((name) => r.query.has(name));
  if (key) {
    const action = ({ GET: 's3:GetObject', HEAD: 's3:GetObject', PUT: 's3:PutObject', DELETE: 's3:DeleteObject' } as Record<string, string>)[r.method];
    if (!action) throw new Error(`iam-requests: unknown S3 object request ${r.method} ${r.path}`);
    push(action, `${arn}/${decodeURIComponent(key)}`);
  } else if (sub) {
    push(S3_SUBRESOURCES[sub]![r.method as 'GET' | 'PUT'], arn);
  } else if (r.method === 'GET' && r.query.get('list-type') === '2') {
    push('s3:ListBucket', arn);
  } else if (r.method === 'POST' && r.query.has('delete')) {
    // A multi-object delete: s3:DeleteObject on each key it names.
    for (const [, k] of r.body.matchAll(/<Key>([^<]*)<\/Key>/g)) push('s3:DeleteObject', `${arn}/${k}`);
  } else if (r.method === 'PUT') {
    push('s3:CreateBucket', arn);
  } else if (r.method === 'DELETE') {
    push('s3:DeleteBucket', arn);
  } else {
    throw new Error(`iam-requests: unknown S3 request ${r.method} ${r.path}?${r.query.toString()}`);
  }
}
