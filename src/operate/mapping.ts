import { GetFunctionCommand, UpdateEventSourceMappingCommand, type EventSourceMappingConfiguration } from '@aws-sdk/client-lambda';
import { GetQueueUrlCommand, ListQueueTagsCommand } from '@aws-sdk/client-sqs';
import { STACK_TAG } from '../contract.js';
import { CliError, foreignError } from '../errors.js';
import { orMissing } from '../provision/diff.js';
import { eventSourceMapping, findMapping, mappingRetry, mappingTags, retagMapping, STABLE_STATES, waitForStableMapping } from '../provision/event-source-mapping.js';
import type { Ctx } from '../provision/types.js';
import { mappingArn } from '../provision/arns.js';
import { configFromTags, GOVERNOR_TAGS, marksFromTags, marksToTags } from '../governor/config.js';
import { operatorChange } from '../governor/operator.js';

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
  /** With autopilot: the most it may set (set-concurrency changes this). */
  ceiling?: number;
}

export interface MappingChanged {
  before: MappingState;
  after: MappingState;
  /** Said to the operator: a resume that overrides a spent budget. */
  note?: string;
}

const stateOf = (m: EventSourceMappingConfiguration, ceiling?: number): MappingState => ({ state: m.State, concurrency: m.ScalingConfig?.MaximumConcurrency, ...(ceiling ? { ceiling } : {}) });

/**
 * Changes the live mapping in place (no redeploy): waits out a transitional state, updates, and
 * waits until it is stable again. Returns the state before and after.
 */
export async function changeMapping(ctx: Ctx, wanted: MappingChange): Promise<MappingChanged> {
  const found = await findMapping(ctx);
  if (!found?.UUID) {
    throw new CliError(`Stack ${ctx.stack} has no event source mapping from ${ctx.names.requestsQueue} to ${ctx.names.workerFunction} in ${ctx.account.region}: deploy it with "bedrock-queue up --name ${ctx.stack}".`);
  }
  const tags = await mappingTags(ctx, found);
  if (tags?.[STACK_TAG] !== ctx.stack && !(await bothEndsOurs(ctx))) throw foreignError([{ kind: eventSourceMapping.kind, name: eventSourceMapping.name(ctx) }], ctx.stack);
  const UUID = found.UUID;
  const before = STABLE_STATES.has(found.State ?? '') ? found : await waitForStableMapping(ctx, UUID);
  const config = configFromTags(tags ?? {}, before.ScalingConfig?.MaximumConcurrency);
  const marks = marksFromTags(tags ?? {});
  const change = operatorChange(config, { concurrency: before.ScalingConfig?.MaximumConcurrency ?? 0, marks }, wanted, Date.now());
  const ceiling = config?.autopilot ? config.ceiling : undefined;
  const arn = found.EventSourceMappingArn ?? mappingArn(ctx, UUID);
  if (change.ceiling !== undefined && change.ceiling !== ceiling) await retagMapping(ctx, arn, { [GOVERNOR_TAGS.ceiling]: String(change.ceiling) }, []);
  const unchanged = (change.concurrency === undefined || change.concurrency === before.ScalingConfig?.MaximumConcurrency) &&
    (change.enabled === undefined || change.enabled === (before.State === 'Enabled'));
  const afterCeiling = change.ceiling ?? ceiling;
  // The override is marked before the resume: a tick in between must not pause it again.
  if (change.note) {
    const { set, remove } = marksToTags(change.marks);
    await retagMapping(ctx, arn, set, remove.filter((key) => tags?.[key] !== undefined));
  }
  if (!unchanged) {
    await ctx.retry(mappingRetry, () => ctx.clients.lambda.send(new UpdateEventSourceMappingCommand({
      UUID,
      ...(change.concurrency !== undefined ? { ScalingConfig: { MaximumConcurrency: change.concurrency } } : {}),
      ...(change.enabled !== undefined ? { Enabled: change.enabled } : {}),
    })));
  }
  const after = unchanged ? before : await waitForStableMapping(ctx, UUID);
  return { before: stateOf(before, ceiling), after: stateOf(after, afterCeiling), ...(change.note ? { note: change.note } : {}) };
}
