import {
  CreateEventSourceMappingCommand,
  DeleteEventSourceMappingCommand,
  GetEventSourceMappingCommand,
  ListEventSourceMappingsCommand,
  ListTagsCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateEventSourceMappingCommand,
  type EventSourceMappingConfiguration,
} from '@aws-sdk/client-lambda';
import { BATCH_SIZE } from '../contract.js';
import { functionArn, mappingArn, queueArn } from './arns.js';
import { errorName } from '../errors.js';
import { waitFor } from '../waiter.js';
import { change, orMissing } from './diff.js';
import { RULES } from './retry.js';
import type { Change, Ctx, Live, Resource } from './types.js';
import { governorConfig, liveSettingTags, settingsFromTags, settingTagChanges, settingTags } from '../governor/config.js';
import { AUTOPILOT } from '../governor/autopilot.js';

export interface MappingLive extends Live {
  config: EventSourceMappingConfiguration;
}

export const STABLE_STATES = new Set(['Enabled', 'Disabled']);

/**
 * Batch size 1 and no batching window: each invocation makes one model call, so the mapping's
 * maximum concurrency is the bound on model calls in flight. With autopilot the governor moves it
 * between 2 and the ceiling (`--concurrency`): `up` starts it at the ceiling and afterwards only
 * brings it within those bounds.
 */
function desired(ctx: Ctx, live?: EventSourceMappingConfiguration) {
  const ceiling = ctx.settings.concurrency;
  const current = live?.ScalingConfig?.MaximumConcurrency;
  const concurrency = ctx.settings.autopilot && current !== undefined ? Math.min(Math.max(current, AUTOPILOT.minimum), ceiling) : ceiling;
  return {
    BatchSize: BATCH_SIZE,
    MaximumBatchingWindowInSeconds: 0,
    FunctionResponseTypes: ['ReportBatchItemFailures'] as const,
    ScalingConfig: { MaximumConcurrency: concurrency },
  };
}

const arnOf = (ctx: Ctx, config: EventSourceMappingConfiguration) => config.EventSourceMappingArn ?? mappingArn(ctx, config.UUID!);

/** The settings that differ, all set by one UpdateEventSourceMapping. */
function changes(ctx: Ctx, config: EventSourceMappingConfiguration, tags: Record<string, string>): Change[] {
  const want = desired(ctx, config);
  const UUID = config.UUID!;
  const put = async () => {
    await ctx.retry(mappingRetry, () => ctx.clients.lambda.send(new UpdateEventSourceMappingCommand({
      UUID,
      ...want,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    })));
    await waitForStableMapping(ctx, UUID);
  };
  // The governor's settings live in the mapping's tags, beside the marks it writes there itself.
  const governor = governorConfig(ctx.settings);
  const retag = async () => {
    const { set, remove } = settingTagChanges(tags, governor);
    await retagMapping(ctx, arnOf(ctx, config), set, remove);
  };
  return [
    ...change('governor tags', liveSettingTags(tags), settingTags(governor), retag),
    ...change('BatchSize', config.BatchSize, want.BatchSize, put),
    ...change('MaximumBatchingWindowInSeconds', config.MaximumBatchingWindowInSeconds ?? 0, want.MaximumBatchingWindowInSeconds, put),
    ...change('FunctionResponseTypes', config.FunctionResponseTypes, want.FunctionResponseTypes, put),
    ...change('MaximumConcurrency', config.ScalingConfig?.MaximumConcurrency, want.ScalingConfig.MaximumConcurrency, put),
  ];
}

/** Sets and removes tags of the mapping: the governor's settings (up) and marks (resume). */
export async function retagMapping(ctx: Ctx, arn: string, set: Record<string, string>, remove: string[]) {
  if (Object.keys(set).length) await ctx.clients.lambda.send(new TagResourceCommand({ Resource: arn, Tags: set }));
  if (remove.length) await ctx.clients.lambda.send(new UntagResourceCommand({ Resource: arn, TagKeys: remove }));
}

