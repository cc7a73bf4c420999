import { ConverseCommand, InternalServerException, ValidationException } from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it, vi } from 'vitest';
import { METRICS_NAMESPACE } from '../../src/metrics-contract.js';
import { handler } from '../../src/worker/index.js';
import { MAX_LOG_LINE_BYTES, writeLogLine, emfDocument } from '../../src/worker/metrics.js';
import { emfProblems } from '../helpers/emf.js';
import { humanLogLine } from '../../src/local/lifecycle/log-lines.js';
import { bedrock, context, echo, event, logLines, meta, record, SENT, throttling, useWorkerFixture } from '../helpers/worker-fixture.js';

useWorkerFixture();

/** The raw lines the worker wrote to stdout. */
const rawLines = () => vi.mocked(process.stdout.write).mock.calls.map((c) => String(c[0]));
/** Metric name -> value, for the metrics a line's directives declare under the given dimensions. */
function declared(line: Record<string, unknown>, dimensions: string[]): Record<string, unknown> {
  const directives = (line._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] }).CloudWatchMetrics;
  const matching = directives.filter((d) => d.Namespace === METRICS_NAMESPACE && d.Dimensions.some((set) => set.join() === dimensions.join()));
  return Object.fromEntries(matching.flatMap((d) => d.Metrics.map((m) => [`${m.Name} (${m.Unit})`, line[m.Name]])));
}

