import { DEFAULT_METRICS_WINDOW_SECONDS, MAX_METRICS_WINDOW_SECONDS, type Percentiles, type PipelineMetrics } from '../metrics-contract.js';
import { UsageError } from '../errors.js';
import { formatSeconds } from '../output.js';
import { duration } from '../flag-values.js';

/** `--since 15m`: the window of the figures, whole minutes from 1 minute to a day. */
export const sinceOption = {
  type: 'string',
  requiresArg: true,
  default: `${DEFAULT_METRICS_WINDOW_SECONDS / 60}m`,
  describe: 'The window of the throughput, latency, token and error figures (1m to 24h or 1d)',
  coerce: (value: unknown): number => {
    const seconds = Math.ceil(duration('since')(value)! / 60_000) * 60;
    if (!(seconds >= 60 && seconds <= MAX_METRICS_WINDOW_SECONDS)) throw new UsageError(`--since must be from 1m to 24h (1d) (got ${String(value)})`);
    return seconds;
  },
} as const;

/** 950 ms, 1.2 s, 3 min 5 s. */
export function formatMs(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : formatSeconds(ms);
}

/** 12, 1.5k, 2.3M. */
export function formatCount(n: number): string {
  if (n < 1000) return String(Math.round(n * 10) / 10);
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

const percentiles = (p: Percentiles) => `p50 ${formatMs(p.p50)}  p95 ${formatMs(p.p95)}  p99 ${formatMs(p.p99)}`;

export function windowLabel(m: PipelineMetrics): string {
  const minutes = m.windowSeconds / 60;
  return minutes % 60 === 0 ? `last ${minutes / 60} h` : `last ${minutes} min`;
}

/** Errors by code, most first: "ThrottlingException 3, ValidationException 1". */
export function errorList(errors: Record<string, number>): string {
  const sorted = Object.entries(errors).sort(([, a], [, b]) => b - a);
  return sorted.length ? sorted.map(([code, n]) => `${code} ${n}`).join(', ') : 'none';
}

/** The rows `status` prints under the queues: the four questions, answered for the window. */
export function metricsRows(m: PipelineMetrics): string[][] {
  return [
    ['Results', `${formatCount(m.resultsPerMinute.ok)}/min ok, ${formatCount(m.resultsPerMinute.error)}/min error (${windowLabel(m)})`],
    ['End to end', percentiles(m.latencyMs.endToEnd)],
    ['Model', percentiles(m.latencyMs.model)],
    ['Tokens', `${formatCount(m.tokensPerMinute.input)}/min in, ${formatCount(m.tokensPerMinute.output)}/min out`],
    ['Throttled', m.throttledCallsPerResult === null ? '-' : `${m.throttledCallsPerResult} calls per result`],
    ['Errors', errorList(m.errorsByCode)],
    ['Oldest request', m.oldestRequestAgeSeconds === null ? '-' : formatMs(m.oldestRequestAgeSeconds * 1000)],
  ];
}
