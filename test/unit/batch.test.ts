import { BatchGetItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/client/batch.js';
import { runCli } from '../helpers/cli.js';
import { closeServer, listen } from '../../src/local/services/http.js';
import { tempDir } from '../helpers/temp.js';

const dynamoMock = mockClient(DynamoDBClient);
const store = { dynamodb: new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }), table: 'demo-results' };
const record = (id: string, output: string) => JSON.stringify({ id, status: 'ok', output, model: 'm', latencyMs: 1, attempt: 1, completedAt: '2026-11-25T09:00:00.000Z', usage: { inputTokens: 2, outputTokens: 3, totalTokens: 5 } });

// An API that answers 202 with the request's own id, as the deployed one does (id-1, id-2, ... for one without).
let api: { invokeUrl: string; apiKey: string };
let close: () => Promise<void>;
const bodies = new Map<string, string>();
/** The ids each prompt was sent with, in order. */
const sentIds = new Map<string, string[]>();
beforeAll(async () => {
  let n = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const request = JSON.parse(body) as { id?: string; prompt: string };
      const id = request.id ?? `id-${++n}`;
      bodies.set(id, request.prompt);
      sentIds.set(request.prompt, [...(sentIds.get(request.prompt) ?? []), id]);
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
  it('reads results with BatchGetItem (eventually consistent, projected, 100 keys a call), asking again while all are pending', async () => {
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
    expect(calls.every((c) => c.Keys!.length <= 100 && c.ConsistentRead === false && c.ProjectionExpression === '#id, #record, #expires')).toBe(true);
    expect(calls[0]!.ExpressionAttributeNames).toEqual({ '#id': 'id', '#record': 'record', '#expires': 'expiresAt' });
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(150);
    expect(lines.find((l) => l.line === 42)).toMatchObject({ line: 42, status: 'ok', output: 'echo: p42' });
    // Complete: nothing to resume, so the journal is gone.
    expect(existsSync(`${out}.journal`)).toBe(false);
  });

  it('starts rounds a second apart, and backs off while DynamoDB leaves keys unprocessed or throttles, without giving up', async () => {
    const dir = tempDir('bq-batch-unit-');
    const file = join(dir, 'in.txt');
    writeFileSync(file, 'slow-1\nslow-2\nslow-3');
    const out = join(dir, 'out.jsonl');
    const events: string[] = [];
    let reads = 0;
    dynamoMock.on(BatchGetItemCommand).callsFake((input) => {
      const keys = input.RequestItems['demo-results'].Keys as { id: { S: string } }[];
      events.push('read');
      if (++reads === 1) return { Responses: { 'demo-results': [] }, UnprocessedKeys: { 'demo-results': { Keys: keys } } };
      if (reads === 2) throw Object.assign(new Error('Throughput exceeds the current capacity of your table or index.'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } });
      return { Responses: { 'demo-results': keys.map((k) => ({ id: k.id, record: { S: record(k.id.S, 'late') } })) }, UnprocessedKeys: {} };
    });
    const pause = async (ms: number) => {
      events.push(`pause ${Math.round(ms / 100) * 100}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    };
    const outcome = await runBatch(api, store, { file, out, parallel: 1, retryForMs: 10_000, timeoutMs: 60_000, resume: false, target: 'stack demo', pause }, () => undefined);
    expect(outcome).toMatchObject({ ok: 3, pending: 0 });
    const first = events.indexOf('read');
    // Unprocessed keys: twice the pause; a throttled call: twice again; results: a second from the round's start.
    expect(events.slice(first, first + 4)).toEqual(['read', 'pause 2000', 'read', 'pause 4000']);
    // Between two reads, about the second a round takes at least (the old collector asked again at once).
    const pauses = events.slice(first).filter((e) => e.startsWith('pause')).map((e) => Number(e.split(' ')[1]));
    expect(Math.min(...pauses)).toBeGreaterThanOrEqual(800);
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

  it('sends a line whose send was cut off again with the id it first went with, so that it is answered once', async () => {
    const dir = tempDir('bq-batch-unit-');
    const file = join(dir, 'in.txt');
    writeFileSync(file, 'cut-1\ncut-2\ncut-3');
    const out = join(dir, 'out.jsonl');
    const [first, third] = ['0b6a1f8e-3c2d-4e5f-8a9b-1c2d3e4f5a6b', '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b'];
    // A run killed while line 3 was being sent: line 1 was taken, line 3 had its id and mark, line 2 nothing.
    writeFileSync(`${out}.journal`, `{"line":1,"id":"${first}","sending":true}\n{"line":1,"id":"${first}"}\n{"line":3,"id":"${third}","sending":true}\n`);
    dynamoMock.on(BatchGetItemCommand).callsFake((input) => ({ Responses: { 'demo-results': (input.RequestItems['demo-results'].Keys as { id: { S: string } }[]).map((k) => ({ id: k.id, record: { S: record(k.id.S, 'answer') } })) } }));
    const outcome = await runBatch(api, store, { file, out, parallel: 2, retryForMs: 10_000, timeoutMs: 60_000, resume: true, target: 'stack demo' }, () => undefined);
    expect(outcome).toMatchObject({ ok: 3, pending: 0 });
    expect(sentIds.get('cut-1')).toBeUndefined();
    expect(sentIds.get('cut-3')).toEqual([third]);
    expect(sentIds.get('cut-2')).toEqual([expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)]);
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

  it.each([
    [['batch', '--out', 'x.jsonl'], 'Error: Name the file of requests: "bedrock-queue batch FILE --out RESULTS.jsonl".'],
    [['batch', 'in.txt'], 'Error: Name the results file with --out.'],
    [['batch', '--status'], 'Error: --status goes with --discount and no file: "bedrock-queue batch --discount --status".'],
    [['batch', 'in.txt', '--out', 'x.jsonl', '--price', 'in=3,out=15'], 'Error: --price goes with --discount, for its cost line.'],
    [['batch', 'in.txt', '--out', 'x.jsonl', '--skip-model-check'], 'Error: --skip-model-check goes with --discount: the real-time route reads no batch quota.'],
    [['batch', 'in.txt', '--out', 'x.jsonl', '--discount', '--price', 'three'], 'Error: --price three: give dollars per million tokens, in and out, as in=3,out=15'],
  ])('refuses %j as a usage error (exit 2), before anything is read or sent', async (args, message) => {
    const dir = tempDir('bq-batch-unit-');
    writeFileSync(join(dir, 'in.txt'), 'one');
    const run = await runCli([...args.map((a) => (a.endsWith('.txt') || a.endsWith('.jsonl') ? join(dir, a) : a)), '--local', '--name', 'nobody'], { BEDROCK_QUEUE_STATE_DIR: dir });
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toBe(message);
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
    // Each id is written twice: before its send, and once the API took it.
    const journaled = [...new Set([...readFileSync(`${out}.journal`, 'utf8').matchAll(/"id":"([^"]+)"/g)].map((m) => m[1]!))];
    dynamoMock.on(BatchGetItemCommand).callsFake((input) => ({ Responses: { 'demo-results': (input.RequestItems['demo-results'].Keys as { id: { S: string } }[]).map((k) => ({ id: k.id, record: { S: record(k.id.S, 'done') } })) } }));
    const before = bodies.size;
    const second = await runBatch(api, store, { file, out, parallel: 2, retryForMs: 10_000, timeoutMs: 60_000, resume: true, target: 'stack demo' }, () => undefined);
    expect(second).toMatchObject({ ok: 2, pending: 0, timedOut: false });
    expect(existsSync(`${out}.journal`)).toBe(false);
    expect(bodies.size).toBe(before);
    expect(readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).id).sort()).toEqual(journaled.sort());
  });
});
