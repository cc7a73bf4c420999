import { errorMessage, errorName } from '../errors.js';
import type { WaitEnv } from '../waiter.js';

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

export type RetryEnv = WaitEnv;

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
  // Lambda answers ResourceConflictException to any update while the function is Pending or an
  // update is InProgress, with several wordings; on an update it never means anything else.
  functionBusy: {
    matches: named('ResourceConflictException'),
    reason: 'the function is still being created or updated',
    maxWaitMs: 5 * 60_000,
    firstDelayMs: 1_000,
    maxDelayMs: 10_000,
  },
  // A queue answers about a second after CreateQueue: a RedrivePolicy naming a DLQ created a moment
  // ago can fail "Dead letter target does not exist" (aws-facts.md, SQS).
  deadLetterTargetMissing: {
    matches: (err: unknown) => /Dead letter target does not exist/i.test(errorMessage(err)),
    reason: 'SQS does not see the new dead-letter queue yet',
    maxWaitMs: 60_000,
    firstDelayMs: 1_000,
    maxDelayMs: 5_000,
  },
  mappingBusy: {
    matches: named('ResourceInUseException'),
    reason: 'the event source mapping is changing state',
    maxWaitMs: 5 * 60_000,
    firstDelayMs: 1_000,
    maxDelayMs: 10_000,
  },
  // EventBridge Scheduler checks the role's trust when a schedule is created or updated: a role made
  // a moment ago answers this until IAM has propagated it (aws-sdk-js-v3 issue 6494 quotes the text).
  schedulerRolePropagation: {
    matches: (err: unknown) => errorName(err) === 'ValidationException' && /execution role you provide must allow/i.test(errorMessage(err)),
    reason: 'EventBridge Scheduler cannot assume the new role yet (IAM propagation)',
    maxWaitMs: 5 * 60_000,
    firstDelayMs: 2_000,
    maxDelayMs: 20_000,
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
