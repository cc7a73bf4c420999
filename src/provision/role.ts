import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  type Role,
} from '@aws-sdk/client-iam';
import { IAM_PATH } from '../contract.js';
import { errorName } from '../errors.js';
import { bucketArn, connectionsArn, functionArn, logGroupArn, modelInvocationJobArn, modelStatements, parseModelId, queueArn, tableArn } from './arns.js';
import { BATCH_PREFIX } from './batch-bucket.js';
import { change, orMissing, sameDocument, tagList } from './diff.js';
import type { Ctx, Live, Resource } from './types.js';
import { governorOn } from '../governor/config.js';

export const INLINE_POLICY_NAME = 'bedrock-queue';

export interface RoleLive extends Live {
  trust: unknown;
  policy: unknown;
}

interface RoleSpec {
  key: string;
  name: (ctx: Ctx) => string;
  service: string;
  policy: (ctx: Ctx, live?: RoleLive) => unknown;
  /** Only services acting for this account may assume it (a confused-deputy guard). */
  sameAccountOnly?: true;
  /** And only for these of its resources (aws:SourceArn, as the service's documentation gives it). */
  sourceArn?: (ctx: Ctx) => string;
  wanted?: (ctx: Ctx) => boolean;
}

function trustPolicy(ctx: Ctx, spec: RoleSpec) {
  return {
    Version: '2012-10-17',
    Statement: [{
      Effect: 'Allow', Principal: { Service: spec.service }, Action: 'sts:AssumeRole',
      ...(spec.sameAccountOnly ? { Condition: {
        StringEquals: { 'aws:SourceAccount': ctx.account.accountId },
        ...(spec.sourceArn ? { ArnEquals: { 'aws:SourceArn': spec.sourceArn(ctx) } } : {}),
      } } : {}),
    }],
  };
}

function document(statements: unknown[]) {
  return { Version: '2012-10-17', Statement: statements };
}

/** IAM returns policy documents URL-encoded. */
const decodePolicy = (text: string | undefined) => (text ? JSON.parse(decodeURIComponent(text)) : undefined);

/**
 * GetRole returns the path and the tags in one call, and reads its own writes better than a
 * listing does. A role outside IAM_PATH is never this stack's, whatever its tags say.
 */
async function readRole(ctx: Ctx, RoleName: string): Promise<RoleLive | undefined> {
  const found = await orMissing(ctx.clients.iam.send(new GetRoleCommand({ RoleName })));
  if (!found?.Role) return undefined;
  const role: Role = found.Role;
  if (role.Path !== IAM_PATH) return { tags: {}, trust: undefined, policy: undefined };
  // IAM reads lag writes: a policy listed a moment ago may answer NoSuchEntity.
  const policy = await orMissing(ctx.clients.iam.send(new GetRolePolicyCommand({ RoleName, PolicyName: INLINE_POLICY_NAME })));
  return {
    tags: Object.fromEntries((role.Tags ?? []).map((t) => [t.Key!, t.Value ?? ''])),
    trust: decodePolicy(role.AssumeRolePolicyDocument),
    policy: decodePolicy(policy?.PolicyDocument),
  };
}

function roleResource(spec: RoleSpec): Resource<RoleLive> {
  return {
    key: spec.key,
    kind: 'IAM role',
    name: spec.name,
    read: (ctx) => readRole(ctx, spec.name(ctx)),
    ...(spec.wanted ? { wanted: spec.wanted } : {}),
    diff(ctx, live) {
      const RoleName = spec.name(ctx);
      const trust = trustPolicy(ctx, spec);
      const policy = spec.policy(ctx, live);
      return [
        ...change('trust policy', live.trust, trust, async () => {
          await ctx.clients.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName, PolicyDocument: JSON.stringify(trust) }));
        }),
        // Computed again when put: an id it names (the WebSocket API's) may be learned since the plan.
        ...change('permissions', live.policy, policy, () => putPolicy(ctx, RoleName, spec.policy(ctx, live))),
      ];
    },
    async create(ctx) {
      const RoleName = spec.name(ctx);
      await ctx.clients.iam.send(new CreateRoleCommand({
        RoleName,
        Path: IAM_PATH,
        AssumeRolePolicyDocument: JSON.stringify(trustPolicy(ctx, spec)),
        Description: `bedrock-queue stack ${ctx.stack}`,
        Tags: tagList(ctx.tags),
      }));
      await putPolicy(ctx, RoleName, spec.policy(ctx));
      return {};
    },
    // After an interrupted up the role is usually ours, created a moment ago. One outside IAM_PATH
    // reads as untagged (readRole), so it is never adopted.
    createConflict: (err) => errorName(err) === 'EntityAlreadyExistsException',
    async tag(ctx, _live, tags) {
      await ctx.clients.iam.send(new TagRoleCommand({ RoleName: spec.name(ctx), Tags: tagList(tags) }));
    },
    async remove(ctx) {
      const RoleName = spec.name(ctx);
      const [inline, attached] = await Promise.all([
        ctx.clients.iam.send(new ListRolePoliciesCommand({ RoleName })),
        ctx.clients.iam.send(new ListAttachedRolePoliciesCommand({ RoleName })),
      ]);
      for (const PolicyName of inline.PolicyNames ?? []) await ctx.clients.iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName }));
      for (const p of attached.AttachedPolicies ?? []) await ctx.clients.iam.send(new DetachRolePolicyCommand({ RoleName, PolicyArn: p.PolicyArn }));
      await ctx.clients.iam.send(new DeleteRoleCommand({ RoleName }));
    },
  };
}

