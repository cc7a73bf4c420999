import { governorConfig, type GovernorMarks } from '../../governor/config.js';
import { NONE, spent, utcDay } from '../../governor/budget.js';
import { governorTick, type GovernorHost, type TickOutcome, type TokensUsed } from '../../governor/tick.js';
import { governorReport, type GovernorReport } from '../../governor/report.js';
import { governorLog } from '../../worker/governor.js';
import type { MappingEmulator } from '../services/mapping.js';
import type { MetricsRecorder } from '../services/metrics-recorder.js';
import type { LocalGovernorMemory, LocalSettings } from './settings.js';

/** The governor's tick on AWS: the schedule's rate(1 minute), which the local stack keeps unless told otherwise. */
export const GOVERNOR_INTERVAL_MS = 60_000;

export interface LocalGovernorDeps {
  mapping: MappingEmulator;
  metrics: MetricsRecorder;
  /** Requests waiting in the requests queue. */
  backlog: () => number;
  settings: () => LocalSettings;
  keep: (change: (now: LocalSettings) => Partial<LocalSettings>) => Promise<void>;
  log: (line: string) => void;
  stack: string;
}

/**
 * The governor on the local stack: the same tick as the AWS worker's governor event, reading the
 * local figures (the worker's metric lines, the mapping, the queue) on a timer.
 */
export class LocalGovernor {
  private previous?: { counts: ReturnType<MetricsRecorder['counts']>; at: number };
  /** Tokens of today used by earlier runs (the state file's), to which this run's are added. */
  private readonly earlier: LocalGovernorMemory['tokens'];
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(private readonly deps: LocalGovernorDeps) {
    this.earlier = deps.settings().governor?.tokens;
  }

  start() {
    const every = this.deps.settings().governorIntervalMs ?? GOVERNOR_INTERVAL_MS;
    this.previous = { counts: this.deps.metrics.counts(), at: Date.now() };
    this.timer = setInterval(() => {
      this.running ??= this.tick().catch((err: unknown) => this.deps.log(`governor: the tick failed (${(err as Error).message}); the next one tries again`)).finally(() => (this.running = undefined));
    }, every);
  }

  async stop() {
    clearInterval(this.timer);
    await this.running;
  }

  private memory(): LocalGovernorMemory {
    return this.deps.settings().governor ?? { marks: {} };
  }

  private tokensToday(now: number): TokensUsed {
    const today = utcDay(now);
    const sinceMidnight = (now - Date.parse(`${today}T00:00:00Z`)) / 1000;
    const { sums } = this.deps.metrics.read(Math.max(60, sinceMidnight), now);
    const total = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const base = this.earlier?.day === today ? this.earlier : { inputTokens: 0, outputTokens: 0 };
    return { inputTokens: base.inputTokens + total(sums.inputTokens), outputTokens: base.outputTokens + total(sums.outputTokens) };
  }

  private async tick(now = Date.now()): Promise<TickOutcome> {
    const { deps } = this;
    const { mapping, metrics } = deps;
    const settings = deps.settings();
    // Read once a tick, for the budget and for the state file.
    const tokens = settings.budget !== NONE ? this.tokensToday(now) : undefined;
    const host: GovernorHost = {
      mapping: async () => ({ enabled: mapping.status().state === 'Enabled', concurrency: mapping.status().concurrency, marks: this.memory().marks }),
      lastInterval: async () => {
        const counts = metrics.counts();
        const before = this.previous;
        this.previous = { counts, at: now };
        if (!before) return undefined;
        return {
          results: counts.resultsOk + counts.resultsError - before.counts.resultsOk - before.counts.resultsError,
          throttled: counts.throttledCalls - before.counts.throttledCalls,
          backlog: deps.backlog(),
          inFlight: mapping.takePeakInFlight(),
          seconds: (now - before.at) / 1000,
          // The median of this minute and the last: the recorder keeps latencies by the minute.
          modelLatencyMs: metrics.read(120, now).latency.modelLatency.p50,
        };
      },
      tokensToday: async () => tokens ?? this.tokensToday(now),
      apply: async (change) => {
        if (change.concurrency !== undefined) mapping.setConcurrency(change.concurrency);
        if (change.enabled !== undefined) await mapping.setEnabled(change.enabled);
        const status = mapping.status();
        await deps.keep((settings) => ({
          paused: status.state === 'Disabled',
          governor: { ...settings.governor, marks: change.marks, ...(settings.autopilot ? { concurrency: status.concurrency } : {}) },
        }));
      },
    };
    const outcome = await governorTick(host, governorConfig(settings), now);
    const saved = this.memory().tokens;
    if (tokens && (saved?.inputTokens !== tokens.inputTokens || saved.outputTokens !== tokens.outputTokens)) {
      await deps.keep((s) => ({ governor: { marks: {}, ...s.governor, tokens: { day: utcDay(now), ...tokens } } }));
    }
    if (outcome.changed) deps.log(JSON.stringify(governorLog(outcome, deps.stack, now)));
    return outcome;
  }

  /** `status --json`'s `governor`, from the settings, the mapping and today's tokens. */
  report(now = Date.now()): GovernorReport {
    const config = governorConfig(this.deps.settings());
    const marks: GovernorMarks = this.memory().marks;
    const spentToday = config?.budget ? spent(config.budget, this.tokensToday(now), config.price) : 0;
    return governorReport(config, { concurrency: this.deps.mapping.status().concurrency, marks }, spentToday, now);
  }
}
