import { randomUUID } from 'node:crypto';
import { AwsError } from './sqs-wire.js';
import { MAX_VISIBILITY_SECONDS, messageIdOf, receiptFor, stored, type InFlight, type Message, type Received, type StoredMessage } from './sqs-message.js';

type Poll = { max: number; visibility: number; resolve: (got: Received[]) => void; timer: NodeJS.Timeout };

/**
 * One standard queue with SQS's semantics: a receive counts, a visibility change does not; a
 * message received maxReceiveCount times goes to the dead-letter queue on the next receive; the
 * three ApproximateNumberOf* counters count visible, in-flight and delayed messages apart.
 */
export class Queue {
  private readonly messages = new Map<string, Message>();
  /** Visible messages never hidden, oldest first (a Map keeps insertion order). */
  private readonly ready = new Map<string, Message>();
  /** Visible again after a receive or a delay: served in order of arrival among the others, as SQS's best-effort order does. */
  private readonly returned = new Map<string, Message>();
  /** In flight or delayed, until `visibleAt`. */
  private readonly hidden = new Map<string, Message>();
  private nextVisibleAt = Infinity;
  /** At most the oldest message's sentAt: no message can have passed the retention period before this one. */
  private oldestSentAt = Infinity;
  private arrivals = 0;
  private polls: Poll[] = [];
  private wakeTimer: NodeJS.Timeout | undefined;
  attributes: Record<string, string>;
  tags: Record<string, string>;
  /** When PurgeQueue last ran on it. */
  purgedAt = -Infinity;
  readonly createdAt: number;
  lastModifiedAt: number;

