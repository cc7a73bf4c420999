import {
  CreateScheduleCommand,
  CreateScheduleGroupCommand,
  DeleteScheduleCommand,
  DeleteScheduleGroupCommand,
  GetScheduleCommand,
  GetScheduleGroupCommand,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UpdateScheduleCommand,
  type CreateScheduleCommandInput,
  type GetScheduleCommandOutput,
} from '@aws-sdk/client-scheduler';
import { errorName } from '../errors.js';
import { governorEvent, governorOn } from '../governor/config.js';
import { waitFor } from '../waiter.js';
import { functionArn, roleArn, scheduleGroupArn } from './arns.js';
import { fieldChanges, orMissing, tagList } from './diff.js';
import { RULES } from './retry.js';
import type { Ctx, Live, Resource } from './types.js';

interface ScheduleLive extends Live {
  schedule?: GetScheduleCommandOutput;
}

/** The schedule's part of the governor's tick: EventBridge Scheduler's smallest rate (aws-facts.md). */
export const GOVERNOR_RATE = 'rate(1 minute)';

/**
 * Once a minute, the worker invoked with the governor event. No retries and a minute's age at most:
 * a tick that fails is replaced by the next one, never stacked behind it.
 */
function desired(ctx: Ctx): CreateScheduleCommandInput {
  return {
    Name: ctx.names.schedule,
    GroupName: ctx.names.scheduleGroup,
    ScheduleExpression: GOVERNOR_RATE,
    FlexibleTimeWindow: { Mode: 'OFF' },
    State: 'ENABLED',
    Description: `bedrock-queue stack ${ctx.stack}: the governor (autopilot, budget)`,
    Target: {
      Arn: functionArn(ctx),
      RoleArn: roleArn(ctx, ctx.names.schedulerRole),
      Input: JSON.stringify(governorEvent(ctx.ids.mappingUuid ?? '(the mapping this up creates)')),
      RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
    },
  };
}

/** UpdateSchedule replaces the whole schedule: the same input as a create. */
const putSchedule = (ctx: Ctx, exists: boolean) => ctx.retry([RULES.schedulerRolePropagation], () => ctx.clients.scheduler.send(
  exists ? new UpdateScheduleCommand(desired(ctx)) : new CreateScheduleCommand(desired(ctx)),
));

const comparable = (s: CreateScheduleCommandInput | GetScheduleCommandOutput) => ({
  ScheduleExpression: s.ScheduleExpression, FlexibleTimeWindow: s.FlexibleTimeWindow?.Mode, State: s.State,
  Target: { Arn: s.Target?.Arn, RoleArn: s.Target?.RoleArn, Input: s.Target?.Input, RetryPolicy: s.Target?.RetryPolicy },
});

/** A deleted group stays DELETING while its schedules go: its name cannot be reused until then. */
const GROUP_GONE = {
  intervalMs: 1_000, maxIntervalMs: 5_000, timeoutMs: 5 * 60_000,
  reference: 'DeleteScheduleGroup deletes the group\'s schedules asynchronously; the group reads DELETING until it is gone',
};

/**
 * The governor's schedule, in a schedule group of its own: schedules carry no tags, groups do, so
 * the group holds the stack tag and everything in it is the stack's.
 */
export const schedule: Resource<ScheduleLive> = {
  key: 'schedule',
  kind: 'EventBridge schedule',
  name: (ctx) => `${ctx.names.scheduleGroup}/${ctx.names.schedule}`,
  wanted: (ctx) => governorOn(ctx.settings),
  async read(ctx) {
    const group = await orMissing(ctx.clients.scheduler.send(new GetScheduleGroupCommand({ Name: ctx.names.scheduleGroup })));
    if (!group) return undefined;
    const [{ Tags = [] }, found] = await Promise.all([
      ctx.clients.scheduler.send(new ListTagsForResourceCommand({ ResourceArn: group.Arn ?? scheduleGroupArn(ctx) })),
      orMissing(ctx.clients.scheduler.send(new GetScheduleCommand({ GroupName: ctx.names.scheduleGroup, Name: ctx.names.schedule }))),
    ]);
    return { tags: Object.fromEntries(Tags.map((t) => [t.Key!, t.Value ?? ''])), ...(found ? { schedule: found } : {}) };
  },
  diff(ctx, live) {
    const put = async () => void await putSchedule(ctx, !!live.schedule);
    return fieldChanges('schedule', live.schedule ? comparable(live.schedule) : undefined, comparable(desired(ctx)), put);
  },
  async create(ctx) {
    await ctx.clients.scheduler.send(new CreateScheduleGroupCommand({ Name: ctx.names.scheduleGroup, Tags: tagList(ctx.tags) }));
    await putSchedule(ctx, false);
    return {};
  },
  createConflict: (err) => errorName(err) === 'ConflictException',
  async tag(ctx, _live, tags) {
    await ctx.clients.scheduler.send(new TagResourceCommand({ ResourceArn: scheduleGroupArn(ctx), Tags: tagList(tags) }));
  },
  async remove(ctx) {
    // The schedule first, so that no tick starts while the group is being deleted.
    await orMissing(ctx.clients.scheduler.send(new DeleteScheduleCommand({ GroupName: ctx.names.scheduleGroup, Name: ctx.names.schedule })));
    await orMissing(ctx.clients.scheduler.send(new DeleteScheduleGroupCommand({ Name: ctx.names.scheduleGroup })));
  },
  async untilRemoved(ctx) {
    await waitFor(ctx, {
      what: `the schedule group ${ctx.names.scheduleGroup} to be deleted`,
      read: async () => !(await orMissing(ctx.clients.scheduler.send(new GetScheduleGroupCommand({ Name: ctx.names.scheduleGroup })))),
      done: (gone) => gone,
      ...GROUP_GONE,
    });
  },
};
