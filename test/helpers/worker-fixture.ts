import { BedrockRuntimeClient, ConverseCommand, ThrottlingException, type ConverseCommandInput } from '@aws-sdk/client-bedrock-runtime';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityBatchCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, vi } from 'vitest';
import type { ResultRecord } from '../../src/contract.js';

/** The worker's surroundings in unit tests: mocked AWS clients, its environment, a fixed Math.random, stdout captured. */
export const ARN = 'arn:aws:sqs:us-east-1:123456789012:demo-requests';
export const REQUESTS_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/demo-requests';
export const RESULTS_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/demo-results';
/** Queued a minute ago: the worker compares it with the clock (throttled requests wait at most a day). */
export const SENT = Date.now() - 60_000;

export function record(id: string, body: unknown, attempt = 1): SQSRecord {
  return {
    messageId: id, receiptHandle: `rh-${id}`, body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: String(attempt), SentTimestamp: String(SENT), SenderId: 'AROA', ApproximateFirstReceiveTimestamp: String(SENT + 5) },
    messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: ARN, awsRegion: 'us-east-1',
  };
}
export const event = (...records: SQSRecord[]) => ({ Records: records });
export const context = (ms = 60_000) => ({ getRemainingTimeInMillis: () => ms });
export const meta = { $metadata: { httpStatusCode: 400 } };
/** 700 ms for the model once the 2 s reserve is kept: too little for a 500 ms pause (Math.random is 0.5) and another call. */
export const NO_TIME_TO_PAUSE = 2_700;
export const throttling = () => new ThrottlingException({ message: 'Too many requests, please wait before trying again.', $metadata: { httpStatusCode: 429 } });

export const bedrock = mockClient(BedrockRuntimeClient);
export const sqs = mockClient(SQSClient);
export const dynamodb = mockClient(DynamoDBClient);
export const echo = (input: ConverseCommandInput) => ({
  output: { message: { role: 'assistant' as const, content: [{ text: `echo: ${input.messages![0]!.content![0]!.text}` }] } },
  stopReason: 'end_turn' as const,
  usage: { inputTokens: 5, outputTokens: 7, totalTokens: 12 },
  metrics: { latencyMs: 1 },
});

/** The results the worker published, by request id. */
export function published(): Map<string, ResultRecord> {
  const results = sqs.commandCalls(SendMessageBatchCommand).filter((c) => c.args[0].input.QueueUrl === RESULTS_URL)
    .flatMap((c) => c.args[0].input.Entries!.map((e) => JSON.parse(e.MessageBody!) as ResultRecord));
  return new Map(results.map((r) => [r.id, r]));
}

/** Registers the mocks and environment of every worker test (call at the top of a test file). */
export function useWorkerFixture() {
  beforeEach(() => {
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
      BQ_STACK_NAME: 'demo', BQ_RESULTS_QUEUE_URL: RESULTS_URL, BQ_MODEL_ID: 'global.anthropic.claude-sonnet-4-6', BQ_DEFAULT_MAX_TOKENS: '1024',
      BQ_RESULTS_TABLE: 'demo-results', BQ_RESULTS_TTL_SECONDS: '604800',
  });
  delete process.env.BQ_DEFAULT_TEMPERATURE;
  bedrock.reset();
  sqs.reset();
  dynamodb.reset();
  dynamodb.on(PutItemCommand).resolves({});
  bedrock.on(ConverseCommand).callsFake(echo);
  sqs.on(SendMessageBatchCommand).callsFake((input) => ({ Successful: input.Entries.map((e: { Id: string }) => ({ Id: e.Id, MessageId: `r-${e.Id}`, MD5OfMessageBody: '' })), Failed: [] }));
  sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
  vi.spyOn(Math, 'random').mockReturnValue(0.5);
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });

  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });
}


/** The worker's log lines: one JSON document per write to stdout. */
export const logLines = () => vi.mocked(process.stdout.write).mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