/** How long a mapping may take to reach Enabled or Disabled after a change. */
const MAPPING_SETTLES = {
  intervalMs: 500, maxIntervalMs: 5_000, timeoutMs: 10 * 60_000,
  reference: 'Lambda event source mappings pass through Creating, Enabling, Updating and Disabling before a stable state (poll GetEventSourceMapping); 10 minutes is our bound',
};

export async function waitForStableMapping(ctx: Ctx, UUID: string) {
  return waitFor(ctx, {
    what: 'the event source mapping to settle',
    read: () => ctx.clients.lambda.send(new GetEventSourceMappingCommand({ UUID })),
    done: (m) => STABLE_STATES.has(m.State ?? ''),
    ...MAPPING_SETTLES,
  });
}

export const mappingRetry = [RULES.mappingBusy, RULES.iamPropagation];

/** The mapping from this stack's requests queue to its worker (found by queue ARN: both ends are ours). */
export async function findMapping(ctx: Ctx): Promise<EventSourceMappingConfiguration | undefined> {
  const page = await ctx.clients.lambda.send(new ListEventSourceMappingsCommand({ EventSourceArn: queueArn(ctx, ctx.names.requestsQueue) }));
  const fn = functionArn(ctx);
  return page.EventSourceMappings?.find((m) => m.FunctionArn === fn || m.FunctionArn?.startsWith(`${fn}:`));
}

/** The mapping's own tags: mappings do not inherit the function's (a mapping gone since the listing has none). */
export async function mappingTags(ctx: Ctx, config: EventSourceMappingConfiguration): Promise<Record<string, string> | undefined> {
  const found = await orMissing(ctx.clients.lambda.send(new ListTagsCommand({ Resource: config.EventSourceMappingArn ?? mappingArn(ctx, config.UUID!) })));
  return found && (found.Tags ?? {});
}

export const eventSourceMapping: Resource<MappingLive> = {
  key: 'event-source-mapping',
  kind: 'Event source mapping',
  name: (ctx) => `${ctx.names.requestsQueue} -> ${ctx.names.workerFunction}`,
  async read(ctx) {
    const config = await findMapping(ctx);
    const tags = config && await mappingTags(ctx, config);
    return config && tags ? { config, tags } : undefined;
  },
  ownedWith: ['requests-queue', 'function'],
  ids: (_ctx, live) => ({ mappingUuid: live.config.UUID }),
  liveSettings: (live) => settingsFromTags(live.tags, live.config.ScalingConfig?.MaximumConcurrency),
  diff: (ctx, live) => changes(ctx, live.config, live.tags),
  async create(ctx) {
    const { UUID } = await ctx.retry(mappingRetry, () => ctx.clients.lambda.send(new CreateEventSourceMappingCommand({
      EventSourceArn: queueArn(ctx, ctx.names.requestsQueue),
      FunctionName: ctx.names.workerFunction,
      Enabled: true,
      ...desired(ctx),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      Tags: { ...ctx.tags, ...settingTags(governorConfig(ctx.settings)) },
    })));
    await waitForStableMapping(ctx, UUID!);
    return { mappingUuid: UUID };
  },
  // Lambda allows one mapping per queue and function: a retried or interrupted create that went
  // through answers ResourceConflictException.
  createConflict: (err) => errorName(err) === 'ResourceConflictException',
  settle: async (ctx, live) => {
    await waitForStableMapping(ctx, live.config.UUID!);
  },
  // An untagged mapping owned through both of its ends gets the stack's tags, so later reads find it by them.
  async tag(ctx, live, tags) {
    await ctx.clients.lambda.send(new TagResourceCommand({ Resource: arnOf(ctx, live.config), Tags: tags }));
  },
  async remove(ctx, live) {
    const UUID = live.config.UUID!;
    await ctx.retry(mappingRetry, () => ctx.clients.lambda.send(new DeleteEventSourceMappingCommand({ UUID })));
    await waitFor(ctx, {
      what: 'the event source mapping to be deleted',
      read: async () => !(await orMissing(ctx.clients.lambda.send(new GetEventSourceMappingCommand({ UUID })))),
      done: (gone) => gone,
      ...MAPPING_SETTLES,
    });
  },
};
