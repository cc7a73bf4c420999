import { AccessDeniedException, ConverseCommand, InternalServerException, ThrottlingException, ValidationException, type ConverseCommandInput } from '@aws-sdk/client-bedrock-runtime';
import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityBatchCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it, vi } from 'vitest';
import type { ResultRecord } from '../../src/contract.js';
import { handler } from '../../src/worker/index.js';
import { THROTTLED_WAIT_MS } from '../../src/governor/autopilot.js';
import { throttlePauseMs } from '../../src/worker/record.js';
import { backoffSeconds, queueUrlOf, serializeResult, throttleDelaySeconds } from '../../src/worker/publish.js';
import { ARN, bedrock, context, dynamodb, echo, event, logLines, meta, NO_TIME_TO_PAUSE, published, record, REQUESTS_URL, RESULTS_URL, SENT, sqs, throttling, useWorkerFixture } from '../helpers/worker-fixture.js';

useWorkerFixture();

describe('worker', () => {
  it('answers every request with one published result and deletes them all', async () => {
    const response = await handler(event(
      record('m1', { prompt: 'first', system: 'be brief', maxTokens: 50, temperature: 0.2 }),
      record('m2', { prompt: 'second', metadata: { user: 'u-1' } }),
    ), context());
    expect(response).toEqual({ batchItemFailures: [] });
    expect(bedrock.commandCalls(ConverseCommand).map((c) => c.args[0].input)).toEqual([
      { modelId: 'global.anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'first' }] }], system: [{ text: 'be brief' }], inferenceConfig: { maxTokens: 50, temperature: 0.2 } },
      { modelId: 'global.anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'second' }] }], inferenceConfig: { maxTokens: 1024 } },
    ]);
    const batches = sqs.commandCalls(SendMessageBatchCommand);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.args[0].input.QueueUrl).toBe(RESULTS_URL);
    const results = published();
    expect(results.get('m2')).toMatchObject({
      id: 'm2', status: 'ok', output: 'echo: second', stopReason: 'end_turn', usage: { inputTokens: 5, outputTokens: 7, totalTokens: 12 },
      model: 'global.anthropic.claude-sonnet-4-6', attempt: 1, metadata: { user: 'u-1' }, queuedAt: new Date(SENT).toISOString(),
    });
    expect(typeof results.get('m1')!.latencyMs).toBe('number');
    expect(Date.parse(results.get('m1')!.completedAt)).toBeGreaterThan(SENT);
    expect(sqs.commandCalls(ChangeMessageVisibilityBatchCommand)).toEqual([]);
  });

  it('uses the stack default temperature when the request gives none', async () => {
    process.env.BQ_DEFAULT_TEMPERATURE = '0.7';
    await handler(event(record('m1', { prompt: 'p' })), context());
    expect(bedrock.commandCalls(ConverseCommand)[0]!.args[0].input.inferenceConfig).toEqual({ maxTokens: 1024, temperature: 0.7 });
  });

  it('sorts a mixed batch into results, and retries with backoff only what can succeed later', async () => {
    bedrock.on(ConverseCommand).callsFake((input: ConverseCommandInput) => {
      const prompt = input.messages![0]!.content![0]!.text;
      if (prompt === 'throttled') throw new ThrottlingException({ message: 'Too many requests, please wait before trying again.', ...meta });
      if (prompt === 'server') throw new InternalServerException({ message: 'The server encountered an internal error.', ...meta });
      if (prompt === 'invalid') throw new ValidationException({ message: 'The provided model identifier is invalid.', ...meta });
      return echo(input);
    });
    const response = await handler(event(
      record('ok', { prompt: 'fine' }),
      record('notjson', '{"prompt": "unterminated'),
      record('schema', { system: 'no prompt here' }),
      record('throttled', { prompt: 'throttled' }, 1),
      record('server', { prompt: 'server' }, 3),
      record('invalid', { prompt: 'invalid' }),
    ), context(NO_TIME_TO_PAUSE));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'server' }]);
    const results = published();
    expect([...results.keys()].sort()).toEqual(['invalid', 'notjson', 'ok', 'schema']);
    expect(results.get('ok')!.status).toBe('ok');
    expect(results.get('notjson')).toMatchObject({ status: 'error', error: { code: 'InvalidRequest', message: expect.stringMatching(/^the body is not JSON/) } });
    expect(results.get('schema')).toMatchObject({ status: 'error', error: { code: 'InvalidRequest', message: '"prompt" is required and must be a string' } });
    expect(results.get('invalid')).toMatchObject({ status: 'error', error: { code: 'ValidationException', message: 'The provided model identifier is invalid.' } });
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(4);
    expect(sqs.commandCalls(ChangeMessageVisibilityBatchCommand).map((c) => c.args[0].input)).toEqual([{
      QueueUrl: REQUESTS_URL,
      Entries: [{ Id: '0', ReceiptHandle: 'rh-server', VisibilityTimeout: 6 }],
    }]);
    // Throttling does not count towards maxReceiveCount: the request goes back as a delayed copy with its id.
    const requeued = sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input).filter((i) => i.QueueUrl === REQUESTS_URL);
    expect(requeued).toEqual([{
      QueueUrl: REQUESTS_URL,
      Entries: [{
        Id: '0', MessageBody: JSON.stringify({ prompt: 'throttled' }), DelaySeconds: 2,
        MessageAttributes: {
          'bq-request-id': { DataType: 'String', StringValue: 'throttled' },
          'bq-queued-at': { DataType: 'Number', StringValue: String(SENT) },
          'bq-throttles': { DataType: 'Number', StringValue: '1' },
        },
      }],
    }]);
  });

  it('answers a re-queued copy under the id the API gave, counting its throttled attempts', async () => {
    const copy = record('copy-message-id', { prompt: 'again' }, 1);
    copy.messageAttributes = {
      'bq-request-id': { dataType: 'String', stringValue: 'original-id', stringListValues: [], binaryListValues: [] },
      'bq-queued-at': { dataType: 'Number', stringValue: String(SENT - 60_000), stringListValues: [], binaryListValues: [] },
      'bq-throttles': { dataType: 'Number', stringValue: '3', stringListValues: [], binaryListValues: [] },
    };
    await handler(event(copy), context());
    expect(published().get('original-id')).toMatchObject({ status: 'ok', attempt: 4, queuedAt: new Date(SENT - 60_000).toISOString() });
  });

  it('stops re-queueing a request throttled for a day: it takes the ordinary retries, towards the DLQ', async () => {
    bedrock.on(ConverseCommand).rejects(new ThrottlingException({ message: 'Too many requests, please wait before trying again.', ...meta }));
    const old = record('copy', { prompt: 'p' }, 1);
    old.messageAttributes = {
      'bq-request-id': { dataType: 'String', stringValue: 'original', stringListValues: [], binaryListValues: [] },
      'bq-queued-at': { dataType: 'Number', stringValue: String(Date.now() - 24 * 3600_000 - 1), stringListValues: [], binaryListValues: [] },
      'bq-throttles': { dataType: 'Number', stringValue: '4000', stringListValues: [], binaryListValues: [] },
    };
    const fresh = record('fresh', { prompt: 'p' }, 1);
    fresh.messageAttributes = { ...old.messageAttributes, 'bq-request-id': { dataType: 'String', stringValue: 'fresh', stringListValues: [], binaryListValues: [] }, 'bq-queued-at': { dataType: 'Number', stringValue: String(Date.now() - 23 * 3600_000), stringListValues: [], binaryListValues: [] } };
    const response = await handler(event(old, fresh), context(NO_TIME_TO_PAUSE));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'copy' }]);
    expect(sqs.commandCalls(SendMessageBatchCommand).flatMap((c) => c.args[0].input.Entries!.map((e) => e.MessageAttributes?.['bq-request-id']?.StringValue))).toEqual(['fresh']);
    expect(sqs.commandCalls(ChangeMessageVisibilityBatchCommand)[0]!.args[0].input.Entries).toEqual([{ Id: '0', ReceiptHandle: 'rh-copy', VisibilityTimeout: expect.any(Number) }]);
  });

  it('tries a throttled call again in the same invocation after a short pause, counting every attempt', async () => {
    bedrock.on(ConverseCommand).rejectsOnce(throttling()).rejectsOnce(throttling()).callsFake(echo);
    const started = Date.now();
    const response = await handler(event(record('patient', { prompt: 'p' })), context());
    expect(response.batchItemFailures).toEqual([]);
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * throttlePauseMs(() => 0.5) - 5);
    expect(published().get('patient')).toMatchObject({ status: 'ok', attempt: 3 });
    expect(sqs.commandCalls(SendMessageBatchCommand).filter((c) => c.args[0].input.QueueUrl === REQUESTS_URL)).toEqual([]);
  });

  it('re-queues a throttled request once the invocation has no time for another pause, with every throttled call counted', async () => {
    bedrock.on(ConverseCommand).rejects(throttling());
    // 1,600 ms for the model: calls at 0, 500 and 1,000 ms, then too little left for a pause and a call.
    const response = await handler(event(record('busy', { prompt: 'p' })), context(3_600));
    expect(response.batchItemFailures).toEqual([]);
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(3);
    const [copy] = sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input).filter((i) => i.QueueUrl === REQUESTS_URL);
    expect(copy!.Entries![0]!.MessageAttributes!['bq-throttles']).toEqual({ DataType: 'Number', StringValue: '3' });
    expect(copy!.Entries![0]!.DelaySeconds).toBe(2);
    expect(logLines().at(-1)).toMatchObject({ id: 'busy', status: 'requeued', attempt: 3, errorCode: 'ThrottlingException', throttledCalls: 3 });
  });

  it('waits at most THROTTLED_WAIT_MS in one invocation, however long the function may run', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    bedrock.on(ConverseCommand).rejects(throttling());
    const pending = handler(event(record('long', { prompt: 'p' })), context(900_000));
    await vi.runAllTimersAsync();
    await pending;
    const calls = bedrock.commandCalls(ConverseCommand).length;
    expect(calls).toBe(Math.floor(THROTTLED_WAIT_MS / throttlePauseMs(() => 0.5)) + 1);
    const [copy] = sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input).filter((i) => i.QueueUrl === REQUESTS_URL);
    expect(copy!.Entries![0]!.MessageAttributes!['bq-throttles']!.StringValue).toBe(String(calls));
  });

  it('falls back to an ordinary retry when a throttled request cannot be re-queued', async () => {
    bedrock.on(ConverseCommand).rejects(new ThrottlingException({ message: 'Too many requests, please wait before trying again.', ...meta }));
    sqs.on(SendMessageBatchCommand).rejects(Object.assign(new Error('socket hang up'), { name: 'NetworkingError' }));
    const response = await handler(event(record('t', { prompt: 'p' })), context(NO_TIME_TO_PAUSE));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 't' }]);
    expect(sqs.commandCalls(ChangeMessageVisibilityBatchCommand)).toHaveLength(1);
  });

  it('publishes a final error result on the last receive before SQS moves the request to the DLQ, and still reports it failed', async () => {
    process.env.BQ_MAX_RECEIVE_COUNT = '5';
    try {
      bedrock.on(ConverseCommand).rejects(new AccessDeniedException({ message: 'You don\'t have access to the model with the specified model ID.', $metadata: { httpStatusCode: 403 } }));
      const response = await handler(event(record('early', { prompt: 'p' }, 4), record('last', { prompt: 'p', metadata: { user: 'u-1' } }, 5)), context());
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'early' }, { itemIdentifier: 'last' }]);
      const results = published();
      expect([...results.keys()]).toEqual(['last']);
      expect(results.get('last')).toMatchObject({
        id: 'last', status: 'error', attempt: 5, final: true, deadLetterQueue: 'demo-requests-dlq', model: 'global.anthropic.claude-sonnet-4-6',
        error: { code: 'AccessDeniedException', message: 'You don\'t have access to the model with the specified model ID.' },
      });
    } finally {
      delete process.env.BQ_MAX_RECEIVE_COUNT;
    }
  });

  it('spreads the attempts of an error an operator fixes (AccessDenied) over minutes, not seconds', async () => {
    bedrock.on(ConverseCommand).rejects(new AccessDeniedException({ message: 'You don\'t have access to the model with the specified model ID.', $metadata: { httpStatusCode: 403 } }));
    await handler(event(record('a1', { prompt: 'p' }, 1), record('a3', { prompt: 'p' }, 3)), context());
    expect(sqs.commandCalls(ChangeMessageVisibilityBatchCommand)[0]!.args[0].input.Entries!.map((e) => e.VisibilityTimeout)).toEqual([15, 60]);
  });

  it('retries a request whose result could not be published: a result is never lost', async () => {
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [{ Id: '0', MessageId: 'r0', MD5OfMessageBody: '' }],
      Failed: [{ Id: '1', SenderFault: false, Code: 'InternalError', Message: 'We encountered an internal error.' }],
    });
    const response = await handler(event(record('a', { prompt: 'a' }), record('b', { prompt: 'b' })), context());
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'b' }]);
  });

  it('stores each result under its request id, the queue\'s JSON byte for byte, with a TTL and a write that never replaces an ok', async () => {
    const before = Math.floor(Date.now() / 1000);
    await handler(event(record('s1', { prompt: 'stored' })), context());
    const puts = dynamodb.commandCalls(PutItemCommand).map((c) => c.args[0].input);
    expect(puts).toHaveLength(1);
    const { Item, ...rest } = puts[0]!;
    expect(rest).toEqual({
      TableName: 'demo-results',
      // The replaced item's listeners: the WebSocket connections the record is pushed to.
      ReturnValues: 'ALL_OLD',
      ConditionExpression: 'attribute_not_exists(#id) OR attribute_not_exists(#status) OR #status <> :ok',
      ExpressionAttributeNames: { '#id': 'id', '#status': 'status' },
      ExpressionAttributeValues: { ':ok': { S: 'ok' } },
    });
    const queued = sqs.commandCalls(SendMessageBatchCommand)[0]!.args[0].input.Entries![0]!.MessageBody;
    expect(Item).toMatchObject({ id: { S: 's1' }, status: { S: 'ok' }, record: { S: queued } });
    const expires = Number(Item!.expiresAt!.N);
    expect(expires - before).toBeGreaterThanOrEqual(604800);
    expect(expires - before).toBeLessThanOrEqual(604801);
  });

  it('publishes what is stored when the condition fails (an ok is there already), and retries a request whose store write kept failing', async () => {
    const storedOk = JSON.stringify({ id: 'dup', status: 'ok', output: 'the first answer', model: 'm', latencyMs: 1, attempt: 1, completedAt: '2026-12-03T00:00:00.000Z' });
    dynamodb.on(PutItemCommand, { Item: { id: { S: 'dup' } } } as never).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
    dynamodb.on(GetItemCommand, { Key: { id: { S: 'dup' } } } as never).resolves({ Item: { id: { S: 'dup' }, status: { S: 'ok' }, record: { S: storedOk } } });
    dynamodb.on(PutItemCommand, { Item: { id: { S: 'busy' } } } as never).rejects(new ProvisionedThroughputExceededException({ message: 'The level of configured provisioned throughput for the table was exceeded.', $metadata: {} }));
    const response = await handler(event(record('dup', { prompt: 'a' }), record('busy', { prompt: 'b' }), record('fine', { prompt: 'c' })), context());
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'busy' }]);
    // Every reader sees one answer: the queue gets the stored one, not this call's.
    expect(published().get('dup')!.output).toBe('the first answer');
    expect(published().has('busy')).toBe(false);
    // The store was tried three times before the request was given back.
    expect(dynamodb.commandCalls(PutItemCommand).filter((c) => c.args[0].input.Item!.id!.S === 'busy')).toHaveLength(3);
  });

  it('stores a record too large for one DynamoDB item with its output cut and "truncated": true; the queue gets all of it', async () => {
    bedrock.on(ConverseCommand).resolves({ output: { message: { role: 'assistant', content: [{ text: 'x'.repeat(600_000) }] } }, stopReason: 'max_tokens', usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }, metrics: { latencyMs: 1 } });
    await handler(event(record('big', { prompt: 'long answer' })), context());
    expect(published().get('big')!.output).toHaveLength(600_000);
    const stored = dynamodb.commandCalls(PutItemCommand)[0]!.args[0].input.Item!.record!.S!;
    expect(Buffer.byteLength(stored)).toBeLessThanOrEqual(380_000);
    expect(JSON.parse(stored)).toMatchObject({ id: 'big', status: 'ok', truncated: true });
  });

  it('retries every record of a batch whose publishing call failed', async () => {
    sqs.on(SendMessageBatchCommand).rejects(Object.assign(new Error('socket hang up'), { name: 'NetworkingError' }));
    const response = await handler(event(record('a', { prompt: 'a' }), record('b', { prompt: 'b' })), context());
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'a' }, { itemIdentifier: 'b' }]);
  });

  it('does not start a model call that cannot finish in the time left', async () => {
    const response = await handler(event(record('late', { prompt: 'p' })), context(2_100));
    expect(bedrock.commandCalls(ConverseCommand)).toEqual([]);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'late' }]);
  });

  it('aborts a model call that outlives the invocation and reports the record as failed', async () => {
    bedrock.reset();
    // The model never answers; only the worker's abort signal ends the call.
    const hang = (_command: unknown, options: { abortSignal: AbortSignal }) => new Promise((_resolve, reject) => {
      options.abortSignal.addEventListener('abort', () => reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' })));
    });
    bedrock.send.callsFake(hang as unknown as Parameters<typeof bedrock.send.callsFake>[0]);
    const started = Date.now();
    const response = await handler(event(record('slow', { prompt: 'p' })), context(2_600));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'slow' }]);
    expect(published().size).toBe(0);
  });

  it('reports every record as failed, without throwing, when its configuration is missing', async () => {
    delete process.env.BQ_RESULTS_QUEUE_URL;
    const response = await handler(event(record('a', { prompt: 'a' })), context());
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'a' }]);
    expect(bedrock.commandCalls(ConverseCommand)).toEqual([]);
  });

  const hostile = {
    'url-encoding specials': 'a&b=c+d%20e%zz?x=1&y=2',
    quotes: `she said "hi" and 'bye' \\ back\\slash`,
    newlines: 'line 1\nline 2\r\nline 3\ttab',
    emoji: 'rocket 🚀 family 👨‍👩‍👧‍👦 flag 🇫🇷',
    'right-to-left': 'مرحبا بالعالم — שלום עולם',
    '200 KB': 'x&%+= '.repeat(Math.ceil((200 * 1024) / 6)).slice(0, 200 * 1024),
  };
  for (const [what, prompt] of Object.entries(hostile)) {
    it(`passes a prompt with ${what} to the model byte for byte`, async () => {
      await handler(event(record('h', { prompt, metadata: { 'clé': 'välue & more' } })), context());
      expect(bedrock.commandCalls(ConverseCommand)[0]!.args[0].input.messages![0]!.content![0]!.text).toBe(prompt);
      const result = published().get('h')!;
      expect(result.output).toBe(`echo: ${prompt}`);
      expect(result.metadata).toEqual({ 'clé': 'välue & more' });
    });
  }

  it('processes the records of a batch concurrently, up to its bound', async () => {
    process.env.BQ_RECORD_CONCURRENCY = '2';
    let inFlight = 0;
    let most = 0;
    bedrock.on(ConverseCommand).callsFake(async (input: ConverseCommandInput) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      return echo(input);
    });
    await handler(event(...['a', 'b', 'c', 'd', 'e'].map((id) => record(id, { prompt: id }))), context());
    delete process.env.BQ_RECORD_CONCURRENCY;
    expect(most).toBe(2);
    expect(published().size).toBe(5);
  });

  it('logs one line per request without the prompt or the output', async () => {
    await handler(event(record('m1', { prompt: 'a secret prompt' })), context());
    const lines = logLines();
    expect(lines).toEqual([expect.objectContaining({ level: 'info', message: 'request', id: 'm1', status: 'ok', attempt: 1, latencyMs: expect.any(Number), inputTokens: 5, outputTokens: 7 })]);
    expect(JSON.stringify(lines)).not.toContain('secret');
  });
});

