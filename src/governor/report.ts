import { describeChange, type GovernorConfig, type GovernorMarks } from './config.js';
import { budgetStatus, type BudgetStatus } from './tick.js';

/** `status --json`'s `governor`, the same on both targets: null where a feature is off. */
export interface GovernorReport {
  autopilot: { enabled: true; concurrency: number; ceiling: number; lastChange: { at: string; from: number; to: number; reason: string } | null } | null;
  /** spentToday is null when it could not be read (AWS: CloudWatch refused), with the reason in spentError. */
  budget: (Omit<BudgetStatus, 'spentToday'> & { spentToday: number | null; spentError?: string; price?: { input: number; output: number } }) | null;
}

export function governorReport(config: GovernorConfig | undefined, mapping: { concurrency: number; marks: GovernorMarks }, spentToday: number | { error: string }, now: number): GovernorReport {
  const last = mapping.marks.lastChange;
  return {
    autopilot: config?.autopilot
      ? { enabled: true, concurrency: mapping.concurrency, ceiling: config.ceiling, lastChange: last ? { at: last.at, from: last.from, to: last.to, reason: describeChange(last) } : null }
      : null,
    budget: config?.budget ? {
      ...budgetStatus(config.budget, typeof spentToday === 'number' ? spentToday : 0, mapping.marks, now),
      ...(typeof spentToday === 'number' ? {} : { spentToday: null, spentError: spentToday.error }),
      ...(config.price ? { price: config.price } : {}),
    } : null,
  };
}
