import { IAM_PATH, STAGE_NAME, type ResourceNames } from '../contract.js';
import type { Account } from './aws.js';
import type { Ctx, ModelAccess } from './types.js';

/** Where ARNs point: a stack's names in one partition, Region and account (`*` for any, in policies). A Ctx is one. */
export interface ArnScope {
  account: Account;
  names: ResourceNames;
}

export function queueArn(at: ArnScope, queueName: string) {
  const { partition, region, accountId } = at.account;
  return `arn:${partition}:sqs:${region}:${accountId}:${queueName}`;
}

export function roleArn(at: ArnScope, roleName: string, path = IAM_PATH) {
  return `arn:${at.account.partition}:iam::${at.account.accountId}:role${path}${roleName}`;
}

export function functionArn(at: ArnScope) {
  const { partition, region, accountId } = at.account;
  return `arn:${partition}:lambda:${region}:${accountId}:function:${at.names.workerFunction}`;
}

export function mappingArn(at: ArnScope, uuid: string) {
  const { partition, region, accountId } = at.account;
  return `arn:${partition}:lambda:${region}:${accountId}:event-source-mapping:${uuid}`;
}

export function logGroupArn(at: ArnScope) {
  const { partition, region, accountId } = at.account;
  return `arn:${partition}:logs:${region}:${accountId}:log-group:${at.names.logGroup}`;
}

export function tableArn(at: ArnScope) {
  const { partition, region, accountId } = at.account;
  return `arn:${partition}:dynamodb:${region}:${accountId}:table/${at.names.resultsTable}`;
}

/** An API Gateway resource by its path: /restapis/abc, /apikeys/*, /tags/*. */
export function apiGatewayPathArn(at: ArnScope, path: string) {
  return `arn:${at.account.partition}:apigateway:${at.account.region}::${path}`;
}

/** API Gateway's own resources: the REST API, an API key or a usage plan, by id. */
export function apiGatewayArn(at: ArnScope, kind: 'restapis' | 'apikeys' | 'usageplans', id: string) {
  return apiGatewayPathArn(at, `/${kind}/${id}`);
}

/** What PostToConnection is authorized on: the connections of one WebSocket API's stage. */
export function connectionsArn(at: ArnScope, apiId: string) {
  const { partition, region, accountId } = at.account;
  return `arn:${partition}:execute-api:${region}:${accountId}:${apiId}/${STAGE_NAME}/POST/@connections/*`;
}

/** The URI of an API Gateway AWS-service integration: sqs:path/<account>/<queue>, dynamodb:action/GetItem. */
export function integrationUri(at: ArnScope, service: string, path: string) {
  return `arn:${at.account.partition}:apigateway:${at.account.region}:${service}:${path}`;
}

export function foundationModelArn(at: ArnScope, modelId: string, region = at.account.region) {
  return `arn:${at.account.partition}:bedrock:${region}::foundation-model/${modelId}`;
}

export function inferenceProfileArn(at: ArnScope, profileId: string) {
  const { partition, region, accountId } = at.account;
  return `arn:${partition}:bedrock:${region}:${accountId}:inference-profile/${profileId}`;
}

/** Geography prefixes of system-defined cross-Region inference profiles. */
const PROFILE_PREFIXES = new Set(['us', 'eu', 'apac', 'jp', 'au', 'ca', 'us-gov', 'global']);

export interface ModelTarget {
  /** The inference profile id, when the model is called through one. */
  profileId?: string;
  foundationModelId: string;
}

export function parseModelId(modelId: string): ModelTarget {
  const [first, ...rest] = modelId.split('.');
  if (first && PROFILE_PREFIXES.has(first) && rest.length >= 2) return { profileId: modelId, foundationModelId: rest.join('.') };
  return { foundationModelId: modelId };
}

/**
 * The policy statements that let the worker call the configured model and nothing else.
 * A foundation model: its ARN in this Region. An inference profile: the profile's ARN, plus its
 * foundation models, usable only through that profile (condition bedrock:InferenceProfileArn).
 * With the preflight's answer (`access`) the models are the profile's own models[].modelArn, the
 * Region-less global form included; without it (--skip-model-check) the model in any Region.
 */
export function modelStatements(ctx: Ctx, modelId: string, access?: ModelAccess) {
  const target = parseModelId(modelId);
  const one = (list: string[]) => (list.length === 1 ? list[0]! : list);
  if (!target.profileId) {
    return [{ Sid: 'InvokeModel', Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: one(access?.modelArns ?? [foundationModelArn(ctx, target.foundationModelId)]) }];
  }
  const profile = access?.profileArn ?? inferenceProfileArn(ctx, target.profileId);
  return [
    { Sid: 'InvokeInferenceProfile', Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: profile },
    {
      Sid: 'InvokeProfileModel',
      Effect: 'Allow',
      Action: 'bedrock:InvokeModel',
      Resource: one(access?.modelArns ?? [foundationModelArn(ctx, target.foundationModelId, '*')]),
      Condition: { StringEquals: { 'bedrock:InferenceProfileArn': profile } },
    },
  ];
}

/** The governor's schedule group (tagged for the stack) and the schedule in it. */
export function scheduleGroupArn(at: ArnScope) {
  return `arn:${at.account.partition}:scheduler:${at.account.region}:${at.account.accountId}:schedule-group/${at.names.scheduleGroup}`;
}

export function scheduleArn(at: ArnScope) {
  return `arn:${at.account.partition}:scheduler:${at.account.region}:${at.account.accountId}:schedule/${at.names.scheduleGroup}/${at.names.schedule}`;
}

/**
 * The discount route's bucket (`batch --discount`). Bucket names are global: the account and Region
 * make it the stack's alone; at most 31 + 4 + 12 + 1 + 14 = 62 of S3's 63 characters.
 */
export function batchBucketName(at: ArnScope) {
  return `${at.names.batchBucketStem}-${at.account.accountId}-${at.account.region}`;
}

export function bucketArn(at: ArnScope, path?: string) {
  return `arn:${at.account.partition}:s3:::${batchBucketName(at)}${path === undefined ? '' : `/${path}`}`;
}

/** The stack's batch inference jobs (any job id), as Bedrock names them in aws:SourceArn. */
export function modelInvocationJobArn(at: ArnScope, jobId = '*') {
  return `arn:${at.account.partition}:bedrock:${at.account.region}:${at.account.accountId}:model-invocation-job/${jobId}`;
}
