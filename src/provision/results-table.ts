import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  ListTagsOfResourceCommand,
  TagResourceCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { RESULT_ITEM } from '../contract.js';
import { CliError } from '../errors.js';
import { tableArn } from './arns.js';
import { change, missingTags, orMissing, tagChanges } from './diff.js';
import { pollUntil, waitUntilGone } from './retry.js';
import type { Change, Ctx, Live, Resource } from './types.js';

export interface TableLive extends Live {
  table: TableDescription;
  /** ENABLED, ENABLING, DISABLED or DISABLING, and on which attribute. */
  ttlStatus?: string;
  ttlAttribute?: string;
}

/** A new table is ACTIVE within seconds to a minute; a deleted one is gone within minutes (DynamoDB waiters). */
const TABLE_ACTIVE_TIMEOUT_MS = 5 * 60_000;
const TABLE_GONE = { confirmations: 2, intervalMs: 2_000, timeoutMs: 10 * 60_000 };

/** TTL is on (or turning on), on whichever attribute; and on ours. */
const ttlActive = (live: TableLive) => live.ttlStatus === 'ENABLED' || live.ttlStatus === 'ENABLING';
const ttlOn = (live: TableLive) => ttlActive(live) && live.ttlAttribute === RESULT_ITEM.expiresAt;

function tableChanges(live: TableLive): Change[] {
  return [
    ...change('BillingMode', live.table.BillingModeSummary?.BillingMode ?? 'PROVISIONED', 'PAY_PER_REQUEST'),
    ...(ttlOn(live) ? [] : change('TimeToLive', ttlActive(live) ? `${live.ttlStatus} on ${live.ttlAttribute}` : live.ttlStatus ?? 'DISABLED', `ENABLED on ${RESULT_ITEM.expiresAt}`)),
  ];
}

async function waitUntilActive(ctx: Ctx) {
  const TableName = ctx.names.resultsTable;
  await pollUntil(ctx, `table ${TableName} to be ACTIVE`, () => ctx.clients.dynamodb.send(new DescribeTableCommand({ TableName })),
    (answer) => answer.Table?.TableStatus === 'ACTIVE', TABLE_ACTIVE_TIMEOUT_MS);
}

/**
 * DynamoDB allows one TTL attribute, and refuses to move it while it is on (and any TTL change
 * within an hour of the last): another attribute's TTL is an operator's to change, not ours.
 */
async function enableTtl(ctx: Ctx, live: TableLive | undefined) {
  if (live && ttlOn(live)) return;
  // ttlOn failed: an active TTL is on another attribute.
  if (live?.ttlAttribute && ttlActive(live)) {
    throw new CliError(`Table ${ctx.names.resultsTable} has time to live on attribute ${live.ttlAttribute}, not ${RESULT_ITEM.expiresAt}: disable it (aws dynamodb update-time-to-live), wait an hour as DynamoDB requires, then run up again.`);
  }
  await ctx.clients.dynamodb.send(new UpdateTimeToLiveCommand({
    TableName: ctx.names.resultsTable,
    TimeToLiveSpecification: { Enabled: true, AttributeName: RESULT_ITEM.expiresAt },
  }));
}

/** The results store: one item per request id, on-demand billing, TTL on `expiresAt`, encrypted at rest by DynamoDB's default key. */
export const resultsTable: Resource<TableLive> = {
  key: 'results-table',
  kind: 'DynamoDB table',
  name: (ctx) => ctx.names.resultsTable,
  async read(ctx) {
    const TableName = ctx.names.resultsTable;
    const described = await orMissing(ctx.clients.dynamodb.send(new DescribeTableCommand({ TableName })));
    const table = described?.Table;
    if (!table || table.TableStatus === 'DELETING') return undefined;
    const [tags, ttl] = await Promise.all([
      orMissing(ctx.clients.dynamodb.send(new ListTagsOfResourceCommand({ ResourceArn: table.TableArn ?? tableArn(ctx) }))),
      orMissing(ctx.clients.dynamodb.send(new DescribeTimeToLiveCommand({ TableName }))),
    ]);
    if (!tags) return undefined;
    const description = ttl?.TimeToLiveDescription;
    return {
      table,
      tags: Object.fromEntries((tags.Tags ?? []).map((t) => [t.Key!, t.Value ?? ''])),
      ...(description?.TimeToLiveStatus ? { ttlStatus: description.TimeToLiveStatus } : {}),
      ...(description?.AttributeName ? { ttlAttribute: description.AttributeName } : {}),
    };
  },
  diff: (ctx, live) => [...tableChanges(live), ...tagChanges(ctx.tags, live.tags)],
  async create(ctx) {
    await ctx.clients.dynamodb.send(new CreateTableCommand({
      TableName: ctx.names.resultsTable,
      AttributeDefinitions: [{ AttributeName: RESULT_ITEM.key, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: RESULT_ITEM.key, KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      Tags: Object.entries(ctx.tags).map(([Key, Value]) => ({ Key, Value })),
    }));
    await waitUntilActive(ctx);
    await enableTtl(ctx, undefined);
  },
  async update(ctx, live) {
    if (live.table.TableStatus !== 'ACTIVE') await waitUntilActive(ctx);
    if (live.table.BillingModeSummary?.BillingMode !== 'PAY_PER_REQUEST') {
      await ctx.clients.dynamodb.send(new UpdateTableCommand({ TableName: ctx.names.resultsTable, BillingMode: 'PAY_PER_REQUEST' }));
      await waitUntilActive(ctx);
    }
    await enableTtl(ctx, live);
    const tags = missingTags(ctx.tags, live.tags);
    if (Object.keys(tags).length) {
      await ctx.clients.dynamodb.send(new TagResourceCommand({ ResourceArn: live.table.TableArn ?? tableArn(ctx), Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
    }
  },
  async remove(ctx) {
    const TableName = ctx.names.resultsTable;
    await ctx.clients.dynamodb.send(new DeleteTableCommand({ TableName }));
    await waitUntilGone(ctx, `table ${TableName} is deleted`, async () => !(await orMissing(ctx.clients.dynamodb.send(new DescribeTableCommand({ TableName })))), TABLE_GONE);
  },
};
