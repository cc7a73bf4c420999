import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

/**
 * Placeholder until the model worker lands: it consumes nothing. Every record is reported as a
 * failure, so it returns to the queue and, after maxReceiveCount attempts, waits in the DLQ for
 * `redrive`. A prompt is never deleted without a result.
 */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  console.log(JSON.stringify({ level: 'warn', message: 'worker not implemented yet: records returned to the queue', records: event.Records.length }));
  return { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) };
}
