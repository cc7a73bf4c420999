/**
 * What the governor is told (its settings) and what it remembers between ticks (its marks), and how
 * both live in the tags of the event source mapping on AWS, so that the stack's state stays in tags.
 * Tag values allow letters, numbers, spaces and `_ . : / = + - @` only: the values below keep to them.
 */
import { budgetText, NONE, parseBudget, parsePrice, type Budget, type Price } from './budget.js';

export interface GovernorConfig {
  autopilot: boolean;
  /** `--concurrency`: the autopilot's ceiling, or the fixed concurrency without it. */
  ceiling: number;
  budget?: Budget;
  price?: Price;
}

/** What set the last autopilot change: throttling, a backlog with every slot busy, or the ceiling's bounds. */
export type ChangeCause = 'throttled' | 'backlog' | 'bounds';

export interface LastChange {
  at: string;
  from: number;
  to: number;
  cause: ChangeCause;
  /** The share of calls throttled (a cut), or the requests waiting (a raise). */
  figure?: number;
}

export interface GovernorMarks {
  lastChange?: LastChange;
  /** The UTC day on which the governor paused consumption because the budget was spent. */
  budgetPausedOn?: string;
  /** The UTC day on which the operator resumed a spent budget (`resume`): no new pause that day. */
  budgetOverriddenOn?: string;
}

/** The settings of the governor, from the stack's settings (null when neither feature is on). */
export function governorConfig(settings: { autopilot: boolean; concurrency: number; budget: string; price: string }): GovernorConfig | undefined {
  const budget = settings.budget === NONE ? undefined : parseBudget(settings.budget);
  const price = settings.price === NONE ? undefined : parsePrice(settings.price);
  if (typeof budget === 'string' || typeof price === 'string') throw new Error(typeof budget === 'string' ? budget : String(price));
  if (!settings.autopilot && !budget) return undefined;
  return { autopilot: settings.autopilot, ceiling: settings.concurrency, ...(budget ? { budget } : {}), ...(price ? { price } : {}) };
}

/** Whether the settings call for the governor at all (its schedule, role and policy on AWS). */
export const governorOn = (settings: Parameters<typeof governorConfig>[0]) => governorConfig(settings) !== undefined;

/** Why a budget cannot be kept, or undefined: a budget in dollars needs a price per million tokens. */
export function budgetProblem(settings: { budget: string; price: string }): string | undefined {
  if (settings.budget === NONE || settings.price !== NONE) return undefined;
  const budget = parseBudget(settings.budget);
  return typeof budget !== 'string' && budget.unit === 'usd'
    ? `--budget ${settings.budget} is in dollars, and the price table knows no price for this model: give its price per million tokens, as --price in=3,out=15 (input and output, from the Bedrock pricing page)`
    : undefined;
}

export const GOVERNOR_TAGS = {
  autopilot: 'bedrock-queue:autopilot',
  ceiling: 'bedrock-queue:ceiling',
  budget: 'bedrock-queue:budget',
  price: 'bedrock-queue:price',
  lastChange: 'bedrock-queue:autopilot-last',
  budgetPausedOn: 'bedrock-queue:budget-paused',
  budgetOverriddenOn: 'bedrock-queue:budget-overridden',
} as const;

const SETTING_TAGS = [GOVERNOR_TAGS.autopilot, GOVERNOR_TAGS.ceiling, GOVERNOR_TAGS.budget, GOVERNOR_TAGS.price] as const;

/** The tags that hold the governor's settings, as they should be (absent keys: not set). */
export function settingTags(config: GovernorConfig | undefined): Record<string, string> {
  if (!config) return {};
  return {
    ...(config.autopilot ? { [GOVERNOR_TAGS.autopilot]: 'on', [GOVERNOR_TAGS.ceiling]: String(config.ceiling) } : {}),
    ...(config.budget ? { [GOVERNOR_TAGS.budget]: budgetText(config.budget) } : {}),
    ...(config.price ? { [GOVERNOR_TAGS.price]: `in=${config.price.input} out=${config.price.output}` } : {}),
  };
}

/** The live tags that hold the governor's settings, and no others. */
export const liveSettingTags = (tags: Record<string, string>) =>
  Object.fromEntries(SETTING_TAGS.filter((key) => tags[key] !== undefined).map((key) => [key, tags[key]!]));

/** The setting tags that differ: those to set, and the keys to remove. */
export function settingTagChanges(live: Record<string, string>, config: GovernorConfig | undefined): { set: Record<string, string>; remove: string[] } {
  const wanted = settingTags(config);
  return {
    set: Object.fromEntries(Object.entries(wanted).filter(([key, value]) => live[key] !== value)),
    remove: SETTING_TAGS.filter((key) => live[key] !== undefined && wanted[key] === undefined),
  };
}

