import type { CloudWatchClient, MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { METRICS, METRICS_NAMESPACE, METRIC_DIMENSIONS, MINUTE_MS, minuteOf, type MetricKey } from '../metrics-contract.js';
import { utcDay } from './budget.js';
import type { TokensUsed } from './tick.js';
import type { MinuteFigures } from './autopilot.js';

const stackMetric = (stack: string, key: MetricKey, period: number, Stat = 'Sum'): MetricDataQuery => ({
  Id: key,
  MetricStat: { Metric: { Namespace: METRICS_NAMESPACE, MetricName: METRICS[key].name, Dimensions: [{ Name: METRIC_DIMENSIONS.stack, Value: stack }] }, Period: period, Stat },
});

/** Imported when called: the worker's bundle leaves the CloudWatch client to the Lambda runtime, for the governor's tick alone. */
async function read(cloudwatch: CloudWatchClient, queries: MetricDataQuery[], start: number, end: number): Promise<Map<string, number | undefined>> {
  const { GetMetricDataCommand } = await import('@aws-sdk/client-cloudwatch');
  const { MetricDataResults = [] } = await cloudwatch.send(new GetMetricDataCommand({ MetricDataQueries: queries, StartTime: new Date(start), EndTime: new Date(end) }));
  return new Map(MetricDataResults.map((r) => [r.Id!, r.Values?.length ? r.Values.reduce((a, b) => a + b, 0) : undefined]));
}

/**
 * The last whole minute as CloudWatch has it: results and throttled calls (the worker's metrics)
 * and the most invocations in flight (Lambda's ConcurrentExecutions); undefined when CloudWatch has
 * none of them for that minute (a gap in the data, or nothing ran).
 */
export async function lastMinute(cloudwatch: CloudWatchClient, stack: string, functionName: string, now: number): Promise<Omit<MinuteFigures, 'backlog'> | undefined> {
  const end = minuteOf(now);
  const values = await read(cloudwatch, [
    stackMetric(stack, 'resultsOk', 60), stackMetric(stack, 'resultsError', 60), stackMetric(stack, 'throttledCalls', 60),
    { Id: 'inFlight', MetricStat: { Metric: { Namespace: 'AWS/Lambda', MetricName: 'ConcurrentExecutions', Dimensions: [{ Name: 'FunctionName', Value: functionName }] }, Period: 60, Stat: 'Maximum' } },
    stackMetric(stack, 'modelLatency', 60, 'p50'),
  ], end - MINUTE_MS, end);
  if ([...values.values()].every((v) => v === undefined)) return undefined;
  const of = (id: string) => values.get(id) ?? 0;
  return {
    results: of('resultsOk') + of('resultsError'), throttled: of('throttledCalls'), inFlight: of('inFlight'),
    seconds: 60, modelLatencyMs: values.get('modelLatency') ?? null,
  };
}

/** The tokens of the stack's model calls since the UTC day began: one period from midnight to now. */
export async function tokensToday(cloudwatch: CloudWatchClient, stack: string, now: number): Promise<TokensUsed> {
  const midnight = Date.parse(`${utcDay(now)}T00:00:00Z`);
  const end = minuteOf(now) + MINUTE_MS;
  const values = await read(cloudwatch, [stackMetric(stack, 'inputTokens', 86_400), stackMetric(stack, 'outputTokens', 86_400)], midnight, end);
  return { inputTokens: values.get('inputTokens') ?? 0, outputTokens: values.get('outputTokens') ?? 0 };
}
