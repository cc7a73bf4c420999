/**
 * Results pushed to WebSocket listeners: the frames (one with the record's own bytes, or numbered
 * parts), the PostToConnection calls (aws-sdk-client-mock; API Gateway's error names), and the
 * worker posting each stored record to the connections the store's PutItem returned and to the
 * socket a request came from.
 */
import { ApiGatewayManagementApiClient, GoneException, LimitExceededException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES, joinParts, resultFrames } from '../../src/stream-contract.js';
import { handler } from '../../src/worker/index.js';
import { pushResults } from '../../src/worker/push.js';
import { bedrock, context, dynamodb, event, record, useWorkerFixture } from '../helpers/worker-fixture.js';

useWorkerFixture();
const management = mockClient(ApiGatewayManagementApiClient);
const ID = '2c9de0d2-25c7-4397-99d4-5b9d4d70fcfe';
const posted = () => management.commandCalls(PostToConnectionCommand).map((c) => ({ to: c.args[0].input.ConnectionId, frame: JSON.parse(Buffer.from(c.args[0].input.Data as Uint8Array).toString()) as Record<string, unknown> }));
const noSleep = async () => undefined;

/** A request sent over a socket: the API's id and the connection in its attributes. */
function fromSocket(messageId: string, body: unknown, connection: string, attempt = 1) {
  const r = record(messageId, body, attempt);
  r.messageAttributes = { 'bq-request-id': { stringValue: ID, dataType: 'String' }, 'bq-connection-id': { stringValue: connection, dataType: 'String' } } as typeof r.messageAttributes;
  return r;
}

/** ConverseStream's answer: the pieces as contentBlockDelta events, `gapMs` apart, then the stop and the usage. */
function streamOf(pieces: string[], gapMs = 0) {
  return {
    stream: (async function* () {
      yield { messageStart: { role: 'assistant' as const } };
      for (const text of pieces) {
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
        yield { contentBlockDelta: { contentBlockIndex: 0, delta: { text } } };
      }
      yield { contentBlockStop: { contentBlockIndex: 0 } };
      yield { messageStop: { stopReason: 'end_turn' as const } };
      yield { metadata: { usage: { inputTokens: 3, outputTokens: pieces.length, totalTokens: 3 + pieces.length }, metrics: { latencyMs: 1 } } };
    })(),
  };
}

beforeEach(() => management.reset());

describe('result frames', () => {
  it('carry a record that fits in one message byte for byte', () => {
    const stored = '{"id":"x","status":"ok","output":"  spaced \\u00e9 🚀"}';
    expect(resultFrames(ID, stored)).toEqual([`{"type":"result","id":"${ID}","record":${stored}}`]);
  });

  it('split a record near DynamoDB\'s 400 KB into numbered parts, each within API Gateway\'s 128 KB, that join to its exact text', () => {
    const stored = JSON.stringify({ id: ID, status: 'ok', output: 'é"\\🚀 line\n'.repeat(25_000) });
    const frames = resultFrames(ID, stored);
    expect(frames.length).toBeGreaterThan(2);
    for (const frame of frames) expect(Buffer.byteLength(frame)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    const parts = frames.map((f) => JSON.parse(f) as { type: string; id: string; part: number; parts: number; data: string });
    expect(parts.map((p) => [p.type, p.id, p.part, p.parts])).toEqual(parts.map((_, i) => ['result', ID, i + 1, frames.length]));
    expect(joinParts(parts.slice(0, -1))).toBeUndefined();
    expect(joinParts([...parts].reverse())).toBe(stored);
  });
});

describe('pushResults', () => {
  it('posts every frame to every connection; a gone connection is dropped, a throttled post is tried again', async () => {
    management.on(PostToConnectionCommand, { ConnectionId: 'gone=' }).rejects(new GoneException({ message: '', $metadata: { httpStatusCode: 410 } }));
    management.on(PostToConnectionCommand, { ConnectionId: 'busy=' })
      .rejectsOnce(new LimitExceededException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 429 } }))
      .resolves({});
    management.on(PostToConnectionCommand, { ConnectionId: 'fine=' }).resolves({});
    const tally = await pushResults(new ApiGatewayManagementApiClient({ region: 'us-east-1' }), [{ id: ID, stored: '{"id":"x"}', connections: ['gone=', 'busy=', 'fine=', 'fine='] }], noSleep);
    expect(tally).toEqual({ frames: 2, gone: 1, failed: 0 });
    expect(posted().map((p) => p.to).sort()).toEqual(['busy=', 'busy=', 'fine=', 'gone=']);
    expect(posted().find((p) => p.to === 'fine=')!.frame).toEqual({ type: 'result', id: ID, record: { id: 'x' } });
  });

  it('stops posting the parts of a record to a connection once it is gone', async () => {
    management.on(PostToConnectionCommand).rejects(new GoneException({ message: '', $metadata: { httpStatusCode: 410 } }));
    const big = JSON.stringify({ output: 'x'.repeat(300_000) });
    expect(await pushResults(new ApiGatewayManagementApiClient({ region: 'us-east-1' }), [{ id: ID, stored: big, connections: ['c='] }], noSleep)).toEqual({ frames: 0, gone: 1, failed: 0 });
    expect(posted()).toHaveLength(1);
  });
});

