import { randomBytes } from 'node:crypto';
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
  /** While it is in flight: so that a restart keeps it invisible, and its receipt handle valid, until its timeout ends. */
  inFlight?: InFlight;
}

export interface InFlight {
  receipt: string;
  receivedAt: number;
  visibleAt: number;
}

export interface Message extends Omit<StoredMessage, 'inFlight'> {
  state: 'ready' | 'inflight' | 'delayed';
  /** When an in-flight or delayed message becomes visible. */
  visibleAt: number;
  /** The handle of the latest receive: only it deletes the message or changes its visibility. */
  receipt?: string;
  receivedAt?: number;
  /** Order of arrival in this queue: how visible messages are served (several share one sentAt in a batch). */
  seq: number;
}

/** SQS's bound on a message's visibility timeout, counted from the receive (ChangeMessageVisibility). */
export const MAX_VISIBILITY_SECONDS = 43_200;

export interface Received {
  message: StoredMessage;
  receipt: string;
}

/** Receipt handles name the queue, the message and the receive: a handle of another queue, or of an earlier receive, is told apart. */
export function receiptFor(queue: string, id: string): string {
  return Buffer.from(`${queue}/${id}:${randomBytes(9).toString('base64url')}`).toString('base64url');
}

/** The message a receipt handle of `queue` names; a handle that is not one of this queue's is invalid, as on SQS. */
export function messageIdOf(receipt: string, queue: string): string {
  const decoded = Buffer.from(receipt, 'base64url').toString('utf8');
  const match = /^(.+)\/([0-9a-f-]{36}):[\w-]+$/.exec(decoded);
  if (!match || match[1] !== queue) throw new AwsError('ReceiptHandleIsInvalid', `The input receipt handle "${receipt}" is not a valid receipt handle.`);
  return match[2]!;
}

/** What the journal keeps of a message, its receive included while it is in flight. */
export function stored(message: Message): StoredMessage {
  const { id, body, attributes, sentAt, delayUntil, receiveCount, firstReceiveAt, state, receipt, receivedAt, visibleAt } = message;
  return {
    id, body, ...(attributes ? { attributes } : {}), sentAt, ...(delayUntil ? { delayUntil } : {}), receiveCount, ...(firstReceiveAt ? { firstReceiveAt } : {}),
    ...(state === 'inflight' ? { inFlight: { receipt: receipt!, receivedAt: receivedAt!, visibleAt } } : {}),
  };
}
