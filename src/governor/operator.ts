import { nextUtcDay, utcDay } from './budget.js';
import type { GovernorConfig, GovernorMarks } from './config.js';

export interface OperatorWish {
  concurrency?: number;
  enabled?: boolean;
}

export interface OperatorChange {
  /** The mapping's maximum concurrency to set, if it changes. */
  concurrency?: number;
  /** The autopilot's new ceiling (set-concurrency with autopilot on). */
  ceiling?: number;
  enabled?: boolean;
  marks: GovernorMarks;
  /** What the operator should know: a resume that overrides a spent budget says so. */
  note?: string;
}

/**
 * What set-concurrency, pause and resume mean with a governor: with autopilot, set-concurrency sets
 * the ceiling (and brings the concurrency under it at once); a resume of what the budget paused
 * resumes now and holds the budget off until the next UTC day.
 */
export function operatorChange(config: GovernorConfig | undefined, live: { concurrency: number; marks: GovernorMarks }, wish: OperatorWish, now: number): OperatorChange {
  const marks = { ...live.marks };
  const change: OperatorChange = { marks };
  if (wish.concurrency !== undefined) {
    if (config?.autopilot) {
      change.ceiling = wish.concurrency;
      if (live.concurrency > wish.concurrency) change.concurrency = wish.concurrency;
    } else change.concurrency = wish.concurrency;
  }
  if (wish.enabled !== undefined) change.enabled = wish.enabled;
  if (wish.enabled === true && marks.budgetPausedOn) {
    delete marks.budgetPausedOn;
    marks.budgetOverriddenOn = utcDay(now);
    change.note = `the day's budget is spent: consumption resumes now, and the budget holds it no more until ${new Date(nextUtcDay(now)).toISOString()} (the next UTC day)`;
  }
  return change;
}
