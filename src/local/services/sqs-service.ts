import { Queue } from './sqs-queue.js';
import type { StoredMessage } from './sqs-message.js';
import { AwsError, queueMissing } from './sqs-wire.js';
import type { Item } from './dynamo-expressions.js';

/** What the journal keeps: every change to queues and messages, replayed in order after a restart. */
export type JournalRecord =
  | { op: 'queue'; name: string; attributes: Record<string, string>; tags: Record<string, string>; createdAt: number }
  | { op: 'dropQueue'; name: string }
  | { op: 'send'; q: string; m: StoredMessage }
  | { op: 'del'; q: string; id: string }
  /** A receive; journals written before receipts were kept have neither receipt nor visibleAt. */
  | { op: 'recv'; q: string; id: string; at: number; receipt?: string; visibleAt?: number }
  | { op: 'vis'; q: string; id: string; visibleAt: number }
  | { op: 'move'; from: string; to: string; id: string; resetCount?: true }
  | { op: 'purge'; q: string }
  /** An item of the local results store (DynamoDB's part of the local target). */
  | { op: 'item'; table: string; item: Item }
  /** Records of the layer above (the local stack), kept through compaction and handed back on replay. */
  | { op: 'note'; kind: string; data: unknown };

export interface JournalSink {
  /** Durable writes resolve once the record is on disk; the others ride with the next group. */
  write(record: JournalRecord, durable: boolean): Promise<void> | undefined;
}

export const DEFAULT_ATTRIBUTES: Record<string, string> = {
  DelaySeconds: '0',
  MaximumMessageSize: '1048576',
  MessageRetentionPeriod: '345600',
  ReceiveMessageWaitTimeSeconds: '0',
  VisibilityTimeout: '30',
  SqsManagedSseEnabled: 'true',
};

/** Settable attributes and, for the numeric ones, SQS's documented ranges. */
const RANGES: Record<string, [number, number] | undefined> = {
  DelaySeconds: [0, 900],
  MaximumMessageSize: [1024, 1048576],
  MessageRetentionPeriod: [60, 1209600],
  ReceiveMessageWaitTimeSeconds: [0, 20],
  VisibilityTimeout: [0, 43200],
  KmsDataKeyReusePeriodSeconds: [60, 86400],
  RedrivePolicy: undefined, RedriveAllowPolicy: undefined, Policy: undefined, KmsMasterKeyId: undefined, SqsManagedSseEnabled: undefined,
};

export interface ServiceOptions {
  region: string;
  accountId: string;
  /** The endpoint that queue URLs name: the server's own, so any client following them reaches it. */
  endpoint: () => string;
  journal?: JournalSink;
}

/** The queues of one local SQS endpoint, their configuration, and the journal of every change. */
export class SqsService {
  readonly queues = new Map<string, Queue>();

  constructor(readonly options: ServiceOptions) {}

  arn(name: string): string {
    return `arn:aws:sqs:${this.options.region}:${this.options.accountId}:${name}`;
  }

  url(name: string): string {
    return `${this.options.endpoint()}/${this.options.accountId}/${name}`;
  }

  journal(record: JournalRecord, durable = false): Promise<void> | undefined {
    return this.options.journal?.write(record, durable);
  }

  /** The queue a QueueUrl names (any host: only the name counts, as clients may rewrite hosts). */
  byUrl(queueUrl: unknown): Queue {
    if (typeof queueUrl !== 'string' || !queueUrl) throw new AwsError('MissingParameter', 'The request must contain the parameter QueueUrl.');
    const queue = this.queues.get(queueUrl.split('/').filter(Boolean).pop() ?? '');
    if (!queue) throw queueMissing();
    return queue;
  }

  byArn(arn: unknown): Queue | undefined {
    if (typeof arn !== 'string') return undefined;
    return this.queues.get(arn.split(':').pop() ?? '');
  }

  /** The queues whose redrive policy names `arn` as their dead-letter queue. */
  deadLetterSources(arn: string): Queue[] {
    return [...this.queues.values()].filter((q) => q.redrivePolicy()?.deadLetterTargetArn === arn);
  }

  private newQueue(name: string, attributes: Record<string, string>, tags: Record<string, string>, createdAt?: number): Queue {
    const queue = new Queue(name, attributes, tags, {
      deadLetter: (q) => this.byArn(q.redrivePolicy()?.deadLetterTargetArn),
      // Every receive: a restart keeps receive counts, first-receive times, and the message in flight with its handle.
      onReceive: (q, id, inFlight) => void this.journal({ op: 'recv', q: q.name, id, at: inFlight.receivedAt, receipt: inFlight.receipt, visibleAt: inFlight.visibleAt }),
      onVisibility: (q, id, visibleAt) => void this.journal({ op: 'vis', q: q.name, id, visibleAt }),
      onMove: (from, to, id) => void this.journal({ op: 'move', from: from.name, to: to.name, id }),
    }, createdAt);
    this.queues.set(name, queue);
    return queue;
  }

