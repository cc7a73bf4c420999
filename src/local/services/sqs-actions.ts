import { Queue } from './sqs-queue.js';
import type { Received } from './sqs-message.js';
import { AwsError, md5, md5OfAttributes, queueMissing, type MessageAttribute } from './sqs-wire.js';
import { attributesSize, checkMessageAttributes, INVALID_CHARACTER } from './sqs-attributes.js';
import type { SqsService } from './sqs-service.js';

type Params = Record<string, unknown>;
export type SqsAction = (params: Params, signal?: { hungUp: () => boolean }) => unknown;

/** SQS allows one PurgeQueue per queue every 60 seconds. */
const PURGE_INTERVAL_MS = 60_000;
const BATCH_ID = /^[A-Za-z0-9_-]{1,80}$/;
const SYSTEM_ATTRIBUTES = ['SenderId', 'SentTimestamp', 'ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp'];

function intIn(params: Params, name: string, min: number, max: number, fallback: number): number {
  const value = params[name];
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max) {
    throw new AwsError('InvalidParameterValue', `Value ${String(value)} for parameter ${name} is invalid. Reason: Must be between ${min} and ${max}, if provided.`);
  }
  return number;
}

/** Validates and enqueues one message; answers as SendMessage does, once the journal holds it. */
async function send(service: SqsService, queue: Queue, entry: Params) {
  const body = entry.MessageBody;
  if (typeof body !== 'string' || !body.length) throw new AwsError('MissingParameter', 'The request must contain the parameter MessageBody.');
  if (INVALID_CHARACTER.test(body)) throw new AwsError('InvalidMessageContents', 'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF');
  const attributes = entry.MessageAttributes as Record<string, MessageAttribute> | undefined;
  checkMessageAttributes(attributes);
  const limit = Number(queue.attributes.MaximumMessageSize);
  if (Buffer.byteLength(body) + attributesSize(attributes) > limit) {
    throw new AwsError('InvalidParameterValue', `One or more parameters are invalid. Reason: Message must be shorter than ${limit} bytes.`);
  }
  const delay = intIn(entry, 'DelaySeconds', 0, 900, Number(queue.attributes.DelaySeconds));
  const now = Date.now();
  const message = { id: Queue.newId(), body, ...(attributes && Object.keys(attributes).length ? { attributes } : {}), sentAt: now, ...(delay ? { delayUntil: now + delay * 1000 } : {}), receiveCount: 0 };
  const durable = service.journal({ op: 'send', q: queue.name, m: message }, true);
  queue.add(message, now);
  await durable;
  const md5OfAttributesValue = md5OfAttributes(attributes);
  return { MessageId: message.id, MD5OfMessageBody: md5(body), ...(md5OfAttributesValue ? { MD5OfMessageAttributes: md5OfAttributesValue } : {}) };
}

