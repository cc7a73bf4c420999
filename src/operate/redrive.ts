import { ListMessageMoveTasksCommand, ReceiveMessageCommand, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { releaseMessages } from '../client/results.js';
import { waitFor } from '../waiter.js';
import { queueArn } from '../provision/arns.js';
import { queueDepth, readQueue } from '../provision/queue.js';
import type { Ctx } from '../provision/types.js';

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
  const readTask = async (): Promise<MoveProgress> => {
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
  };
  return waitFor(ctx, {
    what: 'the message move task to finish',
    read: readTask,
    done: (p) => !['RUNNING', 'CANCELLING'].includes(p.status),
    intervalMs: 500, maxIntervalMs: 5_000, timeoutMs: 60 * 60_000,
    reference: 'SQS StartMessageMoveTask: at most 500 messages a second (MaxNumberOfMessagesPerSecond); an hour moves 1.8 million',
  });
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
