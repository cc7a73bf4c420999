import {
  alignedMinutes, minuteOf, LATENCY_METRICS, MAX_METRICS_WINDOW_SECONDS, METRICS, METRICS_NAMESPACE, METRIC_DIMENSIONS, PERCENTILES, SUMMED_METRICS,
  type MetricKey, type MetricsReading, type Percentiles,
} from '../../metrics-contract.js';

/** Latencies are kept as log-scale histograms: percentiles within 1%, in bounded memory at any rate. */
const GROWTH = 1.01;

type Summed = (typeof SUMMED_METRICS)[number];
type Latency = (typeof LATENCY_METRICS)[number];

interface Minute {
  sums: Record<Summed, number>;
  latency: Record<Latency, Map<number, number>>;
  errors: Map<string, number>;
}

const KEY_OF_NAME = new Map(Object.entries(METRICS).map(([key, { name }]) => [name as string, key as MetricKey]));
const isSummed = (key: MetricKey): key is Summed => (SUMMED_METRICS as readonly string[]).includes(key);
const isLatency = (key: MetricKey): key is Latency => (LATENCY_METRICS as readonly string[]).includes(key);
const bucketOf = (ms: number) => (ms < 1 ? -1 : Math.ceil(Math.log(ms) / Math.log(GROWTH)));
const valueOf = (bucket: number) => (bucket < 0 ? 0 : Math.round(GROWTH ** bucket));

function percentiles(histogram: Map<number, number>): Percentiles {
  const total = [...histogram.values()].reduce((a, b) => a + b, 0);
  const sorted = [...histogram].sort(([a], [b]) => a - b);
  const at = (p: number) => {
    if (!total) return null;
    const rank = Math.ceil((p / 100) * total);
    let seen = 0;
    for (const [bucket, count] of sorted) if ((seen += count) >= rank) return valueOf(bucket);
    return null;
  };
  return Object.fromEntries(PERCENTILES.map((p) => [p, at(Number(p.slice(1)))])) as Percentiles;
}

/**
 * The local stack's CloudWatch: extracts the metrics of the worker's log lines (Embedded Metric
 * Format, the same lines Lambda sends to CloudWatch Logs) into per-minute sums and latency
 * histograms for a day, and reads them back in the shape `status` and `top` print.
 */
export class MetricsRecorder {
  private readonly minutes = new Map<number, Minute>();
  private readonly totals = Object.fromEntries(SUMMED_METRICS.map((key) => [key, 0])) as Record<Summed, number>;

  constructor(private readonly stack: string) {}

  /** Takes one log line of the worker; lines that are not this stack's EMF documents are ignored, as CloudWatch ignores them. */
  ingest(line: string): void {
    if (!line.startsWith('{') || !line.includes('"_aws"')) return;
    let document: Record<string, unknown> & { _aws?: { Timestamp?: unknown; CloudWatchMetrics?: unknown } };
    try {
      document = JSON.parse(line) as typeof document;
    } catch {
      return;
    }
    const { Timestamp, CloudWatchMetrics } = document._aws ?? {};
    if (typeof Timestamp !== 'number' || !Array.isArray(CloudWatchMetrics) || document[METRIC_DIMENSIONS.stack] !== this.stack) return;
    const minute = this.minute(Timestamp);
    for (const directive of CloudWatchMetrics as { Namespace?: string; Dimensions?: string[][]; Metrics?: { Name: string }[] }[]) {
      if (directive.Namespace !== METRICS_NAMESPACE) continue;
      for (const dimensions of directive.Dimensions ?? []) {
        const perCode = dimensions.includes(METRIC_DIMENSIONS.errorCode);
        const code = document[METRIC_DIMENSIONS.errorCode];
        if (perCode && typeof code !== 'string') continue;
        for (const { Name } of directive.Metrics ?? []) {
          const value = document[Name];
          const key = KEY_OF_NAME.get(Name);
          if (typeof value !== 'number' || !key) continue;
          if (perCode) {
            if (key === 'resultsError') minute.errors.set(code as string, (minute.errors.get(code as string) ?? 0) + value);
          } else if (isSummed(key)) {
            minute.sums[key] += value;
            this.totals[key] += value;
          } else if (isLatency(key)) {
            const bucket = bucketOf(value);
            minute.latency[key].set(bucket, (minute.latency[key].get(bucket) ?? 0) + 1);
          }
        }
      }
    }
  }

  /** Every count since the recorder started: the governor reads its interval as the difference of two. */
  counts(): Record<Summed, number> {
    return { ...this.totals };
  }

  /** Per-minute sums, percentiles and error codes over the window ending now. */
  read(windowSeconds: number, now = Date.now()): Pick<MetricsReading, 'minutes' | 'sums' | 'endToEndP95' | 'latency' | 'errorsByCode'> {
    const minutes = alignedMinutes(windowSeconds, now);
    const buckets = minutes.map((start) => this.minutes.get(start));
    const merged = (key: Latency) => {
      const histogram = new Map<number, number>();
      for (const bucket of buckets) for (const [b, n] of bucket?.latency[key] ?? []) histogram.set(b, (histogram.get(b) ?? 0) + n);
      return histogram;
    };
    const errorsByCode: Record<string, number> = {};
    for (const bucket of buckets) for (const [code, n] of bucket?.errors ?? []) errorsByCode[code] = (errorsByCode[code] ?? 0) + n;
    return {
      minutes,
      sums: Object.fromEntries(SUMMED_METRICS.map((key) => [key, buckets.map((b) => b?.sums[key] ?? 0)])) as MetricsReading['sums'],
      endToEndP95: buckets.map((b) => (b ? percentiles(b.latency.endToEndLatency).p95 : null)),
      latency: { endToEndLatency: percentiles(merged('endToEndLatency')), modelLatency: percentiles(merged('modelLatency')) },
      errorsByCode,
    };
  }

  private minute(timestamp: number): Minute {
    const start = minuteOf(timestamp);
    let minute = this.minutes.get(start);
    if (!minute) {
      minute = {
        sums: Object.fromEntries(SUMMED_METRICS.map((key) => [key, 0])) as Minute['sums'],
        latency: { endToEndLatency: new Map(), modelLatency: new Map() },
        errors: new Map(),
      };
      this.minutes.set(start, minute);
      for (const old of this.minutes.keys()) if (old < start - MAX_METRICS_WINDOW_SECONDS * 1000) this.minutes.delete(old);
    }
    return minute;
  }
}
