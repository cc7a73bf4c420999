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
import { CliError, errorMessage, errorName } from '../errors.js';
import { tableArn } from './arns.js';
import { waitFor } from '../waiter.js';
import { change, orMissing, tagList } from './diff.js';
import type { Change, Ctx, Live, Resource } from './types.js';

export interface TableLive extends Live {
  table: TableDescription;
  /** ENABLED, ENABLING, DISABLED or DISABLING, and on which attribute. */
  ttlStatus?: string;
  ttlAttribute?: string;
}

/** How long a table may be CREATING, UPDATING or DELETING before up gives up. */
const TABLE_WAITS = {
  intervalMs: 500, maxIntervalMs: 5_000, timeoutMs: 5 * 60_000,
  reference: 'DynamoDB: a table is CREATING, UPDATING or DELETING for seconds to minutes (the SDK waiters TableExists and TableNotExists poll DescribeTable too); 5 minutes is our bound',
};

/** TTL is on (or turning on), on whichever attribute; and on ours. */
const ttlActive = (live: TableLive) => live.ttlStatus === 'ENABLED' || live.ttlStatus === 'ENABLING';
const ttlOn = (live: TableLive) => ttlActive(live) && live.ttlAttribute === RESULT_ITEM.expiresAt;

function tableChanges(ctx: Ctx, live: TableLive): Change[] {
  const TableName = ctx.names.resultsTable;
  // A table being created or updated takes no other update until it is ACTIVE again.
  const whenActive = async () => {
    if (live.table.TableStatus !== 'ACTIVE') await waitUntilActive(ctx);
  };
  return [
    ...change('BillingMode', live.table.BillingModeSummary?.BillingMode ?? 'PROVISIONED', 'PAY_PER_REQUEST', async () => {
      await whenActive();
      await ctx.clients.dynamodb.send(new UpdateTableCommand({ TableName, BillingMode: 'PAY_PER_REQUEST' }));
      await waitUntilActive(ctx);
    }),
    ...(ttlOn(live) ? [] : change('TimeToLive', ttlActive(live) ? `${live.ttlStatus} on ${live.ttlAttribute}` : live.ttlStatus ?? 'DISABLED', `ENABLED on ${RESULT_ITEM.expiresAt}`, async () => {
      await whenActive();
      await enableTtl(ctx, live);
    })),
  ];
}

async function deleting(ctx: Ctx): Promise<boolean> {
  const described = await orMissing(ctx.clients.dynamodb.send(new DescribeTableCommand({ TableName: ctx.names.resultsTable })));
  return described?.Table?.TableStatus === 'DELETING';
}

async function waitUntilDeleted(ctx: Ctx) {
  const TableName = ctx.names.resultsTable;
  await waitFor(ctx, {
    what: `table ${TableName} is deleted`,
    read: async () => !(await orMissing(ctx.clients.dynamodb.send(new DescribeTableCommand({ TableName })))),
    done: (gone) => gone,
    confirmations: 2,
    ...TABLE_WAITS,
    intervalMs: 2_000, maxIntervalMs: 2_000, timeoutMs: 10 * 60_000,
  });
}

async function waitUntilActive(ctx: Ctx) {
  const TableName = ctx.names.resultsTable;
  await waitFor(ctx, {
    what: `table ${TableName} to be ACTIVE`,
    read: () => ctx.clients.dynamodb.send(new DescribeTableCommand({ TableName })),
    done: (answer) => answer.Table?.TableStatus === 'ACTIVE',
    ...TABLE_WAITS,
  });
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
  if (live?.ttlStatus === 'DISABLING') {
    ctx.note(`warning: the time to live of table ${ctx.names.resultsTable} is being disabled; run up again later to turn it on (results stay readable meanwhile, and are not deleted)`);
    return;
  }
  try {
    await ctx.clients.dynamodb.send(new UpdateTimeToLiveCommand({
      TableName: ctx.names.resultsTable,
      TimeToLiveSpecification: { Enabled: true, AttributeName: RESULT_ITEM.expiresAt },
    }));
  } catch (err) {
    // DynamoDB takes one TTL change an hour, and refuses to enable a TTL already on: neither stops up.
    if (errorName(err) !== 'ValidationException' || !/multiple times|already enabled/i.test(errorMessage(err))) throw err;
    ctx.note(`warning: table ${ctx.names.resultsTable} did not take the time to live now (${errorMessage(err)}); run up again in an hour to turn it on (results are kept meanwhile)`);
  }
}

/** How long after its creation a table's tags may still read empty (TagResource is eventually consistent). */
const NEW_TABLE_TAGS_MS = 5 * 60_000;
const NEW_TABLE_TAG_READS = 5;

/**
 * The table's tags. DynamoDB's TagResource is eventually consistent: a table created moments ago
 * (an interrupted up) may list none yet, so an empty list on a new table is read again before the
 * table is taken for another's.
 */
async function readTags(ctx: Ctx, table: TableDescription) {
  const ResourceArn = table.TableArn ?? tableArn(ctx);
  const read = () => orMissing(ctx.clients.dynamodb.send(new ListTagsOfResourceCommand({ ResourceArn })));
  const isNew = Date.now() - (table.CreationDateTime?.getTime() ?? 0) < NEW_TABLE_TAGS_MS;
  if (!isNew) return read();
  // Five reads over about seven seconds; the last one stands, empty or not.
  let reads = 0;
  return waitFor(ctx, {
    what: `the tags of the new table ${ctx.names.resultsTable}`,
    read,
    done: (tags) => !tags || !!tags.Tags?.length || ++reads >= NEW_TABLE_TAG_READS,
    intervalMs: 1_000, maxIntervalMs: 2_000, timeoutMs: 10_000,
    reference: 'DynamoDB TagResource: tags are eventually consistent after a write',
  });
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
      readTags(ctx, table),
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
  diff: (ctx, live) => tableChanges(ctx, live),
  async create(ctx) {
    const create = () => ctx.clients.dynamodb.send(new CreateTableCommand({
      TableName: ctx.names.resultsTable,
      AttributeDefinitions: [{ AttributeName: RESULT_ITEM.key, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: RESULT_ITEM.key, KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      Tags: tagList(ctx.tags),
    }));
    try {
      await create();
    } catch (err) {
      // A `down` interrupted a moment ago: the name is free once its table has gone. An existing table is the engine's to adopt.
      if (errorName(err) !== 'ResourceInUseException' || !(await deleting(ctx))) throw err;
      await waitUntilDeleted(ctx);
      await create();
    }
    await waitUntilActive(ctx);
    await enableTtl(ctx, undefined);
    return {};
  },
  createConflict: (err) => errorName(err) === 'ResourceInUseException',
  settle: async (ctx, live) => {
    if (live.table.TableStatus !== 'ACTIVE') await waitUntilActive(ctx);
  },
  async tag(ctx, live, tags) {
    await ctx.clients.dynamodb.send(new TagResourceCommand({ ResourceArn: live.table.TableArn ?? tableArn(ctx), Tags: tagList(tags) }));
  },
  async remove(ctx, live) {
    // DeleteTable of a CREATING or UPDATING table is ResourceInUseException: let it settle first.
    if (live.table.TableStatus !== 'ACTIVE') await waitUntilActive(ctx);
    await ctx.clients.dynamodb.send(new DeleteTableCommand({ TableName: ctx.names.resultsTable }));
    await waitUntilDeleted(ctx);
  },
};
