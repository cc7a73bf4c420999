import { MINUTE_MS, PERCENTILES, type MetricsReading, type Percentiles, type PipelineMetrics } from '../metrics-contract.js';

const total = (values: number[]) => values.reduce((a, b) => a + b, 0);
const perMinute = (value: number, windowSeconds: number) => Math.round((value / (windowSeconds / 60)) * 10) / 10;
const rounded = (p: Percentiles): Percentiles => Object.fromEntries(PERCENTILES.map((k) => [k, p[k] === null ? null : Math.round(p[k])])) as Percentiles;

/** The figures `status` and `top` print, from either source. */
export function summarize(reading: MetricsReading, windowSeconds: number, concurrencyLimit: number | undefined): PipelineMetrics {
  const { sums } = reading;
  const results = total(sums.resultsOk) + total(sums.resultsError);
  return {
    windowSeconds,
    from: new Date(reading.minutes[0]!).toISOString(),
    to: new Date(reading.minutes.at(-1)! + MINUTE_MS).toISOString(),
    resultsPerMinute: { ok: perMinute(total(sums.resultsOk), windowSeconds), error: perMinute(total(sums.resultsError), windowSeconds) },
    latencyMs: { endToEnd: rounded(reading.latency.endToEndLatency), model: rounded(reading.latency.modelLatency) },
    tokensPerMinute: { input: perMinute(total(sums.inputTokens), windowSeconds), output: perMinute(total(sums.outputTokens), windowSeconds) },
    throttledCallsPerResult: results ? Math.round((total(sums.throttledCalls) / results) * 100) / 100 : null,
    errorsByCode: reading.errorsByCode,
    oldestRequestAgeSeconds: reading.oldestRequestAgeSeconds,
    concurrency: { limit: concurrencyLimit ?? null, invocationsInFlight: reading.invocationsInFlight },
    perMinute: {
      start: reading.minutes.map((m) => new Date(m).toISOString()),
      ok: sums.resultsOk, error: sums.resultsError, inputTokens: sums.inputTokens, outputTokens: sums.outputTokens,
      endToEndP95: reading.endToEndP95.map((v) => (v === null ? null : Math.round(v))),
    },
  };
}
