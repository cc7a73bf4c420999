import { DEFAULT_MODEL_ID, DEFAULT_RESULTS_TTL_SECONDS, LOG_RETENTION_DAYS, MIN_TIMEOUT_SECONDS } from './contract.js';
import { UsageError } from './errors.js';
import { decimal, integerIn, numberIn, period } from './flag-values.js';
import { budgetText, NONE, parseBudget, parsePrice, priceText } from './governor/budget.js';
import { knownPrice } from './pricing.js';

/**
 * A stack setting, defined once: its flag, what it means, how its value is checked, and its value
 * on creation. The types, `up`'s options and the resolution "given, else live, else the value on
 * creation" all derive from the table below.
 */
interface Spec<T> {
  flag: string;
  /** How a restart of the local stack names it. */
  label: string;
  describe: string;
  /** Checks and converts the flag's text; a boolean flag is yargs' own. */
  parse?: (value: unknown) => T | undefined;
  boolean?: true;
  /** How the value on creation is shown in the help, when not as itself. */
  initialText?: string;
  /** Means nothing to the local stack (the worker's memory, CloudWatch's retention). */
  awsOnly?: true;
}

/** A setting with a value on creation. */
const setting = <T>(spec: Spec<T> & { initial: T }) => spec;
/** A setting that stays unset unless given (the model's own default applies). */
const unsetting = <T>(spec: Spec<T>) => spec;

export const STACK_SETTINGS = {
  // Checked with --model-endpoint by up, which knows whether it is local.
  model: setting<string>({ flag: 'model', label: 'model', initial: DEFAULT_MODEL_ID, initialText: `${DEFAULT_MODEL_ID}; with --local: local.echo, aws:<id> for real Bedrock, or the --model-endpoint's model`, describe: 'Bedrock model or inference profile id' }),
  concurrency: setting({ flag: 'concurrency', label: 'concurrency', initial: 10, describe: 'Most model calls in flight (2-1000); with --autopilot, its ceiling', parse: integerIn('concurrency', 2, 1000) }),
  autopilot: setting<boolean>({ flag: 'autopilot', label: 'autopilot', initial: false, initialText: 'off', boolean: true, describe: 'Once a minute, move the concurrency between 2 and --concurrency by the model\'s throttling and the backlog' }),
  budget: setting({ flag: 'budget', label: 'budget', initial: NONE, describe: 'Pause consumption once a UTC day\'s spending reaches it: 5M-tokens/day, or 40usd/day with --price; none removes it', parse: governorFlag(parseBudget, budgetText) }),
  price: setting({ flag: 'price', label: 'price', initial: NONE, describe: 'The model\'s dollars per million tokens, for a budget in dollars: in=3,out=15', parse: governorFlag(parsePrice, priceText) }),
  discount: setting<boolean>({ flag: 'discount', label: 'discount route', initial: false, initialText: 'off', boolean: true, awsOnly: true, describe: 'Create the bucket and the role Bedrock batch inference needs, for batch --discount (about half the token price, answers within hours)' }),
  // Below MIN_TIMEOUT_SECONDS the worker's reserve leaves no time for a model call: every request would fail.
  timeout: setting({ flag: 'timeout', label: 'timeout', initial: 120, describe: `Worker timeout in seconds (${MIN_TIMEOUT_SECONDS}-900)`, parse: integerIn('timeout', MIN_TIMEOUT_SECONDS, 900) }),
  memory: setting({ flag: 'memory', label: 'memory', initial: 512, awsOnly: true, describe: 'Worker memory in MB (128-10240)', parse: integerIn('memory', 128, 10240) }),
  maxReceiveCount: setting({ flag: 'max-receive-count', label: 'max receive count', initial: 5, describe: 'Attempts before a request moves to the DLQ (1-1000)', parse: integerIn('max-receive-count', 1, 1000) }),
  logRetention: setting({ flag: 'log-retention', label: 'log retention', initial: 14, awsOnly: true, describe: 'Days the worker\'s logs are kept', parse: oneOf('log-retention', LOG_RETENTION_DAYS) }),
  rateLimit: setting({ flag: 'rate-limit', label: 'rate limit', initial: 50, describe: 'API requests per second, steady', parse: above('rate-limit', 0) }),
  burstLimit: setting({ flag: 'burst-limit', label: 'burst limit', initial: 100, describe: 'API requests in a burst', parse: integerIn('burst-limit', 1, 100000) }),
  corsOrigin: setting<string>({ flag: 'cors-origin', label: 'CORS origin', initial: '*', describe: 'Access-Control-Allow-Origin of the API', parse: origin }),
  apiKeyRequired: setting<boolean>({ flag: 'api-key', label: 'API key required', initial: true, initialText: 'required', boolean: true, describe: 'Require an API key (--no-api-key opens the API to anyone with the URL)' }),
  maxTokens: setting({ flag: 'max-tokens', label: 'max tokens', initial: 1024, describe: 'Default maxTokens for requests that give none', parse: integerIn('max-tokens', 1, 200000) }),
  temperature: unsetting({ flag: 'temperature', label: 'temperature', initialText: 'the model\'s', describe: 'Default temperature for requests that give none (0-1)', parse: numberIn('temperature', 0, 1) }),
  /** Seconds a result stays in the results store (DynamoDB TTL). */
  resultsTtl: setting({ flag: 'results-ttl', label: 'results TTL (s)', initial: DEFAULT_RESULTS_TTL_SECONDS, initialText: `${DEFAULT_RESULTS_TTL_SECONDS / 86_400}d`, describe: 'How long results stay readable by id (GET /results/{id}, result), e.g. 7d, 12h', parse: period('results-ttl', 3_600, 365 * 86_400) }),
};