describe('worker helpers', () => {
  it('backs off exponentially with jitter, from seconds to at most five minutes', () => {
    expect([1, 2, 3, 4].map((a) => backoffSeconds(a, () => 0))).toEqual([1, 2, 4, 8]);
    expect([1, 2, 3, 4].map((a) => backoffSeconds(a, () => 1))).toEqual([2, 4, 8, 16]);
    expect(backoffSeconds(20, () => 1)).toBe(300);
  });

  it('brings throttled requests back after 1 or 2 s the first time, then 1 to 3 s, never longer', () => {
    expect([0, 0.49, 0.5, 0.999].map((r) => throttleDelaySeconds(1, () => r))).toEqual([1, 1, 2, 2]);
    expect([0, 0.34, 0.67, 0.999, 1].map((r) => throttleDelaySeconds(2, () => r))).toEqual([1, 2, 3, 3, 3]);
    expect(Math.max(...Array.from({ length: 1000 }, (_, i) => throttleDelaySeconds(500, () => i / 1000)))).toBe(3);
  });

  it('derives the queue URL from the event source ARN', () => {
    expect(queueUrlOf(ARN)).toBe(REQUESTS_URL);
    expect(queueUrlOf('arn:aws-cn:sqs:cn-north-1:123456789012:q')).toBe('https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q');
  });

  it('cuts and flags an output that would not fit in one SQS message', () => {
    const result: ResultRecord = { id: 'x', status: 'ok', output: '€'.repeat(600_000), model: 'm', latencyMs: 1, attempt: 1, completedAt: 'now' };
    const body = serializeResult(result);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(1024 * 1024);
    expect(JSON.parse(body)).toMatchObject({ outputTruncated: true });
    expect(serializeResult({ ...result, output: 'short' })).toBe(JSON.stringify({ ...result, output: 'short' }));
  });
});
