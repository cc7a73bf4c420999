import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ListQueueTagsCommand,
  SetQueueAttributesCommand,
  TagQueueCommand,
} from '@aws-sdk/client-sqs';
import {
  DLQ_RETENTION_SECONDS,
  REQUESTS_RETENTION_SECONDS,
  RESULTS_RETENTION_SECONDS,
  VISIBILITY_TIMEOUT_FACTOR,
  type QueueRole,
  type ResourceNames,
} from '../contract.js';
import { errorName } from '../errors.js';
import { waitFor } from '../waiter.js';
import { queueArn } from './arns.js';
import { change, orMissing } from './diff.js';
import { RULES } from './retry.js';
import type { Change, Ctx, Live, Resource, Settings } from './types.js';

export interface QueueLive extends Live {
  url: string;
  attributes: Record<string, string>;
}

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

export function queueDepth(attributes: Record<string, string>): QueueDepth {
  const count = (name: string) => Number(attributes[name] ?? 0);
  return {
    visible: count('ApproximateNumberOfMessages'),
    inFlight: count('ApproximateNumberOfMessagesNotVisible'),
    delayed: count('ApproximateNumberOfMessagesDelayed'),
  };
}

/** The attributes `up` manages; any other attribute is left as it is. */
function desiredAttributes(ctx: Ctx, role: QueueRole): Record<string, string> {
  const common = { SqsManagedSseEnabled: 'true' };
  switch (role) {
    case 'deadLetterQueue':
      return { ...common, MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS) };
    case 'resultsQueue':
      return { ...common, MessageRetentionPeriod: String(RESULTS_RETENTION_SECONDS) };
    case 'requestsQueue':
      return {
        ...common,
        MessageRetentionPeriod: String(REQUESTS_RETENTION_SECONDS),
        VisibilityTimeout: String(ctx.settings.timeout * VISIBILITY_TIMEOUT_FACTOR),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: queueArn(ctx, ctx.names.deadLetterQueue),
          maxReceiveCount: ctx.settings.maxReceiveCount,
        }),
      };
  }
}

/** RedrivePolicy comes back with maxReceiveCount as a string or a number, depending on the service. */
function comparable(name: string, value: string | undefined): unknown {
  if (name !== 'RedrivePolicy' || !value) return value;
  const policy = JSON.parse(value) as { deadLetterTargetArn?: string; maxReceiveCount?: string | number };
  return { deadLetterTargetArn: policy.deadLetterTargetArn, maxReceiveCount: Number(policy.maxReceiveCount) };
}

/** The managed attributes that differ, all set by one SetQueueAttributes. */
function attributeChanges(ctx: Ctx, role: QueueRole, live: QueueLive): Change[] {
  const desired = desiredAttributes(ctx, role);
  const put = async () => {
    const Attributes = Object.fromEntries(changes.map((c) => [c.field, desired[c.field]!]));
    await ctx.retry([RULES.deadLetterTargetMissing], () => ctx.clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl: live.url, Attributes })));
  };
  const changes = Object.keys(desired).flatMap((name) => change(name, comparable(name, live.attributes[name]), comparable(name, desired[name]), put));
  return changes;
}

async function listStackQueues(ctx: Ctx): Promise<Map<string, string>> {
  return ctx.once('sqs:ListQueues', async () => {
    const urls = new Map<string, string>();
    let NextToken: string | undefined;
    do {
      const page = await ctx.clients.sqs.send(new ListQueuesCommand({ QueueNamePrefix: `${ctx.stack}-`, MaxResults: 1000, NextToken }));
      for (const url of page.QueueUrls ?? []) urls.set(url.slice(url.lastIndexOf('/') + 1), url);
      NextToken = page.NextToken;
    } while (NextToken);
    return urls;
  });
}

export async function readQueue(ctx: Ctx, url: string): Promise<QueueLive> {
  const [attributes, tags] = await Promise.all([
    ctx.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] })),
    ctx.clients.sqs.send(new ListQueueTagsCommand({ QueueUrl: url })),
  ]);
  return { url, attributes: attributes.Attributes ?? {}, tags: tags.Tags ?? {} };
}

