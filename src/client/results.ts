import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { ResultRecord } from '../contract.js';

/** The results queue of a stack, on AWS or on the local target. */
export interface ResultsSource {
  sqs: SQSClient;
  queueUrl: string;
}

const LONG_POLL_SECONDS = 20;

function parse(message: Message): ResultRecord | undefined {
  try {
    return JSON.parse(message.Body ?? '') as ResultRecord;
  } catch {
    return undefined;
  }
}

async function receive(source: ResultsSource, waitSeconds: number, visibility: number, signal?: AbortSignal): Promise<Message[]> {
  try {
    const { Messages = [] } = await source.sqs.send(new ReceiveMessageCommand({
      QueueUrl: source.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds, VisibilityTimeout: visibility,
    }), { abortSignal: signal });
    return Messages;
  } catch (err) {
    if (signal?.aborted) return [];
    throw err;
  }
}

/** Hands received messages back at once, for other consumers. */
export async function releaseMessages(sqs: SQSClient, queueUrl: string, messages: Message[]) {
  if (!messages.length) return;
  await sqs.send(new ChangeMessageVisibilityBatchCommand({
    QueueUrl: queueUrl,
    Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })),
  }));
}

async function remove(source: ResultsSource, messages: Message[]) {
  if (!messages.length) return;
  await source.sqs.send(new DeleteMessageBatchCommand({
    QueueUrl: source.queueUrl,
    Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
  }));
}

export interface FollowOptions {
  /** Read without deleting: results stay on the queue for other consumers. */
  keep: boolean;
  /** Stop after this many results. */
  count?: number;
  /** Stop after this long without a result. */
  idleMs?: number;
  signal?: AbortSignal;
  onResult: (result: ResultRecord | undefined, message: Message) => void;
}

/** Follows the results queue with long polling until count, idle or the signal ends it; returns how many were shown. */
export async function followResults(source: ResultsSource, options: FollowOptions): Promise<number> {
  let shown = 0;
  let lastResult = Date.now();
  // With --keep, a result comes back after its visibility timeout: show it once.
  const seen = new Set<string>();
  while (!options.signal?.aborted) {
    if (options.count !== undefined && shown >= options.count) break;
    const idleLeft = options.idleMs === undefined ? Infinity : options.idleMs - (Date.now() - lastResult);
    if (idleLeft <= 0) break;
    const wait = Math.max(0, Math.min(LONG_POLL_SECONDS, Math.ceil(idleLeft / 1000)));
    const messages = await receive(source, wait, options.keep ? 60 : 30, options.signal);
    const fresh = messages.filter((m) => !seen.has(m.MessageId!));
    const shownNow: Message[] = [];
    for (const message of fresh) {
      if (options.count !== undefined && shown >= options.count) break;
      options.onResult(parse(message), message);
      shownNow.push(message);
      shown++;
    }
    if (shownNow.length) lastResult = Date.now();
    if (options.keep) {
      for (const m of shownNow) seen.add(m.MessageId!);
      if (seen.size > 100_000) seen.clear();
    } else {
      await remove(source, shownNow);
      await releaseMessages(source.sqs, source.queueUrl, messages.filter((m) => !shownNow.includes(m)));
    }
  }
  return shown;
}
