import { DeleteRolePolicyCommand, GetRolePolicyCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { governorOn } from '../governor/config.js';
import { mappingArn } from './arns.js';
import { change, orMissing } from './diff.js';
import type { Ctx, Live, Resource } from './types.js';

export const GOVERNOR_POLICY_NAME = 'bedrock-queue-governor';

interface GovernorPolicyLive extends Live {
  policy: unknown;
}

/**
 * What the worker may do when the schedule invokes it as the governor: read and change its own
 * mapping (by its exact ARN, known once the mapping exists, hence a policy of its own beside the
 * role's), and read the stack's metrics (GetMetricData has no resource-level permissions: `*`).
 */
export function governorPolicy(ctx: Ctx) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'SteerOwnMapping', Effect: 'Allow',
        Action: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping', 'lambda:ListTags', 'lambda:TagResource', 'lambda:UntagResource'],
        Resource: mappingArn(ctx, ctx.ids.mappingUuid ?? '(the mapping this up creates)'),
      },
      { Sid: 'ReadMetrics', Effect: 'Allow', Action: 'cloudwatch:GetMetricData', Resource: '*' },
    ],
  };
}

const put = (ctx: Ctx) => ctx.clients.iam.send(new PutRolePolicyCommand({
  RoleName: ctx.names.workerRole, PolicyName: GOVERNOR_POLICY_NAME, PolicyDocument: JSON.stringify(governorPolicy(ctx)),
}));

/** The worker role's second inline policy, there while the governor is on; `down` removes it with the role. */
export const governorRolePolicy: Resource<GovernorPolicyLive> = {
  key: 'governor-policy',
  kind: 'IAM role policy',
  name: (ctx) => `${ctx.names.workerRole}/${GOVERNOR_POLICY_NAME}`,
  async read(ctx) {
    const found = await orMissing(ctx.clients.iam.send(new GetRolePolicyCommand({ RoleName: ctx.names.workerRole, PolicyName: GOVERNOR_POLICY_NAME })));
    return found?.PolicyDocument ? { tags: {}, policy: JSON.parse(decodeURIComponent(found.PolicyDocument)) } : undefined;
  },
  // An inline policy has no tags: it is ours because the role it is in is.
  ownedWith: ['worker-role'],
  untaggable: true,
  wanted: (ctx) => governorOn(ctx.settings),
  // Computed again when put: the mapping's UUID may be learned since the plan.
  diff: (ctx, live) => change('permissions', live.policy, governorPolicy(ctx), async () => void await put(ctx)),
  async create(ctx) {
    await put(ctx);
    return {};
  },
  async tag() {},
  async remove(ctx) {
    await orMissing(ctx.clients.iam.send(new DeleteRolePolicyCommand({ RoleName: ctx.names.workerRole, PolicyName: GOVERNOR_POLICY_NAME })));
  },
};
