import { IAM_PATH } from '../contract.js';
import type { Ctx, ModelAccess } from './types.js';

export function queueArn(ctx: Ctx, queueName: string) {
  const { partition, region, accountId } = ctx.account;
  return `arn:${partition}:sqs:${region}:${accountId}:${queueName}`;
}

export function roleArn(ctx: Ctx, roleName: string) {
  return `arn:${ctx.account.partition}:iam::${ctx.account.accountId}:role${IAM_PATH}${roleName}`;
}

export function functionArn(ctx: Ctx) {
  const { partition, region, accountId } = ctx.account;
  return `arn:${partition}:lambda:${region}:${accountId}:function:${ctx.names.workerFunction}`;
}

export function mappingArn(ctx: Ctx, uuid: string) {
  const { partition, region, accountId } = ctx.account;
  return `arn:${partition}:lambda:${region}:${accountId}:event-source-mapping:${uuid}`;
}

export function logGroupArn(ctx: Ctx) {
  const { partition, region, accountId } = ctx.account;
  return `arn:${partition}:logs:${region}:${accountId}:log-group:${ctx.names.logGroup}`;
}

export function tableArn(ctx: Ctx) {
  const { partition, region, accountId } = ctx.account;
  return `arn:${partition}:dynamodb:${region}:${accountId}:table/${ctx.names.resultsTable}`;
}

/** API Gateway's own resources: the REST API, an API key or a usage plan, by id. */
export function apiGatewayArn(ctx: Ctx, kind: 'restapis' | 'apikeys' | 'usageplans', id: string) {
  return `arn:${ctx.account.partition}:apigateway:${ctx.account.region}::/${kind}/${id}`;
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
  const { partition, region, accountId } = ctx.account;
  const target = parseModelId(modelId);
  const one = (list: string[]) => (list.length === 1 ? list[0]! : list);
  if (!target.profileId) {
    return [{ Sid: 'InvokeModel', Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: one(access?.modelArns ?? [`arn:${partition}:bedrock:${region}::foundation-model/${target.foundationModelId}`]) }];
  }
  const profile = access?.profileArn ?? `arn:${partition}:bedrock:${region}:${accountId}:inference-profile/${target.profileId}`;
  return [
    { Sid: 'InvokeInferenceProfile', Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: profile },
    {
      Sid: 'InvokeProfileModel',
      Effect: 'Allow',
      Action: 'bedrock:InvokeModel',
      Resource: one(access?.modelArns ?? [`arn:${partition}:bedrock:*::foundation-model/${target.foundationModelId}`]),
      Condition: { StringEquals: { 'bedrock:InferenceProfileArn': profile } },
    },
  ];
}