async function putPolicy(ctx: Ctx, RoleName: string, policy: unknown) {
  await ctx.clients.iam.send(new PutRolePolicyCommand({ RoleName, PolicyName: INLINE_POLICY_NAME, PolicyDocument: JSON.stringify(policy) }));
}

export function apiRolePolicy(ctx: Ctx) {
  return document([
    { Sid: 'SendRequests', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn(ctx, ctx.names.requestsQueue) },
    // GetItem: GET /results/{id}. UpdateItem: the WebSocket route `subscribe` adds its connection to a request's listeners.
    { Sid: 'ReadResults', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: tableArn(ctx) },
  ]);
}

interface Statement { Sid?: string; Action?: string | string[]; Resource?: string | string[]; Condition?: unknown }

/**
 * The Bedrock statements: exact, from the model preflight when it ran; else the live ones while
 * the model is unchanged and they have the preflight's shape for it (so a `status`, or an `up`
 * with --skip-model-check, keeps what the preflight granted but never a widened statement);
 * else derived from the model id alone.
 */
function bedrockStatements(ctx: Ctx, live?: RoleLive): unknown[] {
  const derived = modelStatements(ctx, ctx.settings.model, ctx.modelAccess);
  if (ctx.modelAccess || !live || ctx.live.model !== ctx.settings.model) return derived;
  const kept = ((live.policy as { Statement?: Statement[] } | undefined)?.Statement ?? []).filter((s) => [s.Action].flat().includes('bedrock:InvokeModel'));
  const { profileId, foundationModelId } = parseModelId(ctx.settings.model);
  const ownArn = (arn: string) => /^arn:[\w-]+:bedrock:/.test(arn) &&
    (arn.endsWith(`:foundation-model/${foundationModelId}`) || (!!profileId && arn.endsWith(`:inference-profile/${profileId}`)));
  const sameShape = kept.length === derived.length && kept.every((s, i) => {
    const want = derived[i] as Statement;
    return s.Sid === want.Sid && sameDocument(s.Action, want.Action) && sameDocument(s.Condition, want.Condition) && [s.Resource ?? []].flat().every(ownArn);
  });
  return sameShape ? kept : derived;
}

export function workerRolePolicy(ctx: Ctx, live?: RoleLive) {
  return document([
    {
      Sid: 'ConsumeRequests',
      Effect: 'Allow',
      // SendMessage: a throttled request is put back on the queue with a delay (see the worker).
      Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes', 'sqs:SendMessage'],
      Resource: queueArn(ctx, ctx.names.requestsQueue),
    },
    { Sid: 'PublishResults', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn(ctx, ctx.names.resultsQueue) },
    // UpdateItem claims a request before its model call, GetItem reads what a failed claim met, PutItem stores the result.
    { Sid: 'StoreResults', Effect: 'Allow', Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:GetItem'], Resource: tableArn(ctx) },
    ...bedrockStatements(ctx, live),
    { Sid: 'WriteOwnLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `${logGroupArn(ctx)}:*` },
    // PostToConnection: answers pushed to the connections of this stack's WebSocket API, and no other's.
    { Sid: 'PushToListeners', Effect: 'Allow', Action: 'execute-api:ManageConnections', Resource: connectionsArn(ctx, ctx.ids.websocketApiId ?? '(the WebSocket API this up creates)') },
  ]);
}

/** The schedule's role: it may invoke the worker, and nothing else. */
export function schedulerRolePolicy(ctx: Ctx) {
  return document([{ Sid: 'InvokeWorker', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: functionArn(ctx) }]);
}

/**
 * The role Bedrock assumes for the stack's batch inference jobs (`batch --discount`): it reads the
 * jobs' input files and writes their output, under the bucket's `batch/`, and calls the stack's model
 * (the statements the worker has: the user guide's permissions for jobs through an inference profile).
 */
export function batchRolePolicy(ctx: Ctx) {
  return document([
    { Sid: 'ReadJobInputs', Effect: 'Allow', Action: 's3:GetObject', Resource: bucketArn(ctx, `${BATCH_PREFIX}*/input/*`) },
    { Sid: 'WriteJobOutputs', Effect: 'Allow', Action: 's3:PutObject', Resource: bucketArn(ctx, `${BATCH_PREFIX}*/output/*`) },
    { Sid: 'ListJobFiles', Effect: 'Allow', Action: 's3:ListBucket', Resource: bucketArn(ctx), Condition: { StringLike: { 's3:prefix': `${BATCH_PREFIX}*` } } },
    ...modelStatements(ctx, ctx.settings.model, ctx.modelAccess),
  ]);
}

export const apiRole = roleResource({ key: 'api-role', name: (ctx) => ctx.names.apiRole, service: 'apigateway.amazonaws.com', policy: apiRolePolicy });
export const workerRole = roleResource({ key: 'worker-role', name: (ctx) => ctx.names.workerRole, service: 'lambda.amazonaws.com', policy: workerRolePolicy });
export const schedulerRole = roleResource({
  key: 'scheduler-role', name: (ctx) => ctx.names.schedulerRole, service: 'scheduler.amazonaws.com', policy: schedulerRolePolicy,
  sameAccountOnly: true, wanted: (ctx) => governorOn(ctx.settings),
});
export const batchRole = roleResource({
  key: 'batch-role', name: (ctx) => ctx.names.batchRole, service: 'bedrock.amazonaws.com', policy: batchRolePolicy,
  sameAccountOnly: true, sourceArn: (ctx) => modelInvocationJobArn(ctx), wanted: (ctx) => ctx.settings.discount,
});
