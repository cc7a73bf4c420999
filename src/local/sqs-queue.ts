import { randomBytes, randomUUID } from 'node:crypto';
import { AwsError, type MessageAttribute } from './sqs-wire.js';

/** A message as the journal keeps it: what survives a restart. */
export interface StoredMessage {
  id: string;
  body: string;
  attributes?: Record<string, MessageAttribute>;
  sentAt: number;
  /** When a delayed message becomes visible (absent: at once). */
  delayUntil?: number;
  receiveCount: number;
  firstReceiveAt?: number;
}

interface Message extends StoredMessage {
  state: 'ready' | 'inflight' | 'delayed';
  /** When an in-flight or delayed message becomes visible. */
  visibleAt: number;
  receipt?: string;
}

export interface Received {
  message: StoredMessage;
  receipt: string;
}

/** Receipt handles name the message and the receive, so a handle from an earlier receive is told apart. */
function receiptFor(id: string): string {
  return Buffer.from(`${id}:${randomBytes(9).toString('base64url')}`).toString('base64url');
}

export function messageIdOf(receipt: string): string {
  const decoded = Buffer.from(receipt, 'base64url').toString('utf8');
  const id = decoded.slice(0, decoded.lastIndexOf(':'));
  if (!/^[0-9a-f-]{36}$/.test(id)) throw new AwsError('ReceiptHandleIsInvalid', `The input receipt handle "${receipt}" is not a valid receipt handle.`);
  return id;
}

type Poll = { max: number; visibility: number; resolve: (got: Received[]) => void; timer: NodeJS.Timeout };

/**
 * One standard queue with SQS's semantics: a receive counts, a visibility change does not; a
 * message received maxReceiveCount times goes to the dead-letter queue on the next receive; the
 * three ApproximateNumberOf* counters count visible, in-flight and delayed messages apart.
 */
export class Queue {
  private readonly messages = new Map<string, Message>();
  /** Visible messages, oldest first (a Map keeps insertion order). */
  private readonly ready = new Map<string, Message>();
  /** In flight or delayed, until `visibleAt`. */
  private readonly hidden = new Map<string, Message>();
  private nextVisibleAt = Infinity;
  private polls: Poll[] = [];
  private wakeTimer: NodeJS.Timeout | undefined;
  attributes: Record<string, string>;
  tags: Record<string, string>;
  readonly createdAt: number;
  lastModifiedAt: number;

  constructor(readonly name: string, attributes: Record<string, string>, tags: Record<string, string>, private readonly hooks: {
    /** Where a message over maxReceiveCount goes; undefined when the queue has no redrive policy. */
    deadLetter: (queue: Queue) => Queue | undefined;
    onReceive: (queue: Queue, id: string) => void;
    onMove: (from: Queue, to: Queue, id: string) => void;
  }, now = Date.now()) {
    this.attributes = attributes;
    this.tags = tags;
    this.createdAt = now;
    this.lastModifiedAt = now;
  }

  /** The queue's RedrivePolicy, read; undefined without one. */
  redrivePolicy(): { deadLetterTargetArn: string; maxReceiveCount: number } | undefined {
    return this.attributes.RedrivePolicy ? JSON.parse(this.attributes.RedrivePolicy) as { deadLetterTargetArn: string; maxReceiveCount: number } : undefined;
  }

  private number(name: string): number {
    return Number(this.attributes[name]);
  }

  counts(now = Date.now()) {
    this.reveal(now);
    let inFlight = 0;
    for (const m of this.hidden.values()) if (m.state === 'inflight') inFlight++;
    return { visible: this.ready.size, inFlight, delayed: this.hidden.size - inFlight };
  }

  /** Adds a message as sent (or as recovered, keeping its id and receive count). */
  add(stored: StoredMessage, now = Date.now()) {
    const message: Message = { ...stored, state: 'ready', visibleAt: 0 };
    this.messages.set(message.id, message);
    if (stored.delayUntil && stored.delayUntil > now) this.hide(message, 'delayed', stored.delayUntil);
    else this.ready.set(message.id, message);
    this.serve(now);
  }

  /** A new message id, as SQS makes them (a UUID). */
  static newId(): string {
    return randomUUID();
  }

  has(id: string): boolean {
    return this.messages.has(id);
  }

  /** Removes a message by id; false when it was already gone. */
  remove(id: string): boolean {
    const message = this.messages.get(id);
    if (!message) return false;
    this.messages.delete(id);
    this.ready.delete(id);
    this.hidden.delete(id);
    return true;
  }

  take(id: string): StoredMessage | undefined {
    const message = this.messages.get(id);
    if (!message) return undefined;
    this.remove(id);
    return stored(message);
  }

  /** A receive recovered from the journal. */
  countReceive(id: string, at: number) {
    const message = this.messages.get(id);
    if (!message) return;
    message.receiveCount++;
    message.firstReceiveAt ??= at;
  }

  stored(): StoredMessage[] {
    return [...this.messages.values()].map(stored);
  }

  /** The visible messages, oldest first. */
  visible(now = Date.now()): StoredMessage[] {
    this.reveal(now);
    return [...this.ready.values()].map(stored);
  }

  purge() {
    for (const id of [...this.messages.keys()]) this.remove(id);
  }

