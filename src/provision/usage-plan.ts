import {
  CreateUsagePlanCommand,
  CreateUsagePlanKeyCommand,
  DeleteUsagePlanCommand,
  DeleteUsagePlanKeyCommand,
  GetUsagePlanCommand,
  GetUsagePlanKeysCommand,
  GetUsagePlansCommand,
  TagResourceCommand,
  UpdateUsagePlanCommand,
  type PatchOperation,
} from '@aws-sdk/client-api-gateway';
import { STACK_TAG, STAGE_NAME } from '../contract.js';
import { apiGatewayArn } from './arns.js';
import { change, orMissing } from './diff.js';
import { apiCall, findByName } from './api-gateway.js';
import type { Change, Ctx, Live, Resource } from './types.js';

export interface UsagePlanLive extends Live {
  id: string;
  stages: string[];
  rateLimit?: number;
  burstLimit?: number;
  keyIds: string[];
}

/**
 * The stages and key this plan should hold: the REST API's and the WebSocket API's (the key is
 * checked when a socket connects, and the plan's throttle and quota count its messages too);
 * until an API or the key is created, the plan says so.
 */
const stageRefs = (ctx: Ctx) => [
  `${ctx.ids.restApiId ?? '(the API this up creates)'}:${STAGE_NAME}`,
  `${ctx.ids.websocketApiId ?? '(the WebSocket API this up creates)'}:${STAGE_NAME}`,
];
const keyRef = (ctx: Ctx) => ctx.ids.apiKeyId ?? '(the key this up creates)';

function changes(ctx: Ctx, live: UsagePlanLive): Change[] {
  const gw = ctx.clients.apigateway;
  // Both puts read the ids when they run: the API and the key come earlier in the same apply.
  const updatePlan = async () => {
    const wanted = stageRefs(ctx);
    const patchOperations: PatchOperation[] = [
      ...live.stages.filter((s) => !wanted.includes(s)).map((value) => ({ op: 'remove' as const, path: '/apiStages', value })),
      ...wanted.filter((s) => !live.stages.includes(s)).map((value) => ({ op: 'add' as const, path: '/apiStages', value })),
      ...(live.rateLimit !== ctx.settings.rateLimit ? [{ op: 'replace' as const, path: '/throttle/rateLimit', value: String(ctx.settings.rateLimit) }] : []),
      ...(live.burstLimit !== ctx.settings.burstLimit ? [{ op: 'replace' as const, path: '/throttle/burstLimit', value: String(ctx.settings.burstLimit) }] : []),
    ];
    if (patchOperations.length) await apiCall(ctx, () => gw.send(new UpdateUsagePlanCommand({ usagePlanId: live.id, patchOperations })));
  };
  const attachKey = async () => {
    for (const keyId of live.keyIds.filter((k) => k !== ctx.ids.apiKeyId)) {
      await apiCall(ctx, () => gw.send(new DeleteUsagePlanKeyCommand({ usagePlanId: live.id, keyId })));
    }
    if (ctx.ids.apiKeyId && !live.keyIds.includes(ctx.ids.apiKeyId)) {
      await apiCall(ctx, () => gw.send(new CreateUsagePlanKeyCommand({ usagePlanId: live.id, keyId: ctx.ids.apiKeyId, keyType: 'API_KEY' })));
    }
  };
  return [
    ...change('apiStages', [...live.stages].sort(), stageRefs(ctx).sort(), updatePlan),
    ...change('throttle.rateLimit', live.rateLimit, ctx.settings.rateLimit, updatePlan),
    ...change('throttle.burstLimit', live.burstLimit, ctx.settings.burstLimit, updatePlan),
    ...change('apiKeys', live.keyIds, [keyRef(ctx)], attachKey),
  ];
}

export const usagePlan: Resource<UsagePlanLive> = {
  key: 'usage-plan',
  kind: 'Usage plan',
  name: (ctx) => ctx.names.usagePlan,
  async read(ctx) {
    const { item: plan, duplicates } = await findByName(ctx, ctx.names.usagePlan, (position) => ctx.clients.apigateway.send(new GetUsagePlansCommand({ limit: 500, position })));
    if (!plan) return undefined;
    const tags = plan.tags ?? {};
    const keys = tags[STACK_TAG] === ctx.stack ? await orMissing(planKeys(ctx, plan.id!)) : { items: [] };
    if (!keys) return undefined;
    return {
      id: plan.id!,
      tags,
      duplicates: duplicates.map((d) => d.id!),
      stages: (plan.apiStages ?? []).map((s) => `${s.apiId}:${s.stage}`),
      rateLimit: plan.throttle?.rateLimit,
      burstLimit: plan.throttle?.burstLimit,
      keyIds: (keys?.items ?? []).map((k) => k.id!),
    };
  },
  liveSettings: (live) => ({
    ...(live.rateLimit !== undefined ? { rateLimit: live.rateLimit } : {}),
    ...(live.burstLimit !== undefined ? { burstLimit: live.burstLimit } : {}),
  }),
  diff: (ctx, live) => changes(ctx, live),
  async create(ctx) {
    const created = await apiCall(ctx, () => ctx.clients.apigateway.send(new CreateUsagePlanCommand({
      name: ctx.names.usagePlan,
      description: `bedrock-queue stack ${ctx.stack}`,
      apiStages: [ctx.ids.restApiId, ctx.ids.websocketApiId].map((apiId) => ({ apiId, stage: STAGE_NAME })),
      throttle: { rateLimit: ctx.settings.rateLimit, burstLimit: ctx.settings.burstLimit },
      tags: ctx.tags,
    })));
    await apiCall(ctx, () => ctx.clients.apigateway.send(new CreateUsagePlanKeyCommand({ usagePlanId: created.id, keyId: ctx.ids.apiKeyId, keyType: 'API_KEY' })));
    return {};
  },
  async tag(ctx, live, tags) {
    await apiCall(ctx, () => ctx.clients.apigateway.send(new TagResourceCommand({ resourceArn: apiGatewayArn(ctx, 'usageplans', live.id), tags })));
  },
  remove: (ctx, live) => removePlan(ctx, live.id, live.stages, live.keyIds),
  async removeDuplicate(ctx, usagePlanId) {
    const [plan, keys] = await Promise.all([
      ctx.clients.apigateway.send(new GetUsagePlanCommand({ usagePlanId })),
      planKeys(ctx, usagePlanId),
    ]);
    await removePlan(ctx, usagePlanId, (plan.apiStages ?? []).map((s) => `${s.apiId}:${s.stage}`), (keys.items ?? []).map((k) => k.id!));
  },
};

function planKeys(ctx: Ctx, usagePlanId: string) {
  return ctx.clients.apigateway.send(new GetUsagePlanKeysCommand({ usagePlanId, limit: 500 }));
}

/** A usage plan with API stages cannot be deleted: detach its keys and stages first. */
async function removePlan(ctx: Ctx, usagePlanId: string, stages: string[], keyIds: string[]) {
  const gw = ctx.clients.apigateway;
  for (const keyId of keyIds) await apiCall(ctx, () => gw.send(new DeleteUsagePlanKeyCommand({ usagePlanId, keyId })));
  if (stages.length) {
    await apiCall(ctx, () => gw.send(new UpdateUsagePlanCommand({ usagePlanId, patchOperations: stages.map((value) => ({ op: 'remove', path: '/apiStages', value })) })));
  }
  await apiCall(ctx, () => gw.send(new DeleteUsagePlanCommand({ usagePlanId })));
}
