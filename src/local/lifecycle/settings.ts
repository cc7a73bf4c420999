import { LOCAL_SETTING_LABELS, resolveSettings, type Settings, type StackOptions } from '../../settings.js';
import { LOCAL_MODEL_ID, type ModelServerOptions } from '../services/model-server.js';
import type { GovernorMarks } from '../../governor/config.js';
import type { TokensUsed } from '../../governor/tick.js';

/** What the local governor keeps across restarts, as the mapping's tags keep it on AWS. */
export interface LocalGovernorMemory {
  marks: GovernorMarks;
  /** The autopilot's concurrency (the settings' concurrency is its ceiling). */
  concurrency?: number;
  /** Tokens used on a UTC day, up to the last tick. */
  tokens?: TokensUsed & { day: string };
}

/** How the local model behaves: what `up --local`'s --model-* flags set (the endpoint's key stays in the environment). */
export type LocalModel = Omit<ModelServerOptions, 'forwardKey'>;

/**
 * What a local stack runs with. Kept in its state file, so that a restart after a stop, a crash or
 * kill -9 resumes with the same settings unless a flag changes one: what is queued is answered by the
 * model the user chose. set-concurrency, pause and resume change it while the stack runs.
 */
export interface LocalSettings extends Settings {
  localModel: LocalModel;
  batchSize?: number;
  /** How often the governor ticks (a minute, as on AWS, unless --governor-interval says otherwise). */
  governorIntervalMs?: number;
  /** How long a local batch inference job waits before it answers (`batch --discount`). */
  discountDelayMs?: number;
  governor?: LocalGovernorMemory;
  paused: boolean;
}

/** What `up --local` was given: undefined is "keep what the stack had, or the default". */
export interface LocalFlags {
  options: StackOptions;
  localModel: LocalModel;
  batchSize?: number;
  governorIntervalMs?: number;
  discountDelayMs?: number;
}

/**
 * The settings of this start: a flag, else the previous run's, else the default. A --model given
 * alone replaces the previous model with its endpoint: a model is never paired with another's server.
 */
export function resolveLocalSettings(flags: LocalFlags, previous: LocalSettings | undefined): LocalSettings {
  const modelGiven = flags.options.model !== undefined;
  const kept = previous?.localModel ?? {};
  const given = Object.fromEntries(Object.entries(flags.localModel).filter(([, v]) => v !== undefined)) as LocalModel;
  const localModel: LocalModel = { ...kept, ...given };
  if (modelGiven && given.forwardTo === undefined) delete localModel.forwardTo;
  const batchSize = flags.batchSize ?? previous?.batchSize;
  const governorIntervalMs = flags.governorIntervalMs ?? previous?.governorIntervalMs;
  const discountDelayMs = flags.discountDelayMs ?? previous?.discountDelayMs;
  return {
    ...resolveSettings({ ...flags.options, model: flags.options.model ?? previous?.model ?? LOCAL_MODEL_ID }, previous ?? {}),
    localModel,
    ...(batchSize === undefined ? {} : { batchSize }),
    ...(governorIntervalMs === undefined ? {} : { governorIntervalMs }),
    ...(discountDelayMs === undefined ? {} : { discountDelayMs }),
    ...(previous?.governor ? { governor: previous.governor } : {}),
    paused: previous?.paused ?? false,
  };
}

const LABELS: [string, (s: LocalSettings) => unknown][] = [
  ['model', (s) => s.model],
  ['model endpoint', (s) => s.localModel.forwardTo],
  ['model latency', (s) => s.localModel.latency],
  ['model token latency', (s) => s.localModel.tokenLatency],
  ['model requests per minute', (s) => s.localModel.requestsPerMinute],
  ['model tokens per minute', (s) => s.localModel.tokensPerMinute],
  ['model error rate', (s) => s.localModel.errorRate],
  ['model quota window (ms)', (s) => s.localModel.quotaWindowMs],
  ...LOCAL_SETTING_LABELS.filter(([key]) => key !== 'model').map(([key, label]): [string, (s: LocalSettings) => unknown] => [label, (s) => s[key]]),
  ['batch size', (s) => s.batchSize],
  ['governor interval (ms)', (s) => s.governorIntervalMs],
  ['discount delay (ms)', (s) => s.discountDelayMs],
  ['paused', (s) => s.paused],
];

const shown = (value: unknown) => (value === undefined ? 'none' : value === true ? 'yes' : value === false ? 'no' : String(value));

/**
 * What a restart kept from the previous run (where that differs from a fresh start's default) and
 * what its flags changed, in words; empty lists on a first start.
 */
export function describeRestart(previous: LocalSettings | undefined, now: LocalSettings): { kept: string[]; changed: string[] } {
  if (!previous) return { kept: [], changed: [] };
  const fresh = resolveLocalSettings({ options: {}, localModel: {} }, undefined);
  const kept: string[] = [];
  const changed: string[] = [];
  for (const [label, read] of LABELS) {
    const [before, after, fallback] = [read(previous), read(now), read(fresh)];
    if (before !== after) changed.push(`${label} ${shown(before)} -> ${shown(after)}`);
    else if (after !== fallback) kept.push(`${label} ${shown(after)}`);
  }
  return { kept, changed };
}
