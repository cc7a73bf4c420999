import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { closeServer, listen } from '../../src/local/services/http.js';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdaptiveRate, ApiError, postRequest, postWithRetry, retryAfterMs, waitUntilKeyAccepted } from '../../src/client/api.js';
import { parseLine, sendFile } from '../../src/client/bulk.js';
import { startFakeApi, type FakeApi } from '../helpers/fake-api.js';
import { tempDir } from '../helpers/temp.js';

let api: FakeApi;
beforeEach(async () => {
  api = await startFakeApi();
});
afterEach(async () => api.close());

const target = () => ({ invokeUrl: api.invokeUrl, apiKey: api.apiKey });

describe('waiting for a new API key', () => {
  it('probes with an empty body until the validator answers 400 instead of 403, and queues nothing', async () => {
    api.keyNotYetActive = 3;
    const notes: string[] = [];
    const sleeps: number[] = [];
    const accepted = await waitUntilKeyAccepted(target(), { sleep: async (ms) => void sleeps.push(ms), note: (m) => notes.push(m), timeoutMs: 60_000, intervalMs: 2_000 });
    expect(accepted).toBe(true);
    expect(sleeps).toEqual([2_000, 2_000, 2_000]);
    expect(notes[0]).toMatch(/waiting for the API to accept its key \(it answered 403/);
    expect(api.accepted).toEqual([]);
  });

  it('gives up after its timeout and says so by its answer', async () => {
    api.keyNotYetActive = 1_000;
    expect(await waitUntilKeyAccepted(target(), { sleep: async () => {}, note: () => {}, timeoutMs: 10_000, intervalMs: 2_000 })).toBe(false);
  });
});

describe('posting to the API', () => {
  it('returns the request id and sends the body byte for byte', async () => {
    const request = { prompt: 'a&b=c+d%20 "quoted" 🚀 مرحبا\nline', metadata: { k: 'v' } };
    const { id } = await postRequest(target(), request);
    expect(api.accepted).toEqual([{ id, body: JSON.stringify(request) }]);
  });

  it('turns each HTTP error into one clear line', async () => {
    await expect(postRequest({ invokeUrl: api.invokeUrl }, { prompt: 'p' })).rejects.toThrow('The API refused the request (403): the API key is missing or wrong: Forbidden');
    await expect(postRequest(target(), { prompt: '' })).rejects.toThrow('The API rejected the request (400): Invalid request body: "prompt" must not be empty');
    api.failNext.push(429);
    await expect(postRequest(target(), { prompt: 'p' })).rejects.toThrow(/The API is throttling requests \(429\)/);
    api.failNext.push(413);
    await expect(postRequest(target(), { prompt: 'p' })).rejects.toThrow(/The request is too large for the API \(413\)/);
  });

  it('says an HTML error page (a proxy\'s 502) in one line', async () => {
    const page = '<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title>\n<style>body { color: red }</style></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n';
    const proxy = createServer((_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end(page));
    const port = await listen(proxy);
    try {
      const err = await postRequest({ invokeUrl: `http://127.0.0.1:${port}/prod/invokeModel` }, { prompt: 'p' }).catch((e: Error) => e);
      expect((err as Error).message).toBe('The API failed (502): 502 Bad Gateway 502 Bad Gateway nginx');
    } finally {
      await closeServer(proxy);
    }
  });

  it('says when the API cannot be reached', async () => {
    const closed = api.invokeUrl;
    await api.close();
    const err = await postRequest({ invokeUrl: closed }, { prompt: 'p' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as Error).message).toBe(`Cannot reach the API at ${closed}: ECONNREFUSED`);
    api = await startFakeApi();
  });

  it('retries throttling and server errors, not client errors', async () => {
    api.failNext.push(429, 503);
    await postWithRetry(target(), { prompt: 'p' }, { retryForMs: 60_000 });
    expect(api.accepted).toHaveLength(1);
    await expect(postWithRetry({ invokeUrl: api.invokeUrl, apiKey: 'wrong' }, { prompt: 'p' }, { retryForMs: 60_000 })).rejects.toThrow(/403/);
  });

  it('keeps retrying a throttled request until its deadline, not a fixed number of times', async () => {
    api.failNext.push(...Array(20).fill(429));
    const sleeps: number[] = [];
    await postWithRetry(target(), { prompt: 'p' }, { retryForMs: 60 * 60_000, sleep: async (ms) => void sleeps.push(ms) });
    expect(api.accepted).toHaveLength(1);
    expect(sleeps).toHaveLength(20);
    expect(Math.max(...sleeps)).toBeLessThanOrEqual(20_000);
    api.failNext.push(...Array(5).fill(503));
    await expect(postWithRetry(target(), { prompt: 'p' }, { retryForMs: 1_000, sleep: async () => {} })).rejects.toThrow(/The API failed \(503\)/);
  });

  it('waits as long as Retry-After says, in seconds or as a date', async () => {
    api.failNext.push(429, 503);
    api.retryAfter = '7';
    const sleeps: number[] = [];
    await postWithRetry(target(), { prompt: 'p' }, { retryForMs: 60_000, sleep: async (ms) => void sleeps.push(ms) });
    expect(sleeps).toEqual([7_000, 7_000]);
    expect(retryAfterMs('Wed, 25 Nov 2026 10:00:30 GMT', Date.parse('Wed, 25 Nov 2026 10:00:00 GMT'))).toBe(30_000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});

describe('sending a file', () => {
  const writeLines = (count: number) => {
    const file = join(tempDir('bq-send-'), 'prompts.txt');
    writeFileSync(file, Array.from({ length: count }, (_, i) => `prompt ${i + 1}`).join('\n'));
    return file;
  };
  const quiet = { sent: () => {}, skipped: () => {}, progress: () => {}, failed: (line: number, reason: string) => { throw new Error(`line ${line} failed: ${reason}`); } };

  it('drops no line under the API\'s throttle, and adapts its rate so that few calls are throttled', async () => {
    api.limit = { perSecond: 400, burst: 40 };
    const done = await sendFile(target(), writeLines(1_200), { parallel: 64, retryForMs: 60_000 }, quiet);
    expect(done).toMatchObject({ sent: 1_200, failed: 0 });
    expect(api.accepted).toHaveLength(1_200);
    // Without adapting, 64 lanes against 40 tokens are throttled on most calls; with it, a few percent.
    expect(api.throttled / 1_200).toBeLessThan(0.25);
  });

  it('cuts its rate to 70% of what gets through on 429, at most every half-second, and raises it on success', () => {
    let now = 0;
    const rate = new AdaptiveRate(() => now, async () => {});
    for (let i = 0; i < 100; i++, now += 10) {
      void rate.acquire();
      rate.onSuccess();
    }
    expect(rate.perSecond).toBe(Infinity);
    rate.onThrottle();
    expect(rate.perSecond).toBeCloseTo(70, 0);
    now += 100;
    rate.onThrottle();
    expect(rate.perSecond).toBeCloseTo(70, 0);
    // A second of successes while 429s are recent raises it by about a quarter.
    const cut = rate.perSecond;
    for (let i = 0; i < 70; i++, now += 5) rate.onSuccess();
    expect(rate.perSecond / cut).toBeGreaterThan(1.2);
    expect(rate.perSecond / cut).toBeLessThan(1.26);
    // Once a second passes without a 429, it doubles in about a second.
    now += 1_000;
    const calm = rate.perSecond;
    for (let i = 0; i < Math.round(calm); i++) rate.onSuccess();
    expect(rate.perSecond / calm).toBeGreaterThan(1.6);
  });

  it('warns of nothing at any --parallel (one listener per request on the interrupt signal)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      await sendFile(target(), writeLines(600), { parallel: 256, retryForMs: 60_000, signal: new AbortController().signal }, quiet);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it('reads JSON request lines and plain prompt lines, and names what is wrong with a bad line', () => {
    expect(parseLine('{"prompt": "hi", "maxTokens": 5}')).toEqual({ request: { prompt: 'hi', maxTokens: 5 } });
    expect(parseLine('just a prompt with "quotes"\r')).toEqual({ request: { prompt: 'just a prompt with "quotes"' } });
    expect(parseLine('{"prompt": ')).toMatchObject({ problem: expect.stringMatching(/^not valid JSON/) });
    expect(parseLine('{"prompt": "", "extra": 1}')).toEqual({ problem: 'unknown property "extra"; "prompt" must not be empty' });
  });

  it('sends 1,000 lines with at most --parallel in flight, skips bad lines by number, and retries 429s', async () => {
    await api.close();
    api = await startFakeApi(5);
    api.failNext.push(429, 429, 503);
    const dir = tempDir('bq-send-');
    const file = join(dir, 'prompts.jsonl');
    const bad = new Set([17, 503, 999]);
    const lines = Array.from({ length: 1000 }, (_, i) => (bad.has(i + 1) ? '{"prompt": ' : i % 2 ? JSON.stringify({ prompt: `p${i + 1}`, metadata: { n: String(i + 1) } }) : `plain prompt ${i + 1}`));
    writeFileSync(file, `${lines.join('\n')}\n\n`);
    const sent: { line: number; id: string }[] = [];
    const skipped: number[] = [];
    const done = await sendFile(target(), file, { parallel: 8, retryForMs: 60_000 }, {
      sent: (line, id) => sent.push({ line, id }),
      skipped: (line) => skipped.push(line),
      failed: (line, reason) => {
        throw new Error(`line ${line} failed: ${reason}`);
      },
      progress: () => {},
    });
    expect(done).toMatchObject({ sent: 997, failed: 0, skipped: 3, fraction: 1 });
    expect(skipped).toEqual([17, 503, 999]);
    expect(new Set(sent.map((s) => s.line)).size).toBe(997);
    expect(api.accepted).toHaveLength(997);
    expect(api.mostInFlight).toBeLessThanOrEqual(8);
    expect(api.mostInFlight).toBeGreaterThan(1);
    // Each line has its id before its first try: the ones refused (429, 503) were tried again with theirs.
    const byId = new Map(api.accepted.map((a) => [a.id, a.body]));
    const idOf = (line: number) => sent.find((s) => s.line === line)!.id;
    expect(byId.get(idOf(2))).toBe(JSON.stringify({ prompt: 'p2', metadata: { n: '2' }, id: idOf(2) }));
    expect(byId.get(idOf(1))).toBe(JSON.stringify({ prompt: 'plain prompt 1', id: idOf(1) }));
    expect(api.refusedIds).toHaveLength(3);
    for (const id of api.refusedIds) expect(byId.has(id!)).toBe(true);
  });
});