  /** Checks attributes as SQS does: known names, numeric ranges, a redrive policy naming an existing queue. */
  checkAttributes(attributes: Record<string, string>) {
    for (const [name, value] of Object.entries(attributes)) {
      if (!(name in RANGES)) throw new AwsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
      const range = RANGES[name];
      const number = Number(value);
      if (range && (!/^\d+$/.test(String(value)) || number < range[0] || number > range[1])) {
        throw new AwsError('InvalidAttributeValue', `Invalid value for the parameter ${name}.`);
      }
    }
    if (attributes.RedrivePolicy) {
      let policy: { deadLetterTargetArn?: string; maxReceiveCount?: number | string };
      try {
        policy = JSON.parse(attributes.RedrivePolicy) as typeof policy;
      } catch {
        throw new AwsError('InvalidAttributeValue', `Value ${attributes.RedrivePolicy} for parameter RedrivePolicy is invalid. Reason: Invalid JSON.`);
      }
      const count = Number(policy.maxReceiveCount);
      if (!Number.isInteger(count) || count < 1 || count > 1000) {
        throw new AwsError('InvalidAttributeValue', `Value ${attributes.RedrivePolicy} for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: ${policy.maxReceiveCount}, valid values are from 1 to 1000 both inclusive.`);
      }
      if (!this.byArn(policy.deadLetterTargetArn)) {
        throw new AwsError('InvalidAttributeValue', `Value ${attributes.RedrivePolicy} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.`);
      }
    }
  }

  private journalQueue(queue: Queue) {
    void this.journal({ op: 'queue', name: queue.name, attributes: queue.attributes, tags: queue.tags, createdAt: queue.createdAt }, true);
  }

  createQueue(name: unknown, attributes: Record<string, string> = {}, tags: Record<string, string> = {}): string {
    if (typeof name === 'string' && name.endsWith('.fifo')) throw new AwsError('UnsupportedOperation', `${name}: FIFO queues are not supported by the local SQS server, which keeps standard queues only (the pipeline's).`);
    if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
      throw new AwsError('InvalidParameterValue', 'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length');
    }
    if (attributes.FifoQueue === 'true') throw new AwsError('UnsupportedOperation', 'The local SQS server keeps standard queues only.');
    const existing = this.queues.get(name);
    if (existing) {
      const differs = Object.entries(attributes).find(([key, value]) => String(existing.attributes[key] ?? DEFAULT_ATTRIBUTES[key]) !== String(value));
      if (differs) throw new AwsError('QueueNameExists', `A queue already exists with the same name and a different value for attribute ${differs[0]}`, 'QueueAlreadyExists');
      return this.url(name);
    }
    this.checkAttributes(attributes);
    this.journalQueue(this.newQueue(name, { ...DEFAULT_ATTRIBUTES, ...stringValues(attributes) }, { ...tags }));
    return this.url(name);
  }

  setAttributes(queue: Queue, attributes: Record<string, string>) {
    this.checkAttributes(attributes);
    Object.assign(queue.attributes, stringValues(attributes));
    queue.lastModifiedAt = Date.now();
    this.journalQueue(queue);
  }

  tag(queue: Queue, tags: Record<string, string>) {
    Object.assign(queue.tags, tags);
    this.journalQueue(queue);
  }

  untag(queue: Queue, keys: string[]) {
    for (const key of keys) delete queue.tags[key];
    this.journalQueue(queue);
  }

  deleteQueue(queue: Queue) {
    queue.endPolls();
    this.queues.delete(queue.name);
    void this.journal({ op: 'dropQueue', name: queue.name }, true);
  }

  /** Ends every long poll: the server is closing. */
  close() {
    for (const queue of this.queues.values()) queue.endPolls();
  }

  /** Applies one journal record, as it was applied before the restart; unknown ids are skipped. */
  apply(record: JournalRecord) {
    switch (record.op) {
      case 'queue': {
        const queue = this.queues.get(record.name) ?? this.newQueue(record.name, {}, {}, record.createdAt);
        queue.attributes = record.attributes;
        queue.tags = record.tags;
        break;
      }
      case 'dropQueue':
        this.queues.delete(record.name);
        break;
      case 'send': {
        const queue = this.queues.get(record.q);
        if (queue && !queue.has(record.m.id)) queue.add(record.m);
        break;
      }
      case 'del':
        this.queues.get(record.q)?.remove(record.id);
        break;
      case 'recv':
        this.queues.get(record.q)?.countReceive(record.id, record.at, record.receipt && record.visibleAt ? { receipt: record.receipt, visibleAt: record.visibleAt } : undefined);
        break;
      case 'vis':
        this.queues.get(record.q)?.restoreVisibility(record.id, record.visibleAt);
        break;
      case 'move': {
        const message = this.queues.get(record.from)?.take(record.id);
        if (message) this.queues.get(record.to)?.add(record.resetCount ? { ...message, receiveCount: 0, firstReceiveAt: undefined } : message);
        break;
      }
      case 'purge':
        this.queues.get(record.q)?.purge();
        break;
      case 'note':
      case 'item':
        break;
    }
  }

  /** The whole state as records: what a compacted journal starts with. */
  snapshot(): JournalRecord[] {
    const records: JournalRecord[] = [];
    for (const queue of this.queues.values()) {
      records.push({ op: 'queue', name: queue.name, attributes: queue.attributes, tags: queue.tags, createdAt: queue.createdAt });
    }
    for (const queue of this.queues.values()) for (const m of queue.stored()) records.push({ op: 'send', q: queue.name, m });
    return records;
  }
}

function stringValues(attributes: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, String(v)]));
}
