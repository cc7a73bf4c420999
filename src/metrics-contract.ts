/**
 * The pipeline's metrics: what the worker writes into its log lines (CloudWatch Embedded Metric
 * Format), what `status` and `top` read back (CloudWatch GetMetricData, or the local stack's own
 * counters, which extract the same lines), and the figures they print. README, "Metrics".
 */

/** The CloudWatch namespace of every metric the worker emits. */
export const METRICS_NAMESPACE = 'BedrockQueue';

/**
 * The part of the window's error results no error code accounts for yet: CloudWatch's SEARCH finds
 * a metric only once its catalogue lists it, up to 15 minutes after a new code first appears.
 */
export const UNATTRIBUTED_ERRORS = 'unattributed';

/** Every metric has the Stack dimension; ResultsError is also published per ErrorCode. */
export const METRIC_DIMENSIONS = { stack: 'Stack', errorCode: 'ErrorCode' } as const;

/** The metrics of one request's log line, with their CloudWatch units. */
export const METRICS = {
  resultsOk: { name: 'ResultsOk', unit: 'Count' },
  resultsError: { name: 'ResultsError', unit: 'Count' },
  /** Duration of the last model call. */
  modelLatency: { name: 'ModelLatency', unit: 'Milliseconds' },
  /** From the API queueing the request to the worker finishing it, retries and waits included. */
  endToEndLatency: { name: 'EndToEndLatency', unit: 'Milliseconds' },
  inputTokens: { name: 'InputTokens', unit: 'Count' },
  outputTokens: { name: 'OutputTokens', unit: 'Count' },
  /** Model calls answered with ThrottlingException or ServiceQuotaExceededException. */
  throttledCalls: { name: 'ThrottledCalls', unit: 'Count' },
  /** Attempts a finished request took (1 when the first call answered). */
  attempts: { name: 'Attempts', unit: 'Count' },
  /** The mapping's maximum concurrency as the autopilot leaves it, each tick (the governor's log line). */
  autopilotConcurrency: { name: 'AutopilotConcurrency', unit: 'Count' },
} as const;

export type MetricKey = keyof typeof METRICS;
export type MetricValues = Partial<Record<MetricKey, number>>;

/** Metrics summed per minute (counts); the latencies are read as percentiles. */
export const SUMMED_METRICS = ['resultsOk', 'resultsError', 'inputTokens', 'outputTokens', 'throttledCalls', 'attempts'] as const satisfies readonly MetricKey[];
export const LATENCY_METRICS = ['endToEndLatency', 'modelLatency'] as const satisfies readonly MetricKey[];
export const PERCENTILES = ['p50', 'p95', 'p99'] as const;

/** `status --since` and `top --since`: the window the figures cover. */
export const DEFAULT_METRICS_WINDOW_SECONDS = 5 * 60;
/** CloudWatch keeps one-minute data for 15 days; the local stack keeps a day, and so does the window. */
export const MAX_METRICS_WINDOW_SECONDS = 24 * 3600;

export const MINUTE_MS = 60_000;

/** The start of the minute `ms` falls in (epoch ms): CloudWatch's one-minute periods. */
export const minuteOf = (ms: number) => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

/**
 * The minutes (epoch ms, oldest first) of a window ending with the current minute: CloudWatch's
 * one-minute periods, which the local stack's counters follow too.
 */
export function alignedMinutes(windowSeconds: number, now: number): number[] {
  const last = minuteOf(now);
  const count = Math.max(1, Math.ceil(windowSeconds / 60));
  return Array.from({ length: count }, (_, i) => last - (count - 1 - i) * MINUTE_MS);
}

export type Percentiles = Record<(typeof PERCENTILES)[number], number | null>;

/**
 * What the metrics sources give, the same from CloudWatch and from the local stack: per-minute sums
 * (oldest first), latency percentiles over the whole window, and error results by code.
 */
export interface MetricsReading {
  /** Start of each minute (epoch ms), oldest first; the last one may still be running. */
  minutes: number[];
  sums: Record<(typeof SUMMED_METRICS)[number], number[]>;
  /** End-to-end p95 of each minute (null: no result that minute). */
  endToEndP95: (number | null)[];
  latency: Record<(typeof LATENCY_METRICS)[number], Percentiles>;
  errorsByCode: Record<string, number>;
  /** Age of the oldest request waiting (seconds), when known. */
  oldestRequestAgeSeconds: number | null;
  /** Invocations of the worker in flight (the most over the last minute on AWS). */
  invocationsInFlight: number | null;
}

/** The figures of `status` and `top` (`status --json` prints them under "metrics"). */
export interface PipelineMetrics {
  windowSeconds: number;
  from: string;
  to: string;
  resultsPerMinute: { ok: number; error: number };
  /** Milliseconds; null where no result came in the window. */
  latencyMs: { endToEnd: Percentiles; model: Percentiles };
  tokensPerMinute: { input: number; output: number };
  /** Throttled model calls per finished request (null: no result). */
  throttledCallsPerResult: number | null;
  errorsByCode: Record<string, number>;
  oldestRequestAgeSeconds: number | null;
  concurrency: { limit: number | null; invocationsInFlight: number | null };
  /** Per minute, oldest first, for sparklines. */
  perMinute: { start: string[]; ok: number[]; error: number[]; inputTokens: number[]; outputTokens: number[]; endToEndP95: (number | null)[] };
}
