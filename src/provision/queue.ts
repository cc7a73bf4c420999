import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ListMessageMoveTasksCommand,
  ListQueueTagsCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  StartMessageMoveTaskCommand,
  TagQueueCommand,
} from '@aws-sdk/client-sqs';
import {
  DLQ_RETENTION_SECONDS,
  REQUESTS_RETENTION_SECONDS,
  RESULTS_RETENTION_SECONDS,
  STACK_TAG,
  VISIBILITY_TIMEOUT_FACTOR,
  type ResourceNames,
} from '../contract.js';
import { releaseMessages } from '../client/results.js';
import { errorName, foreignError } from '../errors.js';
import { queueArn } from './arns.js';
import { change, missingTags, orMissing, tagChanges } from './diff.js';
import { RULES, pollUntil, waitUntilGone } from './retry.js';
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

type QueueRole = 'deadLetterQueue' | 'resultsQueue' | 'requestsQueue';

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

function attributeChanges(ctx: Ctx, role: QueueRole, live: QueueLive): Change[] {
  return Object.entries(desiredAttributes(ctx, role)).flatMap(([name, value]) =>
    change(name, comparable(name, live.attributes[name]), comparable(name, value)),
  );
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

async function readQueue(ctx: Ctx, url: string): Promise<QueueLive> {
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
const QUEUE_GONE = { confirmations: 3, intervalMs: 2_000, timeoutMs: 3 * 60_000 };
/** A new queue answers reliably about a second after CreateQueue (aws-facts.md). */
const QUEUE_READY_TIMEOUT_MS = 30_000;

async function waitUntilAnswering(ctx: Ctx, QueueName: string, QueueUrl: string) {
  await pollUntil(ctx, `queue ${QueueName} to answer`,
    () => orMissing(ctx.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))),
    (answer) => answer !== undefined, QUEUE_READY_TIMEOUT_MS);
}

function queueResource(key: string, role: QueueRole, kind: string): Resource<QueueLive> {
  const name = (ctx: Ctx) => ctx.names[role as keyof ResourceNames];
  const queue: Resource<QueueLive> = {
    key,
    kind,
    name,
    async read(ctx) {
      const url = (await listStackQueues(ctx)).get(name(ctx));
      // After DeleteQueue, SQS may list a queue for up to 60 s and answer QueueDoesNotExist to reads:
      // a queue that vanished between the listing and the read is missing, not an error.
      const live = url ? await orMissing(readQueue(ctx, url)) : undefined;
      if (live) ctx.ids.queueUrls[name(ctx)] = live.url;
      return live;
    },
    liveSettings(live): Partial<Settings> {
      if (role !== 'requestsQueue' || !live.attributes.RedrivePolicy) return {};
      const { maxReceiveCount } = comparable('RedrivePolicy', live.attributes.RedrivePolicy) as { maxReceiveCount: number };
      return Number.isFinite(maxReceiveCount) ? { maxReceiveCount } : {};
    },
    diff(ctx, live) {
      return [...attributeChanges(ctx, role, live), ...tagChanges(ctx.tags, live.tags)];
    },
    async create(ctx) {
      const QueueName = name(ctx);
      try {
        const created = await ctx.retry([RULES.queueDeletedRecently, RULES.deadLetterTargetMissing], () =>
          ctx.clients.sqs.send(new CreateQueueCommand({ QueueName, Attributes: desiredAttributes(ctx, role), tags: ctx.tags })),
        );
        const url = created.QueueUrl ?? (await ctx.clients.sqs.send(new GetQueueUrlCommand({ QueueName }))).QueueUrl!;
        await waitUntilAnswering(ctx, QueueName, url);
        ctx.ids.queueUrls[QueueName] = url;
      } catch (err) {
        if (!/QueueNameExists|QueueAlreadyExists/.test(errorName(err))) throw err;
        // ListQueues is eventually consistent: a queue created moments ago may not be listed yet.
        // It exists with other attributes; adopt it if it is ours, then converge it.
        const { QueueUrl } = await ctx.clients.sqs.send(new GetQueueUrlCommand({ QueueName }));
        const live = await readQueue(ctx, QueueUrl!);
        if (live.tags[STACK_TAG] !== ctx.stack) throw foreignError([{ kind, name: QueueName }], ctx.stack);
        ctx.ids.queueUrls[QueueName] = QueueUrl!;
        await queue.update(ctx, live);
      }
    },
    async update(ctx, live) {
      const changed = attributeChanges(ctx, role, live);
      if (changed.length) {
        const desired = desiredAttributes(ctx, role);
        const Attributes = Object.fromEntries(changed.map((c) => [c.field, desired[c.field]!]));
        await ctx.retry([RULES.deadLetterTargetMissing], () => ctx.clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl: live.url, Attributes })));
      }
      const tags = missingTags(ctx.tags, live.tags);
      if (Object.keys(tags).length) await ctx.clients.sqs.send(new TagQueueCommand({ QueueUrl: live.url, Tags: tags }));
    },
    async remove(ctx, live) {
      await ctx.clients.sqs.send(new DeleteQueueCommand({ QueueUrl: live.url }));
    },
    async untilRemoved(ctx) {
      await waitUntilGone(ctx, `${name(ctx)} is deleted`, async () => !(await orMissing(ctx.clients.sqs.send(new GetQueueUrlCommand({ QueueName: name(ctx) })))), QUEUE_GONE);
    },
  };
  return queue;
}