type Table = typeof STACK_SETTINGS;
type ValueOf<S> = S extends Spec<infer T> ? T : never;
type WithInitial = { [K in keyof Table]: Table[K] extends { initial: unknown } ? K : never }[keyof Table];

/** The effective settings: given, else live, else the value on creation. */
export type Settings = { [K in WithInitial]: ValueOf<Table[K]> } & { [K in Exclude<keyof Table, WithInitial>]?: ValueOf<Table[K]> };

/** Settings as given on the command line: undefined means "keep the live value, or the value on creation". */
export type StackOptions = { [K in keyof Table]?: ValueOf<Table[K]> } & {
  /** Extra tags from `--tag key=value`, added to the stack tag. */
  tags?: Record<string, string>;
};

export type SettingKey = keyof Table;
export const SETTING_KEYS = Object.keys(STACK_SETTINGS) as SettingKey[];
const specOf = (key: SettingKey): Spec<unknown> & { initial?: unknown } => STACK_SETTINGS[key];

/**
 * Given on the command line, else live, else the value on creation; a budget in dollars without a
 * price takes the price table's for the model, when it has one (kept thereafter as the stack's price).
 */
export function resolveSettings(options: StackOptions, live: Partial<Settings>): Settings {
  const entries = SETTING_KEYS.map((key) => [key, options[key] ?? live[key] ?? specOf(key).initial] as const);
  const settings = Object.fromEntries(entries.filter(([, value]) => value !== undefined)) as Settings;
  const budget = settings.budget === NONE ? undefined : parseBudget(settings.budget);
  const known = typeof budget === 'object' && budget.unit === 'usd' && settings.price === NONE ? knownPrice(settings.model) : undefined;
  return known ? { ...settings, price: priceText(known) } : settings;
}

/** The yargs option of each setting, keyed by its flag. */
export function settingOptions() {
  return Object.fromEntries(SETTING_KEYS.map((key) => {
    const spec = specOf(key);
    const initial = spec.initialText ?? String(spec.initial);
    return [spec.flag, {
      type: spec.boolean ? 'boolean' as const : 'string' as const,
      ...(spec.boolean ? {} : { requiresArg: true }),
      describe: `${spec.describe} [on creation: ${initial}]`,
      ...(spec.parse ? { coerce: spec.parse } : {}),
    }];
  }));
}

/** The settings a parsed command line gives (yargs names each flag in camelCase too). */
export function settingsFromArgs(argv: Record<string, unknown>): StackOptions {
  const camel = (flag: string) => flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
  return Object.fromEntries(SETTING_KEYS.map((key) => [key, argv[camel(specOf(key).flag)]])) as StackOptions;
}

/** How a restart names each setting the local stack runs with, in the table's order. */
export const LOCAL_SETTING_LABELS = SETTING_KEYS.filter((key) => !specOf(key).awsOnly).map((key) => [key, specOf(key).label] as const);

function oneOf(flag: string, allowed: readonly number[]) {
  return (value: unknown) => {
    if (value === undefined) return undefined;
    if (!allowed.includes(decimal(value))) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')} (got ${String(value)})`);
    return decimal(value);
  };
}

function above(flag: string, min: number) {
  return (value: unknown) => {
    if (value === undefined) return undefined;
    if (!(decimal(value) > min)) throw new UsageError(`--${flag} must be a number above ${min} (got ${String(value)})`);
    return decimal(value);
  };
}

/** A governor flag: its own text checked and written one way (so that tags compare), or none. */
function governorFlag<T>(parse: (text: string) => T | string, text: (value: T) => string) {
  return (value: unknown) => {
    if (value === undefined) return undefined;
    if (String(value).trim().toLowerCase() === NONE) return NONE;
    const parsed = parse(String(value));
    if (typeof parsed === 'string') throw new UsageError(parsed);
    return text(parsed);
  };
}

function origin(value: unknown) {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!text || /[\s']/.test(text)) throw new UsageError('--cors-origin must be * or an origin such as https://example.com');
  return text;
}
