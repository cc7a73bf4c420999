import {
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  DescribeLogGroupsCommand,
  FilterLogEventsCommand,
  ListTagsForResourceCommand,
  PutRetentionPolicyCommand,
  TagResourceCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { logGroupArn } from './arns.js';
import { change, orMissing } from './diff.js';
import type { Ctx, Live, Resource } from './types.js';

export interface LogGroupLive extends Live {
  retentionDays?: number;
}

export const logGroup: Resource<LogGroupLive> = {
  key: 'log-group',
  kind: 'CloudWatch log group',
  name: (ctx) => ctx.names.logGroup,
  async read(ctx) {
    const page = await ctx.clients.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: ctx.names.logGroup }));
    const group = page.logGroups?.find((g) => g.logGroupName === ctx.names.logGroup);
    if (!group) return undefined;
    const tags = await orMissing(ctx.clients.logs.send(new ListTagsForResourceCommand({ resourceArn: logGroupArn(ctx) })));
    return tags && { retentionDays: group.retentionInDays, tags: tags.tags ?? {} };
  },
  liveSettings: (live) => (live.retentionDays ? { logRetention: live.retentionDays } : {}),
  diff: (ctx, live) => change('retentionInDays', live.retentionDays, ctx.settings.logRetention, async () => {
    await ctx.clients.logs.send(new PutRetentionPolicyCommand({ logGroupName: ctx.names.logGroup, retentionInDays: ctx.settings.logRetention }));
  }),
  async create(ctx) {
    const logGroupName = ctx.names.logGroup;
    await ctx.clients.logs.send(new CreateLogGroupCommand({ logGroupName, tags: ctx.tags }));
    await ctx.clients.logs.send(new PutRetentionPolicyCommand({ logGroupName, retentionInDays: ctx.settings.logRetention }));
    return {};
  },
  async tag(ctx, _live, tags) {
    await ctx.clients.logs.send(new TagResourceCommand({ resourceArn: logGroupArn(ctx), tags }));
  },
  async remove(ctx) {
    await ctx.clients.logs.send(new DeleteLogGroupCommand({ logGroupName: ctx.names.logGroup }));
  },
};

export interface FollowLogsOptions {
  count?: number;
  idleMs?: number;
  signal?: AbortSignal;
  onEvent: (message: string) => void;
}

/** FilterLogEvents has a low per-account rate quota (CloudWatch Logs quotas), shared with other readers: a follower asks every 2 s. */
const FOLLOW_INTERVAL_MS = 2_000;

/** Follows the worker's log group from now on, polling every 2 s; returns how many lines were shown. */
export async function followLogGroup(ctx: Ctx, options: FollowLogsOptions): Promise<number> {
  let startTime = Date.now();
  let shown = 0;
  let lastEvent = Date.now();
  const seen = new Set<string>();
  while (!options.signal?.aborted) {
    let nextToken: string | undefined;
    do {
      const page = await ctx.clients.logs.send(new FilterLogEventsCommand({ logGroupName: ctx.names.logGroup, startTime, nextToken }));
      for (const event of page.events ?? []) {
        if (seen.has(event.eventId!)) continue;
        seen.add(event.eventId!);
        startTime = Math.max(startTime, event.timestamp ?? 0);
        options.onEvent(event.message ?? '');
        lastEvent = Date.now();
        if (options.count !== undefined && ++shown >= options.count) return shown;
      }
      nextToken = page.nextToken;
    } while (nextToken);
    if (seen.size > 100_000) seen.clear();
    if (options.idleMs !== undefined && Date.now() - lastEvent >= options.idleMs) break;
    await ctx.sleep(FOLLOW_INTERVAL_MS);
  }
  return shown;
}
