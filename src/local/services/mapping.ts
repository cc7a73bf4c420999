import type { Message } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { SqsCall } from './sqs-dynamodb-server.js';

export type Handler = (event: SQSEvent, context: { getRemainingTimeInMillis: () => number }) => Promise<SQSBatchResponse>;

export interface MappingOptions {
  /** How the poller speaks to SQS: the protocol itself, as Lambda's pollers are AWS's and not the SDK. */
  sqs: SqsCall;
  queueUrl: string;
  queueArn: string;
  region: string;
  batchSize: number;
  concurrency: number;
  /** False starts it disabled (a stack paused before a restart). */
  enabled?: boolean;
  timeoutMs: number;
  handler: Handler;
  /** How long one receive waits for messages; short, so pause and concurrency changes act quickly. */
  waitSeconds?: number;
}

export interface MappingStatus {
  state: 'Enabled' | 'Disabled';
  concurrency: number;
  batchSize: number;
  invocations: number;
  inFlight: number;
}

function toRecord(message: Message, options: MappingOptions): SQSRecord {
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'local', ApproximateFirstReceiveTimestamp: String(Date.now()), ...message.Attributes } as SQSRecord['attributes'],
    messageAttributes: Object.fromEntries(Object.entries(message.MessageAttributes ?? {}).map(([name, a]) => [name, {
      dataType: a.DataType ?? 'String', stringValue: a.StringValue, stringListValues: [], binaryListValues: [],
    }])),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn,
    awsRegion: options.region,
  };
}

/**
 * The Lambda SQS event source mapping, locally: at most `concurrency` invocations at once, each
 * with up to `batchSize` records; records not reported in batchItemFailures are deleted, and a
 * thrown error or a timeout leaves the whole batch on the queue, as Lambda does.
 */
export class MappingEmulator {
  private enabled: boolean;
  private stopping = false;
  private lanes = new Set<number>();
  private running = new Set<Promise<void>>();
  private invocations = 0;
  private inFlight = 0;
  private peakInFlight = 0;

  constructor(private readonly options: MappingOptions) {
    this.enabled = options.enabled ?? true;
  }

  start() {
    this.fill();
  }

  status(): MappingStatus {
    return { state: this.enabled ? 'Enabled' : 'Disabled', concurrency: this.options.concurrency, batchSize: this.options.batchSize, invocations: this.invocations, inFlight: this.inFlight };
  }

  /** The most invocations in flight at once since the last call (CloudWatch's Maximum of ConcurrentExecutions). */
  takePeakInFlight(): number {
    const peak = this.peakInFlight;
    this.peakInFlight = this.inFlight;
    return peak;
  }

  setConcurrency(concurrency: number) {
    this.options.concurrency = concurrency;
    this.fill();
  }

  /**
   * Polls are never aborted: a receive cut off after the server answered would hide its messages for
   * the whole visibility timeout. As on Lambda, a batch already received is processed, then the lane
   * stops; handing it back instead would count a receive per lane and push it towards the DLQ.
   */
  async setEnabled(enabled: boolean) {
    this.enabled = enabled;
    this.fill();
    // Disabling, then Disabled: answer once no lane polls any more, so nothing is consumed after.
    if (!enabled) await Promise.all(this.running);
  }

  /** Stops polling and waits for the invocations in flight to finish. */
  async stop() {
    this.stopping = true;
    await Promise.all(this.running);
  }

  private fill() {
    if (!this.enabled || this.stopping) return;
    for (let lane = 0; lane < this.options.concurrency; lane++) {
      if (this.lanes.has(lane)) continue;
      this.lanes.add(lane);
      const run = this.lane(lane).finally(() => {
        this.lanes.delete(lane);
        this.running.delete(run);
      });
      this.running.add(run);
    }
  }

  private laneWanted(lane: number) {
    return this.enabled && !this.stopping && lane < this.options.concurrency;
  }

  private async receive(lane: number): Promise<Message[]> {
    try {
      const received = await this.options.sqs<{ Messages?: Message[] }>('ReceiveMessage', {
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: this.options.batchSize,
        WaitTimeSeconds: this.options.waitSeconds ?? 2,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      });
      return received.Messages ?? [];
    } catch (err) {
      if (this.laneWanted(lane)) {
        console.error(`local mapping: receive failed (${(err as Error).message}); retrying`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      return [];
    }
  }

  /**
   * One lane: one invocation at a time. Like Lambda's pollers, it fetches the next batch while the
   * current one runs, so no time passes between invocations; a batch already received is processed.
   */
  private async lane(lane: number) {
    let next: Promise<Message[]> | undefined;
    while (this.laneWanted(lane)) {
      const messages = await (next ?? this.receive(lane));
      next = undefined;
      if (!messages.length) continue;
      if (this.laneWanted(lane)) next = this.receive(lane);
      await this.invoke(messages);
    }
    const left = next ? await next : [];
    if (left.length) await this.invoke(left);
  }

  private async invoke(messages: Message[]) {
    const records = messages.map((m) => toRecord(m, this.options));
    const deadline = Date.now() + this.options.timeoutMs;
    const context = { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
    this.invocations++;
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    let timer: NodeJS.Timeout | undefined;
    try {
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.options.timeoutMs)));
      const response = await Promise.race([this.options.handler({ Records: records }, context), timedOut]);
      if (response === 'timeout') {
        console.error(`local mapping: the invocation timed out after ${this.options.timeoutMs} ms; its ${records.length} records stay on the queue`);
        return;
      }
      const failures = response?.batchItemFailures ?? [];
      // An empty or missing itemIdentifier fails the whole batch, as on Lambda.
      if (failures.some((f) => !f.itemIdentifier)) return;
      const failed = new Set(failures.map((f) => f.itemIdentifier));
      const done = messages.filter((m) => !failed.has(m.MessageId!));
      if (done.length) {
        await this.options.sqs('DeleteMessageBatch', {
          QueueUrl: this.options.queueUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        });
      }
    } catch (err) {
      console.error(`local mapping: the handler threw (${(err as Error).message}); its ${records.length} records stay on the queue`);
    } finally {
      clearTimeout(timer);
      this.inFlight--;
    }
  }
}