  constructor(readonly name: string, attributes: Record<string, string>, tags: Record<string, string>, private readonly hooks: {
    /** Where a message over maxReceiveCount goes; undefined when the queue has no redrive policy. */
    deadLetter: (queue: Queue) => Queue | undefined;
    onReceive: (queue: Queue, id: string, inFlight: InFlight) => void;
    /** A visibility change: when the message is visible again. */
    onVisibility: (queue: Queue, id: string, visibleAt: number) => void;
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
    this.expire(now);
    this.reveal(now);
    let inFlight = 0;
    for (const m of this.hidden.values()) if (m.state === 'inflight') inFlight++;
    return { visible: this.ready.size + this.returned.size, inFlight, delayed: this.hidden.size - inFlight };
  }

  /** Adds a message as sent (or as recovered, keeping its id, receive count and, while it lasts, its receive). */
  add(stored: StoredMessage, now = Date.now()) {
    const { inFlight, ...rest } = stored;
    const message: Message = { ...rest, state: 'ready', visibleAt: 0, seq: this.arrivals++ };
    this.messages.set(message.id, message);
    if (message.sentAt < this.oldestSentAt) this.oldestSentAt = message.sentAt;
    if (inFlight) {
      message.receipt = inFlight.receipt;
      message.receivedAt = inFlight.receivedAt;
    }
    if (inFlight && inFlight.visibleAt > now) this.hide(message, 'inflight', inFlight.visibleAt);
    else if (stored.delayUntil && stored.delayUntil > now) this.hide(message, 'delayed', stored.delayUntil);
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
    this.returned.delete(id);
    this.hidden.delete(id);
    return true;
  }

  /** Takes a message out to move it: it arrives at its destination as not yet received there. */
  take(id: string): StoredMessage | undefined {
    const message = this.messages.get(id);
    if (!message) return undefined;
    this.remove(id);
    const { inFlight: _, ...moved } = stored(message);
    return moved;
  }

  /** A receive recovered from the journal: counted, and in flight again while its timeout lasts. */
  countReceive(id: string, at: number, inFlight?: Omit<InFlight, 'receivedAt'>, now = Date.now()) {
    const message = this.messages.get(id);
    if (!message) return;
    message.receiveCount++;
    message.firstReceiveAt ??= at;
    if (!inFlight) return;
    message.receipt = inFlight.receipt;
    message.receivedAt = at;
    this.restoreVisibility(id, inFlight.visibleAt, now);
  }

  /** A visibility change recovered from the journal. */
  restoreVisibility(id: string, visibleAt: number, now = Date.now()) {
    const message = this.messages.get(id);
    if (!message || message.receipt === undefined) return;
    if (visibleAt > now) this.hide(message, 'inflight', visibleAt);
    else if (message.state === 'inflight') {
      this.hidden.delete(id);
      message.state = 'ready';
      this.returned.set(id, message);
    }
  }

  stored(now = Date.now()): StoredMessage[] {
    this.expire(now);
    return [...this.messages.values()].map(stored);
  }

  /** The visible messages, oldest first. */
  visible(now = Date.now()): StoredMessage[] {
    this.expire(now);
    this.reveal(now);
    return [...this.inOrder()].map(stored);
  }

  purge() {
    for (const id of [...this.messages.keys()]) this.remove(id);
  }

  private hide(message: Message, state: 'inflight' | 'delayed', visibleAt: number) {
    message.state = state;
    message.visibleAt = visibleAt;
    this.ready.delete(message.id);
    this.returned.delete(message.id);
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
        this.returned.set(message.id, message);
      } else if (message.visibleAt < next) next = message.visibleAt;
    }
    this.nextVisibleAt = next;
  }

  /** The visible messages in order of arrival: the ones never hidden merged with the few that came back. */
  private *inOrder(): Generator<Message> {
    const back = [...this.returned.values()].sort((a, b) => a.seq - b.seq);
    let next = 0;
    for (const message of this.ready.values()) {
      while (next < back.length && back[next]!.seq < message.seq) yield back[next++]!;
      yield message;
    }
    while (next < back.length) yield back[next++]!;
  }

  /** Up to `max` visible messages, each counted as received; those past maxReceiveCount go to the DLQ instead. */
  receiveNow(max: number, visibility: number, now = Date.now()): Received[] {
    this.expire(now);
    this.reveal(now);
    const got: Received[] = [];
    const redrive = this.redrivePolicy();
    for (const message of this.inOrder()) {
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
      message.receipt = receiptFor(this.name, message.id);
      message.receivedAt = now;
      this.hide(message, 'inflight', now + visibility * 1000);
      this.hooks.onReceive(this, message.id, { receipt: message.receipt, receivedAt: now, visibleAt: message.visibleAt });
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

  /**
   * Deletes by receipt handle; the id of the message deleted. A message already gone is no error, as
   * on SQS; nor is a handle of an earlier receive, which SQS answers with success without deleting
   * ("you must use the ReceiptHandle from the most recent time you received the message").
   */
  delete(receipt: string): string | undefined {
    const id = messageIdOf(receipt, this.name);
    if (this.messages.get(id)?.receipt !== receipt) return undefined;
    return this.remove(id) ? id : undefined;
  }

  /** Only the latest receive's handle, while that receive is in flight: past its timeout the message is not in flight, read or not. */
  changeVisibility(receipt: string, visibility: number, now = Date.now()) {
    this.reveal(now);
    const message = this.messages.get(messageIdOf(receipt, this.name));
    if (!message || message.state !== 'inflight' || message.receipt !== receipt) {
      throw new AwsError('MessageNotInflight', 'The message referred to is not in flight.', 'AWS.SimpleQueueService.MessageNotInflight');
    }
    if (now + visibility * 1000 - message.receivedAt! > MAX_VISIBILITY_SECONDS * 1000) {
      throw new AwsError('InvalidParameterValue', `Value ${visibility} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [${MAX_VISIBILITY_SECONDS} seconds]`);
    }
    this.hide(message, 'inflight', now + visibility * 1000);
    this.hooks.onVisibility(this, message.id, message.visibleAt);
    if (visibility === 0) this.reveal(now);
    // Visible now, or sooner than the waiting polls' wake-up: serve them or wake them earlier.
    this.serve(now);
  }

  /** Deletes the messages older than the retention period, as SQS does; scans only when the oldest may have expired. */
  private expire(now: number) {
    const limit = now - this.number('MessageRetentionPeriod') * 1000;
    if (this.oldestSentAt > limit) return;
    let oldest = Infinity;
    for (const message of [...this.messages.values()]) {
      if (message.sentAt <= limit) this.remove(message.id);
      else if (message.sentAt < oldest) oldest = message.sentAt;
    }
    this.oldestSentAt = oldest;
  }

  oldestAgeSeconds(now = Date.now()): number {
    this.expire(now);
    let oldest = now;
    for (const message of this.messages.values()) if (message.sentAt < oldest) oldest = message.sentAt;
    return Math.floor((now - oldest) / 1000);
  }
}