/** The governor's settings, from the mapping's tags and its concurrency (the ceiling, without autopilot). */
export function configFromTags(tags: Record<string, string>, mappingConcurrency: number | undefined): GovernorConfig | undefined {
  const settings = settingsFromTags(tags, mappingConcurrency);
  return governorConfig({ ...settings, concurrency: settings.concurrency ?? mappingConcurrency ?? 0 });
}

/** The governor's settings as the mapping's tags hold them (the concurrency: the mapping's, without autopilot). */
export function settingsFromTags(tags: Record<string, string>, mappingConcurrency: number | undefined) {
  const autopilot = tags[GOVERNOR_TAGS.autopilot] === 'on';
  const ceiling = Number(tags[GOVERNOR_TAGS.ceiling]);
  const concurrency = autopilot && ceiling > 0 ? ceiling : mappingConcurrency;
  const price = tags[GOVERNOR_TAGS.price] && parsePrice(tags[GOVERNOR_TAGS.price]!);
  return {
    autopilot,
    ...(concurrency ? { concurrency } : {}),
    budget: tags[GOVERNOR_TAGS.budget] ?? NONE,
    price: price && typeof price !== 'string' ? `in=${price.input},out=${price.output}` : NONE,
  };
}

const pairs = (values: Record<string, string | number | undefined>) => Object.entries(values).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`).join(' ');
const unpairs = (text: string) => Object.fromEntries(text.split(' ').map((pair) => pair.split('=') as [string, string]));

/** The marks as tags: every key of GOVERNOR_TAGS' marks, set or removed. */
export function marksToTags(marks: GovernorMarks): { set: Record<string, string>; remove: string[] } {
  const set: Record<string, string> = {};
  const remove: string[] = [];
  const put = (key: string, value: string | undefined) => (value === undefined ? remove.push(key) : (set[key] = value));
  const c = marks.lastChange;
  put(GOVERNOR_TAGS.lastChange, c && pairs({ at: c.at, from: c.from, to: c.to, cause: c.cause, figure: c.figure }));
  put(GOVERNOR_TAGS.budgetPausedOn, marks.budgetPausedOn);
  put(GOVERNOR_TAGS.budgetOverriddenOn, marks.budgetOverriddenOn);
  return { set, remove };
}

export function marksFromTags(tags: Record<string, string>): GovernorMarks {
  const last = tags[GOVERNOR_TAGS.lastChange] ? unpairs(tags[GOVERNOR_TAGS.lastChange]!) : undefined;
  const lastChange: LastChange | undefined = last?.at && Number(last.from) && Number(last.to)
    ? { at: last.at, from: Number(last.from), to: Number(last.to), cause: last.cause as ChangeCause, ...(last.figure !== undefined ? { figure: Number(last.figure) } : {}) }
    : undefined;
  return {
    ...(lastChange ? { lastChange } : {}),
    ...(tags[GOVERNOR_TAGS.budgetPausedOn] ? { budgetPausedOn: tags[GOVERNOR_TAGS.budgetPausedOn] } : {}),
    ...(tags[GOVERNOR_TAGS.budgetOverriddenOn] ? { budgetOverriddenOn: tags[GOVERNOR_TAGS.budgetOverriddenOn] } : {}),
  };
}

const percent = (share: number) => `${Math.round(share * 100)}%`;

/** The last change in words, as `status` and `top` show it: "cut 30% at 10:02 after 14% of calls throttled". */
export function describeChange(change: LastChange): string {
  const at = change.at.slice(11, 16);
  if (change.cause === 'throttled') return `cut ${percent(1 - change.to / change.from)} at ${at} after ${percent(change.figure ?? 0)} of calls throttled`;
  if (change.cause === 'backlog') return `raised by ${change.to - change.from} at ${at}: ${change.figure ?? 0} waiting, no throttling, every slot busy`;
  return `set to ${change.to} at ${at}: within 2 and the ceiling`;
}

/** What the schedule sends the worker once a minute: which mapping to govern (the settings are in its tags). */
export interface GovernorEvent {
  'bq-governor': { mapping: string };
}

export const governorEvent = (mappingUuid: string): GovernorEvent => ({ 'bq-governor': { mapping: mappingUuid } });

export const isGovernorEvent = (event: unknown): event is GovernorEvent =>
  !!event && typeof event === 'object' && typeof (event as Partial<GovernorEvent>)['bq-governor']?.mapping === 'string';