/** The entries of a batch call, checked as SQS checks them: 1 to 10, distinct ids of the allowed characters. */
function batchEntries(params: Params): Params[] {
  const entries = (params.Entries ?? []) as Params[];
  if (!entries.length) throw new AwsError('EmptyBatchRequest', 'There should be at least one SendMessageBatchRequestEntry in the request.', 'AWS.SimpleQueueService.EmptyBatchRequest');
  if (entries.length > 10) throw new AwsError('TooManyEntriesInBatchRequest', `Maximum number of entries per request are 10. You have sent ${entries.length}.`, 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest');
  const ids = new Set<string>();
  for (const entry of entries) {
    if (typeof entry.Id !== 'string' || !BATCH_ID.test(entry.Id)) throw new AwsError('InvalidBatchEntryId', 'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.', 'AWS.SimpleQueueService.InvalidBatchEntryId');
    if (ids.has(entry.Id)) throw new AwsError('BatchEntryIdsNotDistinct', `Id ${entry.Id} repeated.`, 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct');
    ids.add(entry.Id);
  }
  return entries;
}

/** Runs the entries together (their journal writes share one flush); failures are reported per entry, as SQS's batch calls do. */
async function batch(entries: Params[], run: (entry: Params) => unknown) {
  const outcomes = await Promise.all(entries.map(async (entry) => {
    try {
      return { ok: { Id: entry.Id, ...(await run(entry) as Params | undefined) } };
    } catch (err) {
      if (!(err instanceof AwsError)) throw err;
      return { failed: { Id: entry.Id, SenderFault: true, Code: err.queryCode, Message: err.message } };
    }
  }));
  return { Successful: outcomes.flatMap((o) => o.ok ?? []), Failed: outcomes.flatMap((o) => o.failed ?? []) };
}

function wanted(requested: unknown, name: string): boolean {
  const list = (requested ?? []) as string[];
  return list.some((r) => r === 'All' || r === '.*' || r === name || (r.endsWith('.*') && name.startsWith(r.slice(0, -1))));
}

function toWire(service: SqsService, { message, receipt }: Received, params: Params) {
  const systemNames = [...((params.AttributeNames ?? []) as string[]), ...((params.MessageSystemAttributeNames ?? []) as string[])];
  const system: Record<string, string> = {
    SenderId: service.options.accountId,
    SentTimestamp: String(message.sentAt),
    ApproximateReceiveCount: String(message.receiveCount),
    ApproximateFirstReceiveTimestamp: String(message.firstReceiveAt ?? message.sentAt),
  };
  const Attributes = Object.fromEntries(SYSTEM_ATTRIBUTES.filter((n) => wanted(systemNames, n)).map((n) => [n, system[n]!]));
  const MessageAttributes = Object.fromEntries(Object.entries(message.attributes ?? {}).filter(([n]) => wanted(params.MessageAttributeNames, n)));
  const md5OfAttributesValue = md5OfAttributes(MessageAttributes);
  return {
    MessageId: message.id,
    ReceiptHandle: receipt,
    MD5OfBody: md5(message.body),
    Body: message.body,
    ...(Object.keys(Attributes).length ? { Attributes } : {}),
    ...(md5OfAttributesValue ? { MessageAttributes, MD5OfMessageAttributes: md5OfAttributesValue } : {}),
  };
}

/** SQS's message and queue actions over the service, with the JSON protocol's parameter and answer shapes. */
export function sqsActions(service: SqsService): Record<string, SqsAction> {
  const receiptOf = (params: Params) => {
    if (typeof params.ReceiptHandle !== 'string') throw new AwsError('MissingParameter', 'The request must contain the parameter ReceiptHandle.');
    return params.ReceiptHandle;
  };
  const deleteMessage = (queue: Queue, params: Params) => {
    const id = queue.delete(receiptOf(params));
    if (id) void service.journal({ op: 'del', q: queue.name, id });
    return {};
  };
  const changeVisibility = (queue: Queue, params: Params) => {
    queue.changeVisibility(receiptOf(params), intIn(params, 'VisibilityTimeout', 0, 43200, 0));
    return {};
  };
  return {
    CreateQueue: (p) => ({ QueueUrl: service.createQueue(p.QueueName, p.Attributes as Record<string, string>, p.tags as Record<string, string>) }),
    GetQueueUrl: (p) => {
      if (!service.queues.has(String(p.QueueName))) throw queueMissing();
      return { QueueUrl: service.url(String(p.QueueName)) };
    },
    ListQueues: (p) => {
      const names = [...service.queues.keys()].filter((n) => n.startsWith(String(p.QueueNamePrefix ?? ''))).sort();
      const start = p.NextToken ? Number(Buffer.from(String(p.NextToken), 'base64url').toString()) : 0;
      const max = p.MaxResults === undefined ? 1000 : intIn(p, 'MaxResults', 1, 1000, 1000);
      const page = names.slice(start, start + max);
      return {
        ...(page.length ? { QueueUrls: page.map((n) => service.url(n)) } : {}),
        ...(p.MaxResults !== undefined && start + max < names.length ? { NextToken: Buffer.from(String(start + max)).toString('base64url') } : {}),
      };
    },
    GetQueueAttributes: (p) => {
      const queue = service.byUrl(p.QueueUrl);
      const counts = queue.counts();
      const all: Record<string, string> = {
        QueueArn: service.arn(queue.name),
        ApproximateNumberOfMessages: String(counts.visible),
        ApproximateNumberOfMessagesNotVisible: String(counts.inFlight),
        ApproximateNumberOfMessagesDelayed: String(counts.delayed),
        CreatedTimestamp: String(Math.floor(queue.createdAt / 1000)),
        LastModifiedTimestamp: String(Math.floor(queue.lastModifiedAt / 1000)),
        ...queue.attributes,
      };
      const names = (p.AttributeNames ?? []) as string[];
      for (const name of names) if (name !== 'All' && !(name in all) && !['RedrivePolicy', 'RedriveAllowPolicy', 'Policy', 'KmsMasterKeyId', 'KmsDataKeyReusePeriodSeconds'].includes(name)) throw new AwsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
      const Attributes = Object.fromEntries(Object.entries(all).filter(([n]) => names.includes('All') || names.includes(n)));
      return Object.keys(Attributes).length ? { Attributes } : {};
    },
    SetQueueAttributes: (p) => {
      service.setAttributes(service.byUrl(p.QueueUrl), (p.Attributes ?? {}) as Record<string, string>);
      return {};
    },
    DeleteQueue: (p) => {
      service.deleteQueue(service.byUrl(p.QueueUrl));
      return {};
    },
    PurgeQueue: (p) => {
      const queue = service.byUrl(p.QueueUrl);
      const now = Date.now();
      if (now - queue.purgedAt < PURGE_INTERVAL_MS) {
        throw new AwsError('PurgeQueueInProgress', `Only one PurgeQueue operation on ${queue.name} is allowed every 60 seconds.`, 'AWS.SimpleQueueService.PurgeQueueInProgress', 403);
      }
      queue.purgedAt = now;
      queue.purge();
      void service.journal({ op: 'purge', q: queue.name }, true);
      return {};
    },
    TagQueue: (p) => {
      service.tag(service.byUrl(p.QueueUrl), (p.Tags ?? {}) as Record<string, string>);
      return {};
    },
    UntagQueue: (p) => {
      service.untag(service.byUrl(p.QueueUrl), (p.TagKeys ?? []) as string[]);
      return {};
    },
    ListQueueTags: (p) => {
      const { tags } = service.byUrl(p.QueueUrl);
      return Object.keys(tags).length ? { Tags: { ...tags } } : {};
    },
    ListDeadLetterSourceQueues: (p) => {
      const sources = service.deadLetterSources(service.arn(service.byUrl(p.QueueUrl).name));
      return { queueUrls: sources.map((q) => service.url(q.name)) };
    },
    SendMessage: (p) => send(service, service.byUrl(p.QueueUrl), p),
    SendMessageBatch: async (p) => {
      const queue = service.byUrl(p.QueueUrl);
      const entries = batchEntries(p);
      const total = entries.reduce((sum, e) => sum + Buffer.byteLength(String(e.MessageBody ?? '')) + attributesSize(e.MessageAttributes as Record<string, MessageAttribute>), 0);
      if (total > 1048576) throw new AwsError('BatchRequestTooLong', `Batch requests cannot be longer than 1048576 bytes. You have sent ${total} bytes.`, 'AWS.SimpleQueueService.BatchRequestTooLong');
      return batch(entries, (entry) => send(service, queue, entry));
    },
    ReceiveMessage: async (p, signal) => {
      const queue = service.byUrl(p.QueueUrl);
      const max = intIn(p, 'MaxNumberOfMessages', 1, 10, 1);
      const visibility = intIn(p, 'VisibilityTimeout', 0, 43200, Number(queue.attributes.VisibilityTimeout));
      const wait = intIn(p, 'WaitTimeSeconds', 0, 20, Number(queue.attributes.ReceiveMessageWaitTimeSeconds));
      const got = await queue.receive(max, visibility, wait);
      // A client that hung up during its long poll (Ctrl-C) gets nothing: what it received is visible again at once.
      if (signal?.hungUp() && service.queues.get(queue.name) === queue) {
        for (const r of got) {
          try {
            queue.changeVisibility(r.receipt, 0);
          } catch {
            // Deleted or moved meanwhile: nothing to hand back.
          }
        }
        return {};
      }
      return got.length ? { Messages: got.map((r) => toWire(service, r, p)) } : {};
    },
    DeleteMessage: (p) => deleteMessage(service.byUrl(p.QueueUrl), p),
    DeleteMessageBatch: (p) => {
      const queue = service.byUrl(p.QueueUrl);
      return batch(batchEntries(p), (entry) => deleteMessage(queue, entry));
    },
    ChangeMessageVisibility: (p) => changeVisibility(service.byUrl(p.QueueUrl), p),
    ChangeMessageVisibilityBatch: (p) => {
      const queue = service.byUrl(p.QueueUrl);
      return batch(batchEntries(p), (entry) => changeVisibility(queue, entry));
    },
  };
}
