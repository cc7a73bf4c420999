import { errorMessage, errorName } from '../errors.js';

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export interface RetryRule {
  /** True when this error is worth waiting out. */
  matches: (err: unknown) => boolean;
  /** What the operator sees while we wait. */
  reason: string;
  /** Give up after this long in total. */
  maxWaitMs: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

export interface RetryEnv {
  sleep: Sleep;
  note: (message: string) => void;
}

/** Runs `call`, waiting out the errors that a rule matches with exponential backoff; anything else is thrown at once. */
export async function withRetry<T>(env: RetryEnv, rules: RetryRule[], call: () => Promise<T>): Promise<T> {
  const waited = new Map<RetryRule, number>();
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const rule = rules.find((r) => r.matches(err));
      if (!rule) throw err;
      const spent = waited.get(rule) ?? 0;
      if (spent >= rule.maxWaitMs) throw err;
      const delay = Math.min(rule.maxDelayMs, rule.firstDelayMs * 2 ** Math.min(attempt, 16), rule.maxWaitMs - spent);
      waited.set(rule, spent + delay);
      env.note(`${rule.reason}; retrying in ${Math.round(delay / 1000)} s`);
      await env.sleep(delay);
    }
  }
}

const named = (...names: string[]) => (err: unknown) => names.includes(errorName(err));

/** Real AWS behaviours (see README, "How up copes with AWS"): each rule is one documented failure mode. */
export const RULES = {
  iamPropagation: {
    matches: (err: unknown) => errorName(err) === 'InvalidParameterValueException' &&
      /cannot be assumed|does not have permissions|not authorized to perform/i.test(errorMessage(err)),
    reason: 'the new IAM role is not usable by Lambda yet (IAM propagation)',
    maxWaitMs: 10 * 60_000,
    firstDelayMs: 2_000,
    maxDelayMs: 20_000,
  },
  queueDeletedRecently: {
    matches: named('QueueDeletedRecently', 'AWS.SimpleQueueService.QueueDeletedRecently'),
    reason: 'SQS keeps a deleted queue\'s name for 60 s after DeleteQueue',
    maxWaitMs: 90_000,
    firstDelayMs: 10_000,
    maxDelayMs: 15_000,
  },
  functionBusy: {
    matches: (err: unknown) => errorName(err) === 'ResourceConflictException' && /in progress|Pending|currently in the following state/i.test(errorMessage(err)),
    reason: 'the function is still being created or updated',
    maxWaitMs: 5 * 60_000,
    firstDelayMs: 1_000,
    maxDelayMs: 10_000,
  },
  mappingBusy: {
    matches: named('ResourceInUseException'),
    reason: 'the event source mapping is changing state',
    maxWaitMs: 5 * 60_000,
    firstDelayMs: 1_000,
    maxDelayMs: 10_000,
  },
  apiThrottled: {
    matches: named('TooManyRequestsException'),
    reason: 'API Gateway is rate-limiting control-plane calls',
    maxWaitMs: 5 * 60_000,
    firstDelayMs: 5_000,
    maxDelayMs: 30_000,
  },
  apiConflict: {
    matches: (err: unknown) => errorName(err) === 'ConflictException' && /in progress|try again/i.test(errorMessage(err)),
    reason: 'API Gateway is still applying a previous change',
    maxWaitMs: 2 * 60_000,
    firstDelayMs: 2_000,
    maxDelayMs: 10_000,
  },
} satisfies Record<string, RetryRule>;

/** Polls `read` until `done` holds, or fails with `what` after `timeoutMs`. */
export async function pollUntil<T>(env: RetryEnv, what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10 * 60_000): Promise<T> {
  let elapsed = 0;
  let delay = 500;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (elapsed >= timeoutMs) throw new Error(`timed out after ${Math.round(elapsed / 1000)} s waiting for ${what}`);
    await env.sleep(delay);
    elapsed += delay;
    delay = Math.min(delay * 2, 5_000);
  }
}
