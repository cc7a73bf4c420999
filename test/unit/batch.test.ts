import { BatchGetItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/client/batch.js';
import { closeServer, listen } from '../../src/local/http.js';
import { tempDir } from '../helpers/temp.js';

const dynamoMock = mockClient(DynamoDBClient);
const store = { dynamodb: new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }), table: 'demo-results' };
const record = (id: string, output: string) => JSON.stringify({ id, status: 'ok', output, model: 'm', latencyMs: 1, attempt: 1, completedAt: '2026-11-25T09:00:00.000Z', usage: { inputTokens: 2, outputTokens: 3, totalTokens: 5 } });

// An API that answers 202 with ids id-1, id-2, ... in the order it receives requests.
let api: { invokeUrl: string; apiKey: string };
let close: () => Promise<void>;
const bodies = new Map<string, string>();
beforeAll(async () => {
  let n = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const id = `id-${++n}`;
      bodies.set(id, JSON.parse(body).prompt);
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id }));
    });
  });
  const port = await listen(server);
  api = { invokeUrl: `http://127.0.0.1:${port}/prod/invokeModel`, apiKey: 'k' };
  close = () => closeServer(server);
});
afterAll(async () => close());
beforeEach(() => dynamoMock.reset());

describe('batch', () => {
  it('reads results with BatchGetItem (strongly consistent, projected, 100 keys a call), asking again while all are pending', async () => {
    const dir = tempDir('bq-batch-unit-');
    const file = join(dir, 'in.txt');
    writeFileSync(file, Array.from({ length: 150 }, (_, i) => `p${i + 1}`).join('\n'));
    let round = 0;
    dynamoMock.on(BatchGetItemCommand).callsFake((input) => {
      const keys = input.RequestItems['demo-results'].Keys as { id: { S: string } }[];
      // Nothing for the first two calls; then everything asked for.
      if (++round <= 2) return { Responses: { 'demo-results': [] }, UnprocessedKeys: {} };
      return { Responses: { 'demo-results': keys.map((k) => ({ id: k.id, record: { S: record(k.id.S, `echo: ${bodies.get(k.id.S)}`) } })) }, UnprocessedKeys: {} };
    });
    const out = join(dir, 'out.jsonl');
    const outcome = await runBatch(api, store, { file, out, parallel: 8, retryForMs: 10_000, timeoutMs: 60_000, resume: false }, () => undefined);
    expect(outcome).toMatchObject({ ok: 150, error: 0, pending: 0, sent: 150, tokensIn: 300, tokensOut: 450, timedOut: false });
    expect(round).toBeGreaterThan(2);
    const calls = dynamoMock.commandCalls(BatchGetItemCommand).map((c) => c.args[0].input.RequestItems!['demo-results']!);
    expect(calls.every((c) => c.Keys!.length <= 100 && c.ConsistentRead === true && c.ProjectionExpression === '#id, #record')).toBe(true);
    expect(calls[0]!.ExpressionAttributeNames).toEqual({ '#id': 'id', '#record': 'record' });
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(150);
    expect(lines.find((l) => l.line === 42)).toMatchObject({ line: 42, status: 'ok', output: 'echo: p42' });
  });

  it('stops at its timeout with what is pending left for --resume, which collects it without sending again', async () => {
    const dir = tempDir('bq-batch-unit-');
    const file = join(dir, 'in.txt');
    writeFileSync(file, 'one\ntwo');
    const out = join(dir, 'out.jsonl');
    dynamoMock.on(BatchGetItemCommand).resolves({ Responses: { 'demo-results': [] }, UnprocessedKeys: {} });
    const first = await runBatch(api, store, { file, out, parallel: 2, retryForMs: 10_000, timeoutMs: 300, resume: false }, () => undefined);
    expect(first).toMatchObject({ sent: 2, pending: 2, timedOut: true });
    const sentIds = [...readFileSync(`${out}.journal`, 'utf8').matchAll(/"id":"([^"]+)"/g)].map((m) => m[1]!);
    dynamoMock.on(BatchGetItemCommand).callsFake((input) => ({ Responses: { 'demo-results': (input.RequestItems['demo-results'].Keys as { id: { S: string } }[]).map((k) => ({ id: k.id, record: { S: record(k.id.S, 'done') } })) } }));
    const before = bodies.size;
    const second = await runBatch(api, store, { file, out, parallel: 2, retryForMs: 10_000, timeoutMs: 60_000, resume: true }, () => undefined);
    expect(second).toMatchObject({ ok: 2, pending: 0, timedOut: false });
    expect(bodies.size).toBe(before);
    expect(readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).id).sort()).toEqual(sentIds.sort());
  });
});
