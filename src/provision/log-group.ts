import {
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  DescribeLogGroupsCommand,
  ListTagsForResourceCommand,
  PutRetentionPolicyCommand,
  TagResourceCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { logGroupArn } from './arns.js';
import { change, orMissing } from './diff.js';
import type { Live, Resource } from './types.js';

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
