/**
 * The budget guard (issue 21): a day's spending (UTC) in tokens or in dollars, and when the
 * governor pauses consumption or resumes it. Pure functions, the same for the AWS schedule and the
 * local stack's tick. Bedrock has no spending cap: this is one.
 */

export interface Budget {
  limit: number;
  unit: 'tokens' | 'usd';
}

/** Dollars per million tokens, input and output. */
export interface Price {
  input: number;
  output: number;
}

/** The text of `--budget` and `--price` when there is none. */
export const NONE = 'none';

const SUFFIXES: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9 };

/** The budget as flags and tags write it (tokens in full): `5000000-tokens/day`, `40usd/day`. */
export const budgetText = (budget: Budget) => (budget.unit === 'tokens' ? `${budget.limit}-tokens/day` : `${budget.limit}usd/day`);

/** The price as flags write it: `in=3,out=15`. */
export const priceText = (price: Price) => `in=${price.input},out=${price.output}`;

/** `5M-tokens/day`, `200000-tokens/day`, `40usd/day`: a budget, or the reason it is not one. */
export function parseBudget(text: string): Budget | string {
  const tokens = /^(\d+(?:\.\d+)?)([kmg]?)-?tokens\/day$/i.exec(text.trim());
  if (tokens) {
    const limit = Math.round(Number(tokens[1]) * SUFFIXES[tokens[2]!.toLowerCase()]!);
    return limit >= 1 ? { limit, unit: 'tokens' } : `--budget ${text}: at least 1 token a day`;
  }
  const dollars = /^(\d+(?:\.\d+)?)usd\/day$/i.exec(text.trim());
  if (dollars) {
    const limit = Number(dollars[1]);
    return limit > 0 ? { limit, unit: 'usd' } : `--budget ${text}: more than 0 dollars a day`;
  }
  return `--budget ${text}: give tokens or dollars a day, as 5M-tokens/day or 40usd/day`;
}

/** `in=3,out=15`: dollars per million input and output tokens, or the reason it is not a price. */
export function parsePrice(text: string): Price | string {
  const fields = Object.fromEntries(text.trim().split(/[,\s]+/).map((pair) => pair.split('=')));
  const input = Number(fields.in);
  const output = Number(fields.out);
  const known = Object.keys(fields).every((k) => k === 'in' || k === 'out');
  if (!known || !(input >= 0) || !(output >= 0) || fields.in === undefined || fields.out === undefined) {
    return `--price ${text}: give dollars per million tokens, in and out, as in=3,out=15`;
  }
  return { input, output };
}

/** What tokens cost in the budget's unit. */
export function spent(budget: Budget, usage: { inputTokens: number; outputTokens: number }, price?: Price): number {
  if (budget.unit === 'tokens') return usage.inputTokens + usage.outputTokens;
  if (!price) throw new Error('a budget in dollars needs a price');
  return (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1e6;
}

/** The UTC day of an instant, as the budget counts days: 2026-12-03. */
export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** When the next UTC day begins (epoch ms): when a budget paused today may resume. */
export const nextUtcDay = (ms: number) => Date.UTC(new Date(ms).getUTCFullYear(), new Date(ms).getUTCMonth(), new Date(ms).getUTCDate() + 1);

export interface BudgetInput {
  budget: Budget;
  /** Spent on the current UTC day, in the budget's unit. */
  spentToday: number;
  /** Whether consumption is paused now, and (if the governor paused it for the budget) on which UTC day. */
  paused: boolean;
  pausedForBudgetOn?: string;
  /** The UTC day on which the operator resumed a spent budget (`resume`): no new pause that day. */
  overriddenOn?: string;
  now: number;
}

export type BudgetAction = { action: 'pause' | 'resume' | 'none'; reason: string };

/**
 * Pauses once the day's spending reaches the budget; resumes on a later UTC day only what it
 * paused itself (an operator's pause is the operator's to end).
 */
export function budgetAction(input: BudgetInput): BudgetAction {
  const today = utcDay(input.now);
  if (input.pausedForBudgetOn !== undefined && input.pausedForBudgetOn !== today) {
    return { action: 'resume', reason: `a new UTC day (${today}): the budget of ${describe(input.budget)} starts again` };
  }
  if (!input.paused && input.spentToday >= input.budget.limit && input.overriddenOn !== today) {
    return { action: 'pause', reason: `the budget of ${describe(input.budget)} is spent (${amount(input.budget, input.spentToday)} on ${today}); resumes at ${new Date(nextUtcDay(input.now)).toISOString()}` };
  }
  return { action: 'none', reason: `${amount(input.budget, input.spentToday)} of ${describe(input.budget)} spent on ${today}` };
}

const amount = (budget: Budget, value: number) => (budget.unit === 'tokens' ? `${Math.round(value)} tokens` : `$${value.toFixed(2)}`);
const describe = (budget: Budget) => `${amount(budget, budget.limit)} a day`;
