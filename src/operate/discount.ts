import type { DiscountClients, DiscountTarget } from '../client/batch-inference.js';
import { STACK_TAG } from '../contract.js';
import { CliError, describeError } from '../errors.js';
import { batchBucketName, roleArn } from '../provision/arns.js';
import { batchBucket } from '../provision/batch-bucket.js';
import { workerFunction } from '../provision/function.js';
import { batchRole } from '../provision/role.js';
import type { Ctx } from '../provision/types.js';
import type { StatusReport } from '../status-contract.js';
import { batchLimits } from './discount-quotas.js';

/** A live resource of this stack's (by its tag). */
const ours = (ctx: Ctx, live: { tags: Record<string, string> } | undefined) => live?.tags[STACK_TAG] === ctx.stack;

/**
 * What `batch --discount` needs of a deployed stack: the bucket and the role that `up --discount`
 * made, and the worker's model and defaults, so that a request gets the answer it would get in real
 * time. `batch` changes no resource: without them it says how to make them.
 */
export async function discountTarget(ctx: Ctx): Promise<{ target: DiscountTarget; clients: DiscountClients }> {
  const [fn, bucket, role] = await Promise.all([workerFunction.read(ctx), batchBucket.read(ctx), batchRole.read(ctx)]);
  if (!ours(ctx, fn)) throw new CliError(`Stack ${ctx.stack} has no worker in ${ctx.account.region}: deploy it with "bedrock-queue up --name ${ctx.stack} --discount".`);
  if (!ours(ctx, bucket) || !ours(ctx, role)) {
    throw new CliError(`Stack ${ctx.stack} has no discount route yet: "bedrock-queue up --name ${ctx.stack} --discount" adds the bucket and the role that Bedrock batch inference needs; then run this again.`);
  }
  const live = workerFunction.liveSettings!(fn!);
  const [bedrock, s3] = await Promise.all([ctx.clients.bedrock(), ctx.clients.s3()]);
  const model = live.model ?? ctx.settings.model;
  return {
    target: {
      stack: ctx.stack,
      bucket: batchBucketName(ctx),
      roleArn: roleArn(ctx, ctx.names.batchRole),
      model,
      quotas: () => batchLimits(ctx, model),
      defaults: { maxTokens: live.maxTokens ?? ctx.settings.maxTokens, ...(live.temperature !== undefined ? { temperature: live.temperature } : {}) },
    },
    clients: { bedrock, s3 },
  };
}

/**
 * `status`'s list of the stack's discount jobs that have not ended, where its bucket is there (the
 * route exists); a failure (a missing bedrock:ListModelInvocationJobs, say) is reported, not fatal.
 */
export async function discountJobs(ctx: Ctx, observed: { resource: { key: string }; live?: unknown }[]): Promise<Pick<StatusReport, 'discountJobs' | 'discountJobsError'>> {
  const bucket = observed.find((o) => o.resource.key === batchBucket.key)?.live as { tags: Record<string, string> } | undefined;
  if (!ours(ctx, bucket)) return {};
  try {
    const { runningJobs } = await import('../client/batch-inference.js');
    return { discountJobs: await runningJobs(await ctx.clients.bedrock(), ctx.stack) };
  } catch (err) {
    return { discountJobsError: describeError(err) };
  }
}
