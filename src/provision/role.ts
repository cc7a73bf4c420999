import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  type Role,
} from '@aws-sdk/client-iam';
import { IAM_PATH } from '../contract.js';
import { CliError, errorName } from '../errors.js';
import { logGroupArn, modelStatements, queueArn } from './arns.js';
import { change, missingTags, orMissing, tagChanges } from './diff.js';
import type { Change, Ctx, Live, Resource } from './types.js';

export const INLINE_POLICY_NAME = 'bedrock-queue';

export interface RoleLive extends Live {
  trust: unknown;
  policy: unknown;
}

interface RoleSpec {
  key: string;
  name: (ctx: Ctx) => string;
  service: string;
  policy: (ctx: Ctx) => unknown;
}

function trustPolicy(service: string) {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
  };
}

function document(statements: unknown[]) {
  return { Version: '2012-10-17', Statement: statements };
}

/** IAM returns policy documents URL-encoded. */
const decodePolicy = (text: string | undefined) => (text ? JSON.parse(decodeURIComponent(text)) : undefined);

async function listStackPathRoles(ctx: Ctx): Promise<Map<string, Role>> {
  return ctx.once('iam:ListRoles', async () => {
    const roles = new Map<string, Role>();
    let Marker: string | undefined;
    do {
      const page = await ctx.clients.iam.send(new ListRolesCommand({ PathPrefix: IAM_PATH, Marker, MaxItems: 1000 }));
      for (const role of page.Roles ?? []) if (role.Path === IAM_PATH) roles.set(role.RoleName!, role);
      Marker = page.IsTruncated ? page.Marker : undefined;
    } while (Marker);
    return roles;
  });
}

function roleResource(spec: RoleSpec): Resource<RoleLive> {
  const changes = (ctx: Ctx, live: RoleLive): Change[] => [
    ...change('trust policy', live.trust, trustPolicy(spec.service)),
    ...change('permissions', live.policy, spec.policy(ctx)),
  ];
  return {
    key: spec.key,
    kind: 'IAM role',
    name: spec.name,
    async read(ctx) {
      const RoleName = spec.name(ctx);
      const role = (await listStackPathRoles(ctx)).get(RoleName);
      if (!role) return undefined;
      const [tags, policy] = await Promise.all([
        ctx.clients.iam.send(new ListRoleTagsCommand({ RoleName })),
        orMissing(ctx.clients.iam.send(new GetRolePolicyCommand({ RoleName, PolicyName: INLINE_POLICY_NAME }))),
      ]);
      return {
        tags: Object.fromEntries((tags.Tags ?? []).map((t) => [t.Key!, t.Value ?? ''])),
        trust: decodePolicy(role.AssumeRolePolicyDocument),
        policy: decodePolicy(policy?.PolicyDocument),
      };
    },
    diff: (ctx, live) => [...changes(ctx, live), ...tagChanges(ctx.tags, live.tags)],
    async create(ctx) {
      const RoleName = spec.name(ctx);
      try {
        await ctx.clients.iam.send(new CreateRoleCommand({
          RoleName,
          Path: IAM_PATH,
          AssumeRolePolicyDocument: JSON.stringify(trustPolicy(spec.service)),
          Description: `bedrock-queue stack ${ctx.stack}`,
          Tags: Object.entries(ctx.tags).map(([Key, Value]) => ({ Key, Value })),
        }));
      } catch (err) {
        if (errorName(err) === 'EntityAlreadyExistsException') {
          throw new CliError(`IAM role ${RoleName} already exists outside the path ${IAM_PATH}, so it is not this stack's: choose another --name or remove that role.`);
        }
        throw err;
      }
      await putPolicy(ctx, RoleName, spec.policy(ctx));
    },
    async update(ctx, live) {
      const RoleName = spec.name(ctx);
      for (const c of changes(ctx, live)) {
        if (c.field === 'trust policy') {
          await ctx.clients.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName, PolicyDocument: JSON.stringify(c.desired) }));
        } else {
          await putPolicy(ctx, RoleName, c.desired);
        }
      }
      const tags = missingTags(ctx.tags, live.tags);
      if (Object.keys(tags).length) {
        await ctx.clients.iam.send(new TagRoleCommand({ RoleName, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
      }
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
  return document([{ Sid: 'SendRequests', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn(ctx, ctx.names.requestsQueue) }]);
}

export function workerRolePolicy(ctx: Ctx) {
  return document([
    {
      Sid: 'ConsumeRequests',
      Effect: 'Allow',
      // SendMessage: a throttled request is put back on the queue with a delay (see the worker).
      Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes', 'sqs:SendMessage'],
      Resource: queueArn(ctx, ctx.names.requestsQueue),
    },
    { Sid: 'PublishResults', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn(ctx, ctx.names.resultsQueue) },
    ...modelStatements(ctx, ctx.settings.model),
    { Sid: 'WriteOwnLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `${logGroupArn(ctx)}:*` },
  ]);
}

export const apiRole = roleResource({ key: 'api-role', name: (ctx) => ctx.names.apiRole, service: 'apigateway.amazonaws.com', policy: apiRolePolicy });
export const workerRole = roleResource({ key: 'worker-role', name: (ctx) => ctx.names.workerRole, service: 'lambda.amazonaws.com', policy: workerRolePolicy });