describe('the worker pushes what it stored', () => {
  beforeEach(() => {
    process.env.BQ_CONNECTIONS_ENDPOINT = 'https://abc123.execute-api.us-east-1.amazonaws.com/prod';
    management.on(PostToConnectionCommand).resolves({});
  });
  afterEach(() => {
    delete process.env.BQ_CONNECTIONS_ENDPOINT;
  });

  it('to the listeners the PutItem returned and to the socket the request came from, the stored record exactly', async () => {
    dynamodb.on(PutItemCommand).resolves({ Attributes: { listeners: { SS: ['sub-1=', 'sub-2='] } } });
    bedrock.on(ConverseStreamCommand).callsFake(() => streamOf(['echo', ': ', 'hello']));
    expect(await handler(event(fromSocket('m-1', { action: 'invoke', prompt: 'hello' }, 'caller=')), context())).toEqual({ batchItemFailures: [] });
    const put = dynamodb.commandCalls(PutItemCommand)[0]!.args[0].input;
    expect(put.ReturnValues).toBe('ALL_OLD');
    const stored = put.Item!.record!.S!;
    const results = posted().filter((p) => p.frame.type === 'result');
    expect(results.map((p) => p.to).sort()).toEqual(['caller=', 'sub-1=', 'sub-2=']);
    for (const { frame } of results) expect(frame).toEqual({ type: 'result', id: ID, record: JSON.parse(stored) });
    expect((results[0]!.frame.record as { output: string }).output).toBe('echo: hello');
  });

  it('streams the answer to the socket it came from and to those subscribed at the claim, in deltas that add up to the output', async () => {
    // Subscribed before the claim: the claim returns it, and so does the PutItem (the claim keeps listeners).
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: { listeners: { SS: ['early='] } } });
    dynamodb.on(PutItemCommand).resolves({ Attributes: { listeners: { SS: ['early='] } } });
    const words = Array.from({ length: 40 }, (_, i) => `w${i} `);
    bedrock.on(ConverseStreamCommand).callsFake(() => streamOf(words, 10));
    await handler(event(fromSocket('m-4', { action: 'invoke', prompt: 'stream me' }, 'caller=')), context());
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(0);
    for (const to of ['caller=', 'early=']) {
      const mine = posted().filter((p) => p.to === to);
      const deltas = mine.filter((p) => p.frame.type === 'delta');
      expect(deltas.map((p) => p.frame.text).join('')).toBe(words.join(''));
      // The first piece goes at once; then 40 pieces 10 ms apart, at most one frame each 100 ms: a handful, not 40.
      expect(deltas[0]!.frame.text).toBe('w0 ');
      expect(deltas.length).toBeLessThanOrEqual(8);
      expect(mine.at(-1)!.frame).toMatchObject({ type: 'result', id: ID, record: { output: words.join('') } });
    }
  });

  it('catches up a listener who subscribes while the answer streams, then streams the rest to it', async () => {
    dynamodb.on(GetItemCommand).resolves({ Item: { listeners: { SS: ['caller=', 'late='] } } });
    dynamodb.on(PutItemCommand).resolves({ Attributes: { listeners: { SS: ['late='] } } });
    const words = Array.from({ length: 30 }, (_, i) => `w${i} `);
    // 30 pieces 50 ms apart: the store is asked for new listeners after a second, mid-answer.
    bedrock.on(ConverseStreamCommand).callsFake(() => streamOf(words, 50));
    await handler(event(fromSocket('m-7', { action: 'invoke', prompt: 'late' }, 'caller=')), context());
    const late = posted().filter((p) => p.to === 'late=');
    const deltas = late.filter((p) => p.frame.type === 'delta').map((p) => p.frame.text as string);
    expect(deltas.length).toBeGreaterThan(1);
    // Its first frame is the text so far, from the first word on; all of them add up to the answer, once.
    expect(deltas[0]!.startsWith('w0 w1 ')).toBe(true);
    expect(deltas.join('')).toBe(words.join(''));
    expect(late.at(-1)!.frame).toMatchObject({ type: 'result', record: { output: words.join('') } });
    expect(dynamodb.commandCalls(GetItemCommand)[0]!.args[0].input).toMatchObject({ ProjectionExpression: '#l', ExpressionAttributeNames: { '#l': 'listeners' } });
  });

  it('says the answer starts again when a redelivered request streams once more', async () => {
    bedrock.on(ConverseStreamCommand).callsFake(() => streamOf(['again']));
    await handler(event(fromSocket('m-5', { prompt: 'retry' }, 'caller=', 2)), context());
    expect(posted().map((p) => p.frame.type)).toEqual(['restart', 'delta', 'result']);
  });

  it('calls Converse, not ConverseStream, when nobody listens', async () => {
    await handler(event(record('m-6', { prompt: 'quiet' })), context());
    expect([bedrock.commandCalls(ConverseCommand).length, bedrock.commandCalls(ConverseStreamCommand).length]).toEqual([1, 0]);
  });

  it('posts nothing for a result it could not store, and nothing at all without a WebSocket API', async () => {
    dynamodb.on(PutItemCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
    const failed = await handler(event(record('m-2', { prompt: 'unstored' })), context());
    expect(failed.batchItemFailures).toHaveLength(1);
    expect(posted()).toEqual([]);
    delete process.env.BQ_CONNECTIONS_ENDPOINT;
    dynamodb.on(PutItemCommand).resolves({ Attributes: { listeners: { SS: ['sub-1='] } } });
    await handler(event(record('m-3', { prompt: 'no api' })), context());
    expect(posted()).toEqual([]);
  });
});