  private hide(message: Message, state: 'inflight' | 'delayed', visibleAt: number) {
    message.state = state;
    message.visibleAt = visibleAt;
    this.ready.delete(message.id);
    this.hidden.set(message.id, message);
    if (visibleAt < this.nextVisibleAt) this.nextVisibleAt = visibleAt;
  }

  /** Moves in-flight and delayed messages whose time has come back to the visible ones. */
  private reveal(now: number) {
    if (now < this.nextVisibleAt) return;
    let next = Infinity;
    for (const message of this.hidden.values()) {
      if (message.visibleAt <= now) {
        this.hidden.delete(message.id);
        message.state = 'ready';
        message.receipt = undefined;
        this.ready.set(message.id, message);
      } else if (message.visibleAt < next) next = message.visibleAt;
    }
    this.nextVisibleAt = next;
  }

  /** Up to `max` visible messages, each counted as received; those past maxReceiveCount go to the DLQ instead. */
  receiveNow(max: number, visibility: number, now = Date.now()): Received[] {
    this.reveal(now);
    const got: Received[] = [];
    const redrive = this.redrivePolicy();
    for (const message of this.ready.values()) {
      if (got.length >= max) break;
      const dlq = redrive && message.receiveCount >= Number(redrive.maxReceiveCount) ? this.hooks.deadLetter(this) : undefined;
      if (dlq) {
        this.remove(message.id);
        dlq.add({ ...stored(message), delayUntil: undefined }, now);
        this.hooks.onMove(this, dlq, message.id);
        continue;
      }
      message.receiveCount++;
      message.firstReceiveAt ??= now;
      message.receipt = receiptFor(message.id);
      this.hide(message, 'inflight', now + visibility * 1000);
      this.hooks.onReceive(this, message.id);
      got.push({ message: stored(message), receipt: message.receipt });
    }
    return got;
  }

  /** A receive with long polling: answers as soon as any message is there, or with none after `waitSeconds`. */
  receive(max: number, visibility: number, waitSeconds: number): Promise<Received[]> {
    const got = this.receiveNow(max, visibility);
    if (got.length || waitSeconds <= 0) return Promise.resolve(got);
    return new Promise((resolve) => {
      const poll: Poll = {
        max, visibility, resolve,
        timer: setTimeout(() => {
          this.polls = this.polls.filter((p) => p !== poll);
          resolve([]);
        }, waitSeconds * 1000),
      };
      this.polls.push(poll);
      this.scheduleWake();
    });
  }

  /** Hands visible messages to waiting long polls, first come first served. */
  private serve(now = Date.now()) {
    while (this.polls.length) {
      const got = this.receiveNow(this.polls[0]!.max, this.polls[0]!.visibility, now);
      if (!got.length) break;
      const poll = this.polls.shift()!;
      clearTimeout(poll.timer);
      poll.resolve(got);
    }
    this.scheduleWake();
  }

  /** While polls wait, wakes them when the next hidden message becomes visible. */
  private scheduleWake() {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (!this.polls.length || this.nextVisibleAt === Infinity) return;
    this.wakeTimer = setTimeout(() => this.serve(), Math.max(0, this.nextVisibleAt - Date.now()) + 1);
  }

  /** Ends every waiting long poll with no messages (the server is closing). */
  endPolls() {
    for (const poll of this.polls.splice(0)) {
      clearTimeout(poll.timer);
      poll.resolve([]);
    }
    clearTimeout(this.wakeTimer);
  }

  /** Deletes by receipt handle; a message already gone is no error, as on SQS. */
  delete(receipt: string): string | undefined {
    const id = messageIdOf(receipt);
    return this.remove(id) ? id : undefined;
  }

  changeVisibility(receipt: string, visibility: number, now = Date.now()) {
    const message = this.messages.get(messageIdOf(receipt));
    if (!message || message.state !== 'inflight' || message.receipt !== receipt) {
      throw new AwsError('MessageNotInflight', 'The message referred to is not in flight.', 'AWS.SimpleQueueService.MessageNotInflight');
    }
    this.hide(message, 'inflight', now + visibility * 1000);
    if (visibility === 0) this.reveal(now);
    // Visible now, or sooner than the waiting polls' wake-up: serve them or wake them earlier.
    this.serve(now);
  }

  /** Drops messages older than the retention period. */
  expire(now = Date.now()): string[] {
    const oldest = now - this.number('MessageRetentionPeriod') * 1000;
    const gone: string[] = [];
    for (const message of this.messages.values()) if (message.sentAt <= oldest) gone.push(message.id);
    for (const id of gone) this.remove(id);
    return gone;
  }

  oldestAgeSeconds(now = Date.now()): number {
    let oldest = now;
    for (const message of this.messages.values()) if (message.sentAt < oldest) oldest = message.sentAt;
    return Math.floor((now - oldest) / 1000);
  }
}

function stored(message: Message | StoredMessage): StoredMessage {
  const { id, body, attributes, sentAt, delayUntil, receiveCount, firstReceiveAt } = message;
  return { id, body, ...(attributes ? { attributes } : {}), sentAt, ...(delayUntil ? { delayUntil } : {}), receiveCount, ...(firstReceiveAt ? { firstReceiveAt } : {}) };
}