describe('the worker\'s metrics (Embedded Metric Format in its log lines)', () => {
  it('writes each request\'s line to stdout as one valid EMF document: results, latencies, tokens, attempts', async () => {
    // Lambda's Node.js runtime (text log format) prefixes what console.log writes: CloudWatch would extract nothing.
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => process.stdout.write(`2026-11-26T02:00:00.000Z\tc793869b\tINFO\t${args.join(' ')}\n`));
    await handler(event(record('m1', { prompt: 'a secret prompt' })), context());
    const [raw] = rawLines();
    expect(raw).toMatch(/^\{"_aws":.*\}\n$/);
    expect(rawLines()).toHaveLength(1);
    expect(emfProblems(raw!)).toEqual([]);
    const [line] = logLines();
    expect(line).toMatchObject({ Stack: 'demo', id: 'm1', status: 'ok' });
    expect(line).not.toHaveProperty('ErrorCode');
    const metrics = declared(line!, ['Stack']);
    expect(metrics).toEqual({
      'ResultsOk (Count)': 1, 'Attempts (Count)': 1, 'ModelLatency (Milliseconds)': expect.any(Number),
      'EndToEndLatency (Milliseconds)': expect.any(Number), 'InputTokens (Count)': 5, 'OutputTokens (Count)': 7,
    });
    // End to end counts from the request's SentTimestamp (a minute before the test) to its completion.
    expect(line!.EndToEndLatency as number).toBeGreaterThanOrEqual(60_000);
    expect(line!.EndToEndLatency as number).toBeLessThanOrEqual(Date.now() - SENT);
    expect(raw).not.toContain('secret');
    // At a terminal (up --local in the foreground) the same line reads as one line for people.
    expect(humanLogLine(raw!.trimEnd())).toMatch(/^\d\d:\d\d:\d\d  m1  ok  attempt 1  \d+ ms  5\+7 tokens$/);
  });

  it('counts an error result under Stack and under Stack and ErrorCode, and only ResultsError per code', async () => {
    bedrock.on(ConverseCommand).rejects(new ValidationException({ message: 'The provided model identifier is invalid.', ...meta }));
    await handler(event(record('bad', { prompt: 'p' }), record('nobody', '{not json')), context());
    expect(rawLines().map((l) => humanLogLine(l.trimEnd())).find((l) => l.includes(' bad ')))
      .toMatch(/^\d\d:\d\d:\d\d  bad  error  attempt 1  \d+ ms  ValidationException/);
    expect(humanLogLine('not json at all')).toBe('not json at all');
    for (const raw of rawLines()) expect(emfProblems(raw)).toEqual([]);
    const [validation, invalid] = logLines();
    expect(declared(validation!, ['Stack'])).toMatchObject({ 'ResultsError (Count)': 1, 'Attempts (Count)': 1, 'ModelLatency (Milliseconds)': expect.any(Number) });
    expect(declared(validation!, ['Stack', 'ErrorCode'])).toEqual({ 'ResultsError (Count)': 1 });
    expect(validation).toMatchObject({ ErrorCode: 'ValidationException' });
    // A body that never reached the model has no model latency, and no tokens.
    expect(invalid).toMatchObject({ ErrorCode: 'InvalidRequest', ResultsError: 1 });
    expect(Object.keys(declared(invalid!, ['Stack'])).sort()).toEqual(['Attempts (Count)', 'EndToEndLatency (Milliseconds)', 'ResultsError (Count)']);
  });

  it('counts the final error of a request\'s last receive as an error result, and a retry as none', async () => {
    process.env.BQ_MAX_RECEIVE_COUNT = '3';
    try {
      bedrock.on(ConverseCommand).rejects(new InternalServerException({ message: 'The server encountered an internal error.', ...meta }));
      await handler(event(record('early', { prompt: 'p' }, 1), record('last', { prompt: 'p' }, 3)), context());
    } finally {
      delete process.env.BQ_MAX_RECEIVE_COUNT;
    }
    const byId = new Map(logLines().map((l) => [l.id, l]));
    expect(emfProblems(JSON.stringify(byId.get('last')))).toEqual([]);
    expect(byId.get('early')).toMatchObject({ status: 'retry', errorCode: 'InternalServerException' });
    expect(byId.get('early')).not.toHaveProperty('_aws');
    expect(byId.get('last')).toMatchObject({ status: 'error', final: true, ErrorCode: 'InternalServerException', ResultsError: 1, Attempts: 3 });
  });

  it('counts throttled calls, on a request re-queued and on one answered after a throttle', async () => {
    bedrock.on(ConverseCommand).rejectsOnce(throttling()).callsFake(echo);
    await handler(event(record('patient', { prompt: 'p' })), context());
    bedrock.on(ConverseCommand).rejects(throttling());
    // Time for three calls, then too little for another pause: re-queued.
    await handler(event(record('busy', { prompt: 'p' })), context(3_600));
    for (const raw of rawLines()) expect(emfProblems(raw)).toEqual([]);
    const [patient, busy] = logLines();
    expect(declared(patient!, ['Stack'])).toMatchObject({ 'ThrottledCalls (Count)': 1, 'ResultsOk (Count)': 1, 'Attempts (Count)': 2 });
    expect(declared(busy!, ['Stack'])).toEqual({ 'ThrottledCalls (Count)': 3 });
    expect(busy).toMatchObject({ status: 'requeued' });
  });

  it('keeps a line with the operator\'s text opted in within one CloudWatch Logs event, still valid EMF', async () => {
    process.env.BQ_LOG_TEXT = 'true';
    try {
      bedrock.on(ConverseCommand).resolves({ ...echo({ modelId: 'm', messages: [{ role: 'user', content: [{ text: 'x' }] }] }), output: { message: { role: 'assistant', content: [{ text: 'é'.repeat(200_000) }] } } });
      await handler(event(record('long', { prompt: 'q'.repeat(200_000) })), context());
    } finally {
      delete process.env.BQ_LOG_TEXT;
    }
    const [raw] = rawLines();
    expect(Buffer.byteLength(raw!)).toBeLessThanOrEqual(MAX_LOG_LINE_BYTES + 1);
    expect(emfProblems(raw!)).toEqual([]);
    const [line] = logLines();
    expect(line).toMatchObject({ textCut: true, ResultsOk: 1, OutputTokens: 7 });
    expect((line!.prompt as string).length).toBeGreaterThan(1_000);
  });

  it('writes plain lines, without metrics, for a function whose environment names no stack', () => {
    const written: string[] = [];
    writeLogLine(emfDocument({ message: 'request' }, 'demo', {}), (l) => written.push(l));
    expect(written).toEqual(['{"message":"request"}\n']);
    delete process.env.BQ_STACK_NAME;
    return handler(event(record('m1', { prompt: 'p' })), context()).then(() => {
      expect(logLines()[0]).not.toHaveProperty('_aws');
      expect(logLines()[0]).toMatchObject({ id: 'm1', status: 'ok' });
    });
  });

  it('is checked by a validator that finds what CloudWatch would reject', () => {
    const valid = { _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [['Stack']], Metrics: [{ Name: 'M', Unit: 'Count' }] }] }, Stack: 's', M: 1 };
    expect(emfProblems(JSON.stringify(valid))).toEqual([]);
    expect(emfProblems(`INFO ${JSON.stringify(valid)}`)).toHaveLength(1);
    expect(emfProblems(JSON.stringify({ ...valid, M: '1' }))).toHaveLength(1);
    expect(emfProblems(JSON.stringify({ ...valid, Stack: undefined }))).toHaveLength(1);
    expect(emfProblems(JSON.stringify({ ...valid, _aws: { ...valid._aws, Timestamp: new Date().toISOString() } }))).toHaveLength(1);
    expect(emfProblems(JSON.stringify({ ...valid, _aws: { ...valid._aws, CloudWatchMetrics: [{ ...valid._aws.CloudWatchMetrics[0], Metrics: [{ Name: 'M', Unit: 'Tokens' }] }] } }))).toHaveLength(1);
  });
});
