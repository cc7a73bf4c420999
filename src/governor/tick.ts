/**
 * One tick of the governor: read the mapping, the last interval's figures and the day's tokens;
 * pause or resume for the budget; move the concurrency by the autopilot's law; write back what
 * changed and what it must remember. The same code for the AWS schedule (the worker's governor
 * event) and the local stack's timer: only the host differs.
 */
import { nextConcurrency, type MinuteFigures } from './autopilot.js';
import { budgetAction, nextUtcDay, spent, utcDay, type Budget } from './budget.js';
import type { GovernorConfig, GovernorMarks } from './config.js';

export interface MappingNow {
  enabled: boolean;
  concurrency: number;
  marks: GovernorMarks;
}

export interface TokensUsed {
  inputTokens: number;
  outputTokens: number;
}

export interface GovernorChange {
  concurrency?: number;
  enabled?: boolean;
  /** The marks as they are to be kept (all of them: a mark absent here is removed). */
  marks: GovernorMarks;
}

/** Where a governor runs: the AWS worker (Lambda, CloudWatch, SQS) or the local stack. */
export interface GovernorHost {
  mapping: () => Promise<MappingNow>;
  /** The last interval's figures; undefined when they are missing. */
  lastInterval: (now: number) => Promise<MinuteFigures | undefined>;
  /** Tokens the stack's model calls used since the UTC day began. */
  tokensToday: (now: number) => Promise<TokensUsed>;
  apply: (change: GovernorChange) => Promise<void>;
}

export interface BudgetStatus {
  limit: number;
  unit: Budget['unit'];
  spentToday: number;
  paused: boolean;
  /** When a pause for the budget ends: the next UTC day. */
  resumesAt?: string;
}

/** What one tick saw and did: the log line's content. */
export interface TickOutcome {
  concurrency: { from: number; to: number; reason: string } | null;
  budget: (BudgetStatus & { action: 'pause' | 'resume' | 'none'; reason: string }) | null;
  changed: boolean;
}

/** What the budget stands at, in the shape of `status --json`'s `governor.budget`. */
export function budgetStatus(budget: Budget, spentToday: number, marks: GovernorMarks, now: number): BudgetStatus {
  const paused = marks.budgetPausedOn === utcDay(now);
  return { limit: budget.limit, unit: budget.unit, spentToday, paused, ...(paused ? { resumesAt: new Date(nextUtcDay(now)).toISOString() } : {}) };
}

export async function governorTick(host: GovernorHost, config: GovernorConfig | undefined, now: number): Promise<TickOutcome> {
  const live = await host.mapping();
  const marks: GovernorMarks = { ...live.marks };
  const change: GovernorChange = { marks };
  let budget: TickOutcome['budget'] = null;

  if (config?.budget) {
    const spentToday = spent(config.budget, await host.tokensToday(now), config.price);
    const action = budgetAction({
      budget: config.budget, spentToday, paused: !live.enabled, now,
      ...(marks.budgetPausedOn ? { pausedForBudgetOn: marks.budgetPausedOn } : {}),
      ...(marks.budgetOverriddenOn ? { overriddenOn: marks.budgetOverriddenOn } : {}),
    });
    if (action.action === 'pause') {
      change.enabled = false;
      marks.budgetPausedOn = utcDay(now);
    } else if (action.action === 'resume') {
      change.enabled = true;
      delete marks.budgetPausedOn;
    }
    budget = { ...budgetStatus(config.budget, spentToday, marks, now), ...action };
  } else if (marks.budgetPausedOn) {
    // The budget was removed while it held consumption: what it paused, it resumes.
    change.enabled = true;
    delete marks.budgetPausedOn;
  }
  if (marks.budgetOverriddenOn && marks.budgetOverriddenOn !== utcDay(now)) delete marks.budgetOverriddenOn;

  let concurrency: TickOutcome['concurrency'] = null;
  if (config?.autopilot) {
    const last = marks.lastChange;
    const sinceLastCutSeconds = last?.cause === 'throttled' ? (now - Date.parse(last.at)) / 1000 : undefined;
    const decision = nextConcurrency({ concurrency: live.concurrency, ceiling: config.ceiling, ...(sinceLastCutSeconds !== undefined ? { sinceLastCutSeconds } : {}) }, await host.lastInterval(now));
    concurrency = { from: live.concurrency, to: decision.concurrency, reason: decision.reason };
    if (decision.concurrency !== live.concurrency) {
      change.concurrency = decision.concurrency;
      marks.lastChange = { at: new Date(now).toISOString(), from: live.concurrency, to: decision.concurrency, cause: decision.cause ?? 'bounds', ...(decision.figure !== undefined ? { figure: decision.figure } : {}) };
    }
  }

  const changed = change.concurrency !== undefined || change.enabled !== undefined || JSON.stringify(marks) !== JSON.stringify(live.marks);
  if (changed) await host.apply(change);
  return { concurrency, budget, changed };
}
