import { spent } from '../governor/budget.js';
import { tokensToday } from '../governor/cloudwatch.js';
import { configFromTags, marksFromTags } from '../governor/config.js';
import { governorReport, type GovernorReport } from '../governor/report.js';
import type { Ctx } from '../provision/types.js';
import { describeError } from '../errors.js';

/**
 * `status --json`'s `governor` on AWS: its settings and marks from the mapping's tags, the day's
 * spending from CloudWatch (read only when there is a budget).
 */
export async function readGovernor(ctx: Ctx, mapping: { tags: Record<string, string>; concurrency?: number }, now = Date.now()): Promise<GovernorReport> {
  const config = configFromTags(mapping.tags, mapping.concurrency);
  // A CloudWatch that cannot be read (a missing cloudwatch:GetMetricData) leaves the spending unknown, said, not fatal.
  const spentToday = config?.budget
    ? await tokensToday(ctx.clients.cloudwatch, ctx.stack, now).then((tokens) => spent(config.budget!, tokens, config.price), (err: unknown) => ({ error: describeError(err) }))
    : 0;
  return governorReport(config, { concurrency: mapping.concurrency ?? 0, marks: marksFromTags(mapping.tags) }, spentToday, now);
}