/**
 * "The deletion process takes up to 60 seconds" (SQS DeleteQueue): `down` returns once GetQueueUrl
 * has said QueueDoesNotExist several times in a row, so a following `up` finds the name free of
 * stale listings (it still waits out QueueDeletedRecently).
 */
const QUEUE_GONE = { confirmations: 3, intervalMs: 2_000, timeoutMs: 3 * 60_000, reference: 'SQS DeleteQueue: "the deletion process takes up to 60 seconds"' };

/** A new queue answers reliably about a second after CreateQueue (aws-facts.md). */
async function waitUntilAnswering(ctx: Ctx, QueueName: string, QueueUrl: string) {
  await waitFor(ctx, {
    what: `queue ${QueueName} to answer`,
    read: () => orMissing(ctx.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))),
    done: (answer) => answer !== undefined,
    intervalMs: 500, maxIntervalMs: 5_000, timeoutMs: 30_000,
    reference: 'SQS CreateQueue: "after you create a queue, you must wait at least one second after the queue is created to be able to use the queue"',
  });
}

function queueResource(key: string, role: QueueRole, kind: string): Resource<QueueLive> {
  const name = (ctx: Ctx) => ctx.names[role as keyof ResourceNames];
  return {
    key,
    kind,
    name,
    async read(ctx) {
      const url = (await listStackQueues(ctx)).get(name(ctx));
      // After DeleteQueue, SQS may list a queue for up to 60 s and answer QueueDoesNotExist to reads:
      // a queue that vanished between the listing and the read is missing, not an error.
      return url ? orMissing(readQueue(ctx, url)) : undefined;
    },
    ids: (ctx, live) => ({ queueUrls: { [name(ctx)]: live.url } }),
    liveSettings(live): Partial<Settings> {
      if (role !== 'requestsQueue' || !live.attributes.RedrivePolicy) return {};
      const { maxReceiveCount } = comparable('RedrivePolicy', live.attributes.RedrivePolicy) as { maxReceiveCount: number };
      return Number.isFinite(maxReceiveCount) ? { maxReceiveCount } : {};
    },
    diff: (ctx, live) => attributeChanges(ctx, role, live),
    async create(ctx) {
      const QueueName = name(ctx);
      const created = await ctx.retry([RULES.queueDeletedRecently, RULES.deadLetterTargetMissing], () =>
        ctx.clients.sqs.send(new CreateQueueCommand({ QueueName, Attributes: desiredAttributes(ctx, role), tags: ctx.tags })),
      );
      const url = created.QueueUrl ?? (await ctx.clients.sqs.send(new GetQueueUrlCommand({ QueueName }))).QueueUrl!;
      await waitUntilAnswering(ctx, QueueName, url);
      return { queueUrls: { [QueueName]: url } };
    },
    // A queue of that name with other attributes: ListQueues is eventually consistent, and a queue
    // created moments ago may not be listed yet, so it is looked up by name.
    createConflict: (err) => /QueueNameExists|QueueAlreadyExists/.test(errorName(err)),
    async readAfterConflict(ctx) {
      const { QueueUrl } = await ctx.clients.sqs.send(new GetQueueUrlCommand({ QueueName: name(ctx) }));
      return readQueue(ctx, QueueUrl!);
    },
    async tag(ctx, live, tags) {
      await ctx.clients.sqs.send(new TagQueueCommand({ QueueUrl: live.url, Tags: tags }));
    },
    async remove(ctx, live) {
      await ctx.clients.sqs.send(new DeleteQueueCommand({ QueueUrl: live.url }));
    },
    async untilRemoved(ctx) {
      await waitFor(ctx, {
        what: `${name(ctx)} is deleted`,
        read: async () => !(await orMissing(ctx.clients.sqs.send(new GetQueueUrlCommand({ QueueName: name(ctx) })))),
        done: (gone) => gone,
        ...QUEUE_GONE,
      });
    },
  };
}

export const deadLetterQueue = queueResource('dead-letter-queue', 'deadLetterQueue', 'SQS queue (DLQ)');
export const resultsQueue = queueResource('results-queue', 'resultsQueue', 'SQS queue');
export const requestsQueue = queueResource('requests-queue', 'requestsQueue', 'SQS queue');
