import { FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import type { Ctx } from '../provision/types.js';

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
