import { BatchGetItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/client/batch.js';
import { BatchJournal } from '../../src/client/batch-journal.js';
import { runCli } from '../helpers/cli.js';
import { closeServer, listen } from '../../src/local/services/http.js';
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
    const outcome = await runBatch(api, store, { file, out, parallel: 8, retryForMs: 10_000, timeoutMs: 60_000, resume: false, target: 'stack demo' }, () => undefined);
    expect(outcome).toMatchObject({ ok: 150, error: 0, pending: 0, sent: 150, tokensIn: 300, tokensOut: 450, timedOut: false });
    expect(round).toBeGreaterThan(2);
    const calls = dynamoMock.commandCalls(BatchGetItemCommand).map((c) => c.args[0].input.RequestItems!['demo-results']!);
    expect(calls.every((c) => c.Keys!.length <= 100 && c.ConsistentRead === true && c.ProjectionExpression === '#id, #record, #expires')).toBe(true);
    expect(calls[0]!.ExpressionAttributeNames).toEqual({ '#id': 'id', '#record': 'record', '#expires': 'expiresAt' });
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(150);
    expect(lines.find((l) => l.line === 42)).toMatchObject({ line: 42, status: 'ok', output: 'echo: p42' });
    // Complete: nothing to resume, so the journal is gone.
    expect(existsSync(`${out}.journal`)).toBe(false);
  });

  it('leaves a result past its expiresAt pending, as if TTL had deleted it on time', async () => {
    const dir = tempDir('bq-batch-unit-');
    const file = join(dir, 'in.txt');
    writeFileSync(file, 'fresh\nexpired');
    const out = join(dir, 'out.jsonl');
    const now = Math.floor(Date.now() / 1000);
    dynamoMock.on(BatchGetItemCommand).callsFake((input) => ({ Responses: { 'demo-results': (input.RequestItems['demo-results'].Keys as { id: { S: string } }[]).map((k) => ({
      id: k.id, record: { S: record(k.id.S, 'answer') }, expiresAt: { N: String(bodies.get(k.id.S) === 'expired' ? now - 10 : now + 3600) },
    })) } }));
    const outcome = await runBatch(api, store, { file, out, parallel: 2, retryForMs: 10_000, timeoutMs: 1_500, resume: false, target: 'stack demo' }, () => undefined);
    expect(outcome).toMatchObject({ ok: 1, pending: 1 });
  });

  it('keeps collecting while the results store does not answer for a moment (a local stack restarting), within --retry-for', async () => {
    const dir = tempDir('bq-batch-unit-');
    const file = join(dir, 'in.txt');
    writeFileSync(file, 'one\ntwo\nthree');
    const out = join(dir, 'out.jsonl');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), { code: 'ECONNREFUSED', $metadata: {} });
    let calls = 0;
    dynamoMock.on(BatchGetItemCommand).callsFake((input) => {
      if (++calls <= 2) throw refused;
      return { Responses: { 'demo-results': (input.RequestItems['demo-results'].Keys as { id: { S: string } }[]).map((k) => ({ id: k.id, record: { S: record(k.id.S, 'back') } })) } };
    });
    const outcome = await runBatch(api, store, { file, out, parallel: 2, retryForMs: 30_000, timeoutMs: 60_000, resume: false, target: 'the local stack demo' }, () => undefined);
    expect(outcome).toMatchObject({ ok: 3, pending: 0, notSent: 0 });
    expect(calls).toBeGreaterThan(2);
  });

  it('gives up after --retry-for, naming the target and --resume, and keeps the journal for it', async () => {
    const dir = tempDir('bq-batch-unit-');
    const file = join(dir, 'in.txt');
    writeFileSync(file, 'one');
    const out = join(dir, 'out.jsonl');
    dynamoMock.on(BatchGetItemCommand).rejects(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), { code: 'ECONNREFUSED', $metadata: {} }));
    await expect(runBatch(api, store, { file, out, parallel: 1, retryForMs: 300, timeoutMs: 60_000, resume: false, target: 'the local stack nc' }, () => undefined))
      .rejects.toThrow(/^the local stack nc is not answering \(its results store: connect ECONNREFUSED 127\.0\.0\.1:4566\): what was collected is in .*out\.jsonl, and --resume collects the rest\.$/);
    expect(existsSync(`${out}.journal`)).toBe(true);
    // A refusal that will not pass (a permission) is said at once, not retried for an hour.
    const denied = Object.assign(new Error('User is not authorized to perform: dynamodb:BatchGetItem'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
    dynamoMock.on(BatchGetItemCommand).rejects(denied);
    const started = Date.now();
    await expect(runBatch(api, store, { file, out, parallel: 1, retryForMs: 60_000, timeoutMs: 60_000, resume: true, target: 'stack demo' }, () => undefined)).rejects.toThrow(/^Reading results from stack demo failed: Access denied: your credentials are missing the permission dynamodb:BatchGetItem\. .* Meanwhile, what was collected is in/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('warns of lines that may be queued twice in every run until the batch is done, an interrupted --resume included', () => {
    const dir = tempDir('bq-batch-unit-');
    const out = join(dir, 'out.jsonl');
    // A run killed mid-send of line 3: its mark is there, its id is not.
    writeFileSync(`${out}.journal`, '{"line":1,"sending":true}\n{"line":1,"id":"a"}\n{"line":3,"sending":true}\n');
    const resumed = new BatchJournal(`${out}.journal`, out, true);
    expect([...resumed.interrupted]).toEqual([3]);
    resumed.sending(3);
    resumed.recordSent(3, 'c');
    expect([...resumed.maybeTwice]).toEqual([3]);
    resumed.close(false);
    // That resume is interrupted too: the next one still knows line 3 may be there twice.
    const again = new BatchJournal(`${out}.journal`, out, true);
    expect([...again.interrupted]).toEqual([]);
    expect([...again.maybeTwice]).toEqual([3]);
    again.close(true);
    expect(existsSync(`${out}.journal`)).toBe(false);
  });

  it('refuses --out in a directory that does not exist, as a usage error (exit 2), before sending anything', async () => {
    const dir = tempDir('bq-batch-unit-');
    const file = join(dir, 'in.txt');
    writeFileSync(file, 'one');
    const run = await runCli(['batch', file, '--out', join(dir, 'missing', 'out.jsonl'), '--local', '--name', 'nobody'], { BEDROCK_QUEUE_STATE_DIR: dir });
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toBe(`Error: --out ${join(dir, 'missing', 'out.jsonl')}: the directory ${join(dir, 'missing')} does not exist; create it first.`);
  });

  it('stops at its timeout with what is pending left for --resume, which collects it without sending again', async () => {
    const dir = tempDir('bq-batch-unit-');
    const file = join(dir, 'in.txt');
    writeFileSync(file, 'one\ntwo');
    const out = join(dir, 'out.jsonl');
    dynamoMock.on(BatchGetItemCommand).resolves({ Responses: { 'demo-results': [] }, UnprocessedKeys: {} });
    const first = await runBatch(api, store, { file, out, parallel: 2, retryForMs: 10_000, timeoutMs: 300, resume: false, target: 'stack demo' }, () => undefined);
    expect(first).toMatchObject({ sent: 2, pending: 2, timedOut: true });
    expect(existsSync(`${out}.journal`)).toBe(true);
    const sentIds = [...readFileSync(`${out}.journal`, 'utf8').matchAll(/"id":"([^"]+)"/g)].map((m) => m[1]!);
    dynamoMock.on(BatchGetItemCommand).callsFake((input) => ({ Responses: { 'demo-results': (input.RequestItems['demo-results'].Keys as { id: { S: string } }[]).map((k) => ({ id: k.id, record: { S: record(k.id.S, 'done') } })) } }));
    const before = bodies.size;
    const second = await runBatch(api, store, { file, out, parallel: 2, retryForMs: 10_000, timeoutMs: 60_000, resume: true, target: 'stack demo' }, () => undefined);
    expect(second).toMatchObject({ ok: 2, pending: 0, timedOut: false });
    expect(existsSync(`${out}.journal`)).toBe(false);
    expect(bodies.size).toBe(before);
    expect(readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).id).sort()).toEqual(sentIds.sort());
  });
});
