import { GetFunctionCommand, UpdateEventSourceMappingCommand, type EventSourceMappingConfiguration } from '@aws-sdk/client-lambda';
import { GetQueueUrlCommand, ListQueueTagsCommand } from '@aws-sdk/client-sqs';
import { STACK_TAG } from '../contract.js';
import { CliError, foreignError } from '../errors.js';
import { orMissing } from '../provision/diff.js';
import { eventSourceMapping, findMapping, mappingRetry, mappingTags, STABLE_STATES, waitForStableMapping } from '../provision/event-source-mapping.js';
import type { Ctx } from '../provision/types.js';

/**
 * Ours when tagged for the stack, or (a mapping made before mappings could be tagged) when both
 * of its ends are: the stack's requests queue and worker function, each read with its tags.
 */
async function bothEndsOurs(ctx: Ctx): Promise<boolean> {
  const [queue, fn] = await Promise.all([
    orMissing(ctx.clients.sqs.send(new GetQueueUrlCommand({ QueueName: ctx.names.requestsQueue }))),
    orMissing(ctx.clients.lambda.send(new GetFunctionCommand({ FunctionName: ctx.names.workerFunction }))),
  ]);
  if (!queue?.QueueUrl || !fn) return false;
  const { Tags } = await ctx.clients.sqs.send(new ListQueueTagsCommand({ QueueUrl: queue.QueueUrl }));
  return Tags?.[STACK_TAG] === ctx.stack && fn.Tags?.[STACK_TAG] === ctx.stack;
}

export interface MappingChange {
  concurrency?: number;
  enabled?: boolean;
}

export interface MappingState {
  state?: string;
  concurrency?: number;
}

const stateOf = (m: EventSourceMappingConfiguration): MappingState => ({ state: m.State, concurrency: m.ScalingConfig?.MaximumConcurrency });

/**
 * Changes the live mapping in place (no redeploy): waits out a transitional state, updates, and
 * waits until it is stable again. Returns the state before and after.
 */
export async function changeMapping(ctx: Ctx, wanted: MappingChange): Promise<{ before: MappingState; after: MappingState }> {
  const found = await findMapping(ctx);
  if (!found?.UUID) {
    throw new CliError(`Stack ${ctx.stack} has no event source mapping from ${ctx.names.requestsQueue} to ${ctx.names.workerFunction} in ${ctx.account.region}: deploy it with "bedrock-queue up --name ${ctx.stack}".`);
  }
  const tags = await mappingTags(ctx, found);
  if (tags?.[STACK_TAG] !== ctx.stack && !(await bothEndsOurs(ctx))) throw foreignError([{ kind: eventSourceMapping.kind, name: eventSourceMapping.name(ctx) }], ctx.stack);
  const UUID = found.UUID;
  const before = STABLE_STATES.has(found.State ?? '') ? found : await waitForStableMapping(ctx, UUID);
  const unchanged = (wanted.concurrency === undefined || wanted.concurrency === before.ScalingConfig?.MaximumConcurrency) &&
    (wanted.enabled === undefined || wanted.enabled === (before.State === 'Enabled'));
  if (unchanged) return { before: stateOf(before), after: stateOf(before) };
  await ctx.retry(mappingRetry, () => ctx.clients.lambda.send(new UpdateEventSourceMappingCommand({
    UUID,
    ...(wanted.concurrency !== undefined ? { ScalingConfig: { MaximumConcurrency: wanted.concurrency } } : {}),
    ...(wanted.enabled !== undefined ? { Enabled: wanted.enabled } : {}),
  })));
  const after = await waitForStableMapping(ctx, UUID);
  return { before: stateOf(before), after: stateOf(after) };
}
