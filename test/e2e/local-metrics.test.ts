import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../src/status-contract.js';
import { expectStatusReport } from '../helpers/status-schema.js';
import { STATE_DIR, cli, cliJson, collectResults, queueUrl, rawSqs, startLocal, type LocalHandle } from '../helpers/local.js';

const started: LocalHandle[] = [];
afterAll(async () => {
  await Promise.all(started.map((h) => h.stop()));
});
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('status on the local target: the worker\'s metrics, read back from its log lines', () => {
  it('counts a known load exactly: 200 requests through a 50 ms model, and error results by code', async () => {
    const stack = await startLocal('e2e-metrics', '--model-latency', '50ms', '--concurrency', '8', '--rate-limit', '1000', '--burst-limit', '1000');
    started.push(stack);
    const file = join(STATE_DIR, 'metrics-load.txt');
    writeFileSync(file, Array.from({ length: 200 }, (_, i) => `prompt number ${i}`).join('\n'));
    const sent = await cli('send', '--local', '--name', stack.name, '--file', file);
    expect(sent.code, sent.stderr).toBe(0);
    // Bodies the API would refuse, put straight on the queue: the worker ends each with an InvalidRequest error result.
    const requests = await queueUrl(stack, 'requests');
    for (let i = 0; i < 3; i++) await rawSqs(stack.state.sqsEndpoint, 'SendMessage', { QueueUrl: requests, MessageBody: '{"no":"prompt"}' });
    const results = Object.values(await collectResults(stack, 203, 60_000)) as unknown as { status: string; usage?: { inputTokens: number; outputTokens: number } }[];
    expect(results.filter((r) => r.status === 'ok')).toHaveLength(200);

    const report = await cliJson<StatusReport>('status', '--local', '--name', stack.name, '--json', '--since', '5m');
    expectStatusReport(report, 'local');
    const m = report.metrics!;
    expect([sum(m.perMinute.ok), sum(m.perMinute.error)]).toEqual([200, 3]);
    expect(m.resultsPerMinute).toEqual({ ok: 40, error: 0.6 });
    expect(m.errorsByCode).toEqual({ InvalidRequest: 3 });
    expect(sum(m.perMinute.inputTokens)).toBe(sum(results.map((r) => r.usage?.inputTokens ?? 0)));
    expect(sum(m.perMinute.outputTokens)).toBe(sum(results.map((r) => r.usage?.outputTokens ?? 0)));
    expect(m.throttledCallsPerResult).toBe(0);
    // The model answers after 50 ms: the worker measures a little more, never less.
    const { model, endToEnd } = m.latencyMs;
    expect(model.p50).toBeGreaterThanOrEqual(50);
    expect(model.p50).toBeLessThan(90);
    expect(model.p95!).toBeGreaterThanOrEqual(model.p50!);
    expect(model.p99!).toBeGreaterThanOrEqual(model.p95!);
    expect(endToEnd.p50!).toBeGreaterThanOrEqual(model.p50!);
    expect(m.oldestRequestAgeSeconds).toBe(0);
    expect(m.concurrency).toEqual({ limit: 8, invocationsInFlight: 0 });

    const human = await cli('status', '--local', '--name', stack.name, '--since', '15m');
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/Results\s+13\.3\/min ok, 0\.2\/min error \(last 15 min\)/);
    expect(human.stdout).toMatch(/Errors\s+InvalidRequest 3\n/);
    expect(human.stdout).toMatch(/Model\s+p50 \d+ ms {2}p95 \d+ ms {2}p99 \d+ ms/);
    expect(human.stdout).toMatch(/^SQS endpoint\s+http:\/\/127\.0\.0\.1:\d+$/m);

    // One frame: it neither refreshes nor reads keys, so it says neither.
    const once = await cli('top', '--local', '--name', stack.name, '--once');
    expect(once.code, once.stderr).toBe(0);
    const header = once.stdout.split('\n')[0]!;
    expect(header).toMatch(/^bedrock-queue top {2}e2e-metrics \(local\) {2}\d\d:\d\d:\d\d UTC$/);
    expect(once.stdout).toMatch(/e2e-metrics-requests/);
  }, 120_000);

  it('refuses a window outside 1 minute to a day, as a usage error', async () => {
    const tooLong = await cli('status', '--local', '--name', 'e2e-none', '--since', '2d');
    expect([tooLong.code, tooLong.stderr]).toEqual([2, expect.stringMatching(/--since must be from 1m to 24h \(1d\) \(got 2d\)/)]);
    const tooLongHours = await cli('status', '--local', '--name', 'e2e-none', '--since', '25h');
    expect([tooLongHours.code, tooLongHours.stderr]).toEqual([2, expect.stringMatching(/--since must be from 1m to 24h \(1d\) \(got 25h\)/)]);
    // Days, as --results-ttl takes them: a whole day is the longest window.
    const day = await cli('status', '--local', '--name', 'e2e-none', '--since', '1d', '--json');
    expect([day.code, JSON.parse(day.stdout).deployed]).toEqual([0, false]);
  });
});
