import { GetMetricDataCommand, type CloudWatchClient, type GetMetricDataCommandInput, type MetricDataQuery, type MetricDataResult } from '@aws-sdk/client-cloudwatch';
import { resourceNames } from '../contract.js';
import {
  LATENCY_METRICS, METRICS, METRICS_NAMESPACE, METRIC_DIMENSIONS, MINUTE_MS, PERCENTILES, SUMMED_METRICS,
  UNATTRIBUTED_ERRORS, alignedMinutes, minuteOf, type MetricsReading, type Percentiles,
} from '../metrics-contract.js';

const ERRORS_ID = 'errorsByCode';
const OLDEST_ID = 'oldestRequestAge';
const IN_FLIGHT_ID = 'invocationsInFlight';
const P95_PER_MINUTE_ID = 'endToEndP95PerMinute';

const stackMetric = (stack: string, key: keyof typeof METRICS) => ({
  Namespace: METRICS_NAMESPACE, MetricName: METRICS[key].name, Dimensions: [{ Name: METRIC_DIMENSIONS.stack, Value: stack }],
});

/**
 * One GetMetricData request for every figure: per-minute sums, latency percentiles over the whole
 * window (one period the window's length), the end-to-end p95 per minute, error results per code
 * (a SEARCH over the ErrorCode dimension; what it cannot attribute yet is `unattributed`), the
 * requests queue's oldest message and the worker's
 * concurrent executions. Start and end fall on minute boundaries, as CloudWatch recommends.
 */
export function metricDataRequest(stack: string, windowSeconds: number, now: number): GetMetricDataCommandInput {
  const names = resourceNames(stack);
  const minutes = alignedMinutes(windowSeconds, now);
  const window = minutes.length * 60;
  const queries: MetricDataQuery[] = [
    ...SUMMED_METRICS.map((key): MetricDataQuery => ({ Id: key, MetricStat: { Metric: stackMetric(stack, key), Period: 60, Stat: 'Sum' } })),
    ...LATENCY_METRICS.flatMap((key) => PERCENTILES.map((p): MetricDataQuery => ({ Id: `${key}_${p}`, MetricStat: { Metric: stackMetric(stack, key), Period: window, Stat: p } }))),
    { Id: P95_PER_MINUTE_ID, MetricStat: { Metric: stackMetric(stack, 'endToEndLatency'), Period: 60, Stat: 'p95' } },
    {
      Id: ERRORS_ID,
      Expression: `SEARCH('{${METRICS_NAMESPACE},${METRIC_DIMENSIONS.errorCode},${METRIC_DIMENSIONS.stack}} MetricName="${METRICS.resultsError.name}" ${METRIC_DIMENSIONS.stack}="${stack}"', 'Sum', ${window})`,
      Label: `\${PROP('Dim.${METRIC_DIMENSIONS.errorCode}')}`,
    },
    { Id: OLDEST_ID, MetricStat: { Metric: { Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage', Dimensions: [{ Name: 'QueueName', Value: names.requestsQueue }] }, Period: 60, Stat: 'Maximum' } },
    { Id: IN_FLIGHT_ID, MetricStat: { Metric: { Namespace: 'AWS/Lambda', MetricName: 'ConcurrentExecutions', Dimensions: [{ Name: 'FunctionName', Value: names.workerFunction }] }, Period: 60, Stat: 'Maximum' } },
  ];
  return { MetricDataQueries: queries, StartTime: new Date(minutes[0]!), EndTime: new Date(minutes.at(-1)! + MINUTE_MS), ScanBy: 'TimestampDescending' };
}

/** Reads the request's answer (every page) into the shape the local stack also gives. */
function readingOf(results: MetricDataResult[], windowSeconds: number, now: number): MetricsReading {
  const minutes = alignedMinutes(windowSeconds, now);
  const byId = new Map<string, { timestamps: number[]; values: number[] }[]>();
  for (const r of results) byId.set(r.Id!, [...(byId.get(r.Id!) ?? []), { timestamps: (r.Timestamps ?? []).map((t) => new Date(t).getTime()), values: r.Values ?? [] }]);
  const perMinute = (id: string) => {
    const series = minutes.map((): number | null => null);
    for (const { timestamps, values } of byId.get(id) ?? []) {
      timestamps.forEach((t, i) => {
        const at = (minuteOf(t) - minutes[0]!) / MINUTE_MS;
        if (at >= 0 && at < series.length) series[at] = (series[at] ?? 0) + values[i]!;
      });
    }
    return series;
  };
  const single = (id: string) => (byId.get(id) ?? []).flatMap((r) => r.values)[0] ?? null;
  const latest = (id: string) => perMinute(id).filter((v): v is number => v !== null).at(-1) ?? null;
  const errorsByCode: Record<string, number> = {};
  // Each metric a SEARCH finds comes back as a result of its own, labelled with its error code.
  for (const r of results) {
    if (!r.Id?.startsWith(ERRORS_ID)) continue;
    const total = (r.Values ?? []).reduce((a, b) => a + b, 0);
    const code = (r.Label ?? '').trim().split(/\s+/).pop() || 'Unknown';
    if (total > 0) errorsByCode[code] = (errorsByCode[code] ?? 0) + total;
  }
  const sums = Object.fromEntries(SUMMED_METRICS.map((key) => [key, perMinute(key).map((v) => v ?? 0)])) as MetricsReading['sums'];
  const unattributed = sums.resultsError.reduce((a, b) => a + b, 0) - Object.values(errorsByCode).reduce((a, b) => a + b, 0);
  if (unattributed > 0) errorsByCode[UNATTRIBUTED_ERRORS] = unattributed;
  return {
    minutes,
    sums,
    endToEndP95: perMinute(P95_PER_MINUTE_ID),
    latency: Object.fromEntries(LATENCY_METRICS.map((key) => [key, Object.fromEntries(PERCENTILES.map((p) => [p, single(`${key}_${p}`)])) as Percentiles])) as MetricsReading['latency'],
    errorsByCode,
    oldestRequestAgeSeconds: latest(OLDEST_ID),
    invocationsInFlight: latest(IN_FLIGHT_ID),
  };
}

/** The window's figures from CloudWatch: one GetMetricData call (and its further pages, if any). */
export async function readCloudWatch(cloudwatch: CloudWatchClient, stack: string, windowSeconds: number, now = Date.now()): Promise<MetricsReading> {
  const request = metricDataRequest(stack, windowSeconds, now);
  const results: MetricDataResult[] = [];
  let NextToken: string | undefined;
  do {
    const page = await cloudwatch.send(new GetMetricDataCommand({ ...request, ...(NextToken ? { NextToken } : {}) }));
    results.push(...(page.MetricDataResults ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return readingOf(results, windowSeconds, now);
}

