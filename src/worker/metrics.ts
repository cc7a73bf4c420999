import { METRICS, METRICS_NAMESPACE, METRIC_DIMENSIONS, type MetricKey, type MetricValues } from '../metrics-contract.js';
import type { ResultRecord } from '../contract.js';
import { fitJson } from './fit-json.js';

/** CloudWatch Logs takes events of at most 256 KB, 26 bytes of which are its own: a longer line is cut, and its metrics lost. */
export const MAX_LOG_LINE_BYTES = 256 * 1024 - 26;
/** The error code as a dimension value: CloudWatch takes up to 1,024 characters; codes are exception names. */
const MAX_DIMENSION_CHARS = 255;

/**
 * The metric values of a request that ended with `result` (absent: it goes back to the queue), after
 * `throttledCalls` throttled calls; its last attempt reached the model if `modelCalled`.
 */
export function requestMetrics(result: ResultRecord | undefined, throttledCalls: number, modelCalled: boolean): MetricValues {
  const values: MetricValues = throttledCalls > 0 ? { throttledCalls } : {};
  if (!result) return values;
  values[result.status === 'ok' ? 'resultsOk' : 'resultsError'] = 1;
  values.attempts = result.attempt;
  // An attempt that never reached the model (an invalid body, no time left) has no model latency.
  if (modelCalled) values.modelLatency = result.latencyMs;
  const endToEnd = Date.parse(result.completedAt) - Date.parse(result.queuedAt ?? '');
  if (endToEnd >= 0) values.endToEndLatency = endToEnd;
  if (result.usage) Object.assign(values, { inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens });
  return values;
}

/**
 * A log line that is also a CloudWatch Embedded Metric Format document: `_aws` names the root
 * members that are metrics, once per dimension set (every metric per Stack, ResultsError also per
 * Stack and ErrorCode), and CloudWatch Logs extracts them from the log group the worker writes anyway.
 */
export function emfDocument(fields: Record<string, unknown>, stack: string, values: MetricValues, errorCode?: string, now = Date.now()): Record<string, unknown> {
  const keys = (Object.keys(values) as MetricKey[]).filter((k) => Number.isFinite(values[k]) && values[k]! >= 0);
  if (!keys.length) return fields;
  const definition = (k: MetricKey) => ({ Name: METRICS[k].name, Unit: METRICS[k].unit });
  const { stack: stackDimension, errorCode: errorDimension } = METRIC_DIMENSIONS;
  const directives: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] = [
    { Namespace: METRICS_NAMESPACE, Dimensions: [[stackDimension]], Metrics: keys.map(definition) },
  ];
  const code = errorCode?.slice(0, MAX_DIMENSION_CHARS);
  if (code && keys.includes('resultsError')) directives.push({ Namespace: METRICS_NAMESPACE, Dimensions: [[stackDimension, errorDimension]], Metrics: [definition('resultsError')] });
  return {
    _aws: { Timestamp: now, CloudWatchMetrics: directives },
    ...fields,
    [stackDimension]: stack,
    ...(code ? { [errorDimension]: code } : {}),
    ...Object.fromEntries(keys.map((k) => [METRICS[k].name, values[k]])),
  };
}

/**
 * Writes one JSON log line to stdout itself: Lambda's console.log prefixes a timestamp and level,
 * and CloudWatch extracts no metric from a prefixed line. Text fields (prompt and output, logged
 * only when the operator opted in) are cut so that the line stays one whole event.
 */
export function writeLogLine(document: Record<string, unknown>, write: (line: string) => void = (line) => process.stdout.write(line)): void {
  write(`${fitJson(document, ['prompt', 'output'], MAX_LOG_LINE_BYTES, { textCut: true })}\n`);
}