export const deadLetterQueue = queueResource('dead-letter-queue', 'deadLetterQueue', 'SQS queue (DLQ)');
export const resultsQueue = queueResource('results-queue', 'resultsQueue', 'SQS queue');
export const requestsQueue = queueResource('requests-queue', 'requestsQueue', 'SQS queue');

export interface MoveProgress {
  status: string;
  moved: number;
  toMove: number;
  failureReason?: string;
}

/**
 * Moves every message of the DLQ back to the requests queue with an SQS message move task, and
 * waits for it to finish, reporting progress on the way.
 */
export async function redrive(ctx: Ctx, onProgress: (p: MoveProgress) => void): Promise<MoveProgress> {
  const SourceArn = queueArn(ctx, ctx.names.deadLetterQueue);
  await ctx.clients.sqs.send(new StartMessageMoveTaskCommand({ SourceArn, DestinationArn: queueArn(ctx, ctx.names.requestsQueue) }));
  const finished = await pollUntil(ctx, 'the message move task to finish', async () => {
    const { Results } = await ctx.clients.sqs.send(new ListMessageMoveTasksCommand({ SourceArn, MaxResults: 1 }));
    const task = Results?.[0];
    const progress: MoveProgress = {
      status: task?.Status ?? 'UNKNOWN',
      moved: task?.ApproximateNumberOfMessagesMoved ?? 0,
      toMove: task?.ApproximateNumberOfMessagesToMove ?? 0,
      ...(task?.FailureReason ? { failureReason: task.FailureReason } : {}),
    };
    onProgress(progress);
    return progress;
  }, (p) => !['RUNNING', 'CANCELLING'].includes(p.status), 60 * 60_000);
  return finished;
}

export interface QueueSample {
  count: number;
  messages: { id: string; body: string; receiveCount: number }[];
}

/** The number of messages in a queue and up to 10 of them, released again at once for other consumers. */
export async function sampleQueue(ctx: Ctx, queueUrl: string): Promise<QueueSample> {
  const live = await readQueue(ctx, queueUrl);
  const { Messages = [] } = await ctx.clients.sqs.send(new ReceiveMessageCommand({
    QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, WaitTimeSeconds: 0,
    // The legacy AttributeNames too: some SQS emulators only honour that one.
    MessageSystemAttributeNames: ['ApproximateReceiveCount'], AttributeNames: ['All'],
  }));
  await releaseMessages(ctx.clients.sqs, queueUrl, Messages);
  const depth = queueDepth(live.attributes);
  return {
    count: depth.visible + depth.inFlight + depth.delayed,
    messages: Messages.map((m) => ({ id: m.MessageId!, body: m.Body ?? '', receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 0) })),
  };
}
