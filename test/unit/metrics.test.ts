import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { metricDataRequest, readCloudWatch } from '../../src/client/cloudwatch-metrics.js';
import { summarize } from '../../src/client/metrics.js';
import { MetricsRecorder } from '../../src/local/services/metrics-recorder.js';
import { emfDocument, requestMetrics } from '../../src/worker/metrics.js';
import { readableLogLine } from '../../src/commands/tail.js';

const cloudwatch = mockClient(CloudWatchClient);
/** 14:03:30 UTC: the window of 5 minutes is 13:59 to 14:04. */
const NOW = Date.parse('2026-11-26T14:03:30Z');
const minute = (hhmm: string) => new Date(`2026-11-26T${hhmm}:00Z`);

beforeEach(() => cloudwatch.reset());

describe('reading the metrics from CloudWatch', () => {
  it('asks for every figure in one GetMetricData request, on minute boundaries', () => {
    const request = metricDataRequest('demo', 300, NOW);
    expect(request.StartTime).toEqual(minute('13:59'));
    expect(request.EndTime).toEqual(minute('14:04'));
    expect(request.ScanBy).toBe('TimestampDescending');
    const queries = request.MetricDataQueries!;
    expect(queries.map((q) => q.Id)).toEqual([
      'resultsOk', 'resultsError', 'inputTokens', 'outputTokens', 'throttledCalls', 'attempts',
      'endToEndLatency_p50', 'endToEndLatency_p95', 'endToEndLatency_p99', 'modelLatency_p50', 'modelLatency_p95', 'modelLatency_p99',
      'endToEndP95PerMinute', 'errorsByCode', 'oldestRequestAge', 'invocationsInFlight',
    ]);
    // GetMetricData ids start with a lower-case letter and hold letters, digits and underscores only.
    for (const q of queries) expect(q.Id).toMatch(/^[a-z][a-zA-Z0-9_]*$/);
    expect(queries[0]).toEqual({ Id: 'resultsOk', MetricStat: { Metric: { Namespace: 'BedrockQueue', MetricName: 'ResultsOk', Dimensions: [{ Name: 'Stack', Value: 'demo' }] }, Period: 60, Stat: 'Sum' } });
    // Percentiles over the whole window: one period as long as the window.
    expect(queries[7]).toEqual({ Id: 'endToEndLatency_p95', MetricStat: { Metric: { Namespace: 'BedrockQueue', MetricName: 'EndToEndLatency', Dimensions: [{ Name: 'Stack', Value: 'demo' }] }, Period: 300, Stat: 'p95' } });
    expect(queries[13]).toEqual({
      Id: 'errorsByCode',
      Expression: 'SEARCH(\'{BedrockQueue,ErrorCode,Stack} MetricName="ResultsError" Stack="demo"\', \'Sum\', 300)',
      Label: '${PROP(\'Dim.ErrorCode\')}',
    });
    expect(queries[14]!.MetricStat).toEqual({ Metric: { Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage', Dimensions: [{ Name: 'QueueName', Value: 'demo-requests' }] }, Period: 60, Stat: 'Maximum' });
    expect(queries[15]!.MetricStat).toEqual({ Metric: { Namespace: 'AWS/Lambda', MetricName: 'ConcurrentExecutions', Dimensions: [{ Name: 'FunctionName', Value: 'demo-worker' }] }, Period: 60, Stat: 'Maximum' });
    // GetMetricData takes at most 500 queries; an hour's window is still one period per figure.
    expect(metricDataRequest('demo', 3600, NOW).MetricDataQueries).toHaveLength(queries.length);
  });

  it('reads every page into per-minute series, window percentiles, errors by code and the latest gauges', async () => {
    cloudwatch.on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [
          // Newest first, as ScanBy TimestampDescending returns them; minutes without data are absent.
          { Id: 'resultsOk', Timestamps: [minute('14:03'), minute('14:01')], Values: [30, 12], StatusCode: 'Complete' },
          { Id: 'resultsError', Timestamps: [minute('14:02')], Values: [2], StatusCode: 'Complete' },
          { Id: 'endToEndLatency_p50', Timestamps: [minute('13:59')], Values: [1234.4], StatusCode: 'Complete' },
          { Id: 'errorsByCode', Label: 'ValidationException', Timestamps: [minute('13:59')], Values: [2], StatusCode: 'Complete' },
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        MetricDataResults: [
          { Id: 'resultsOk', Timestamps: [minute('13:59')], Values: [3], StatusCode: 'Complete' },
          { Id: 'inputTokens', Timestamps: [minute('14:03')], Values: [900], StatusCode: 'Complete' },
          { Id: 'throttledCalls', Timestamps: [minute('14:03')], Values: [9], StatusCode: 'Complete' },
          { Id: 'errorsByCode', Label: 'InvalidRequest', Timestamps: [minute('13:59')], Values: [1], StatusCode: 'Complete' },
          { Id: 'oldestRequestAge', Timestamps: [minute('14:02'), minute('14:00')], Values: [42, 7], StatusCode: 'Complete' },
          { Id: 'invocationsInFlight', Timestamps: [minute('14:03')], Values: [6], StatusCode: 'Complete' },
        ],
      });
    const reading = await readCloudWatch(new CloudWatchClient({ region: 'us-east-1' }), 'demo', 300, NOW);
    const calls = cloudwatch.commandCalls(GetMetricDataCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.args[0].input.NextToken).toBe('page-2');
    expect(reading.minutes.map((m) => new Date(m).toISOString().slice(11, 16))).toEqual(['13:59', '14:00', '14:01', '14:02', '14:03']);
    expect(reading.sums.resultsOk).toEqual([3, 0, 12, 0, 30]);
    expect(reading.sums.resultsError).toEqual([0, 0, 0, 2, 0]);
    expect(reading.latency.endToEndLatency).toEqual({ p50: 1234.4, p95: null, p99: null });
    expect(reading.errorsByCode).toEqual({ ValidationException: 2, InvalidRequest: 1 });
    expect([reading.oldestRequestAgeSeconds, reading.invocationsInFlight]).toEqual([42, 6]);

    const figures = summarize(reading, 300, 10);
    expect(figures.resultsPerMinute).toEqual({ ok: 9, error: 0.4 });
    expect(figures.tokensPerMinute).toEqual({ input: 180, output: 0 });
    expect(figures.throttledCallsPerResult).toBe(0.19);
    expect(figures.latencyMs.endToEnd).toEqual({ p50: 1234, p95: null, p99: null });
    expect(figures.concurrency).toEqual({ limit: 10, invocationsInFlight: 6 });
    expect(figures.from).toBe('2026-11-26T13:59:00.000Z');
    expect(figures.to).toBe('2026-11-26T14:04:00.000Z');
  });

  it('counts the error results no code accounts for yet as unattributed (SEARCH lists a new code within 15 minutes)', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [
      { Id: 'resultsError', Timestamps: [minute('14:03'), minute('14:02')], Values: [4, 1], StatusCode: 'Complete' },
      // A direct query sees all five errors at once; SEARCH finds only the code CloudWatch has listed.
      { Id: 'errorsByCode', Label: 'ThrottlingException', Timestamps: [minute('13:59')], Values: [3], StatusCode: 'Complete' },
    ] });
    const reading = await readCloudWatch(new CloudWatchClient({ region: 'us-east-1' }), 'demo', 300, NOW);
    expect(reading.errorsByCode).toEqual({ ThrottlingException: 3, unattributed: 2 });
    expect(summarize(reading, 300, 10).errorsByCode).toEqual({ ThrottlingException: 3, unattributed: 2 });
  });

  it('passes AWS\'s errors on to the caller (status reports them and goes on)', async () => {
    cloudwatch.on(GetMetricDataCommand).rejects(Object.assign(new Error('User: arn:aws:iam::123456789012:user/ops is not authorized to perform: cloudwatch:GetMetricData because no identity-based policy allows the cloudwatch:GetMetricData action'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    await expect(readCloudWatch(new CloudWatchClient({ region: 'us-east-1' }), 'demo', 300, NOW)).rejects.toThrow(/cloudwatch:GetMetricData/);
  });
});

describe('the local stack\'s counters, read from the worker\'s EMF lines', () => {
  const line = (values: Parameters<typeof emfDocument>[2], at: number, code?: string, stack = 'demo') => JSON.stringify(emfDocument({ message: 'request' }, stack, values, code, at));

  it('sums counts per minute, reads latency percentiles within 1 %, and counts errors once, by code', () => {
    const recorder = new MetricsRecorder('demo');
    for (let ms = 1; ms <= 1000; ms++) recorder.ingest(line({ resultsOk: 1, modelLatency: ms, endToEndLatency: ms + 100, inputTokens: 3 }, NOW - 90_000));
    recorder.ingest(line({ resultsError: 1, attempts: 2 }, NOW, 'ThrottlingException'));
    recorder.ingest(line({ resultsOk: 1 }, NOW, undefined, 'another-stack'));
    recorder.ingest('START RequestId: 1 Version: $LATEST');
    recorder.ingest('{"_aws": not json');
    const reading = recorder.read(300, NOW);
    expect(reading.sums.resultsOk).toEqual([0, 0, 0, 1000, 0]);
    expect(reading.sums.resultsError).toEqual([0, 0, 0, 0, 1]);
    expect(reading.sums.inputTokens.reduce((a, b) => a + b)).toBe(3000);
    expect(reading.errorsByCode).toEqual({ ThrottlingException: 1 });
    const { p50, p95, p99 } = reading.latency.modelLatency;
    expect(Math.abs(p50! - 500) / 500).toBeLessThanOrEqual(0.01);
    expect(Math.abs(p95! - 950) / 950).toBeLessThanOrEqual(0.01);
    expect(Math.abs(p99! - 990) / 990).toBeLessThanOrEqual(0.01);
    expect(reading.endToEndP95).toEqual([null, null, null, expect.any(Number), null]);
    // Outside the window, nothing.
    expect(recorder.read(60, NOW).sums.resultsOk).toEqual([0]);
  });

  it('gives a request the metrics of how it ended', () => {
    const ok = { id: 'r', status: 'ok' as const, model: 'm', latencyMs: 40, attempt: 2, queuedAt: '2026-11-26T14:00:00.000Z', completedAt: '2026-11-26T14:00:01.500Z', usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 } };
    expect(requestMetrics(ok, 1, true)).toEqual({ throttledCalls: 1, resultsOk: 1, attempts: 2, modelLatency: 40, endToEndLatency: 1500, inputTokens: 3, outputTokens: 4 });
    expect(requestMetrics(undefined, 0, false)).toEqual({});
    expect(requestMetrics({ ...ok, status: 'error', latencyMs: 0, usage: undefined }, 0, false)).not.toHaveProperty('modelLatency');
    expect(requestMetrics({ ...ok, status: 'error', latencyMs: 0, usage: undefined }, 0, true)).toMatchObject({ modelLatency: 0 });
  });
});

describe('tail --logs', () => {
  it('shows a worker line without its EMF directive, and as stored with --json', () => {
    const stored = JSON.stringify(emfDocument({ message: 'request', id: 'r1', status: 'ok' }, 'demo', { resultsOk: 1 }, undefined, NOW));
    expect(readableLogLine(`${stored}\n`, false)).toBe('{"message":"request","id":"r1","status":"ok","Stack":"demo","ResultsOk":1}');
    expect(readableLogLine(stored, true)).toBe(stored);
    expect(readableLogLine('START RequestId: 1 Version: $LATEST\n', false)).toBe('START RequestId: 1 Version: $LATEST');
  });
});
