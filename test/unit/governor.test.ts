/**
 * The governor's pure core (issue 21, first part): the autopilot's control law and the budget's
 * arithmetic, table-tested. Where they run (the AWS schedule, the local tick) comes next.
 */
import { describe, expect, it } from 'vitest';
import { AUTOPILOT, callsThatFit, nextConcurrency, type MinuteFigures } from '../../src/governor/autopilot.js';
import { budgetAction, nextUtcDay, parseBudget, parsePrice, spent, utcDay } from '../../src/governor/budget.js';

const minute = (figures: Partial<MinuteFigures>): MinuteFigures => ({ results: 100, throttled: 0, backlog: 0, inFlight: 0, ...figures });

describe('the autopilot\'s control law', () => {
  it.each([
    // [case, concurrency, ceiling, figures, kind, next]
    ['throttling over the threshold cuts by 30%', 20, 50, minute({ throttled: 14, results: 86, backlog: 500, inFlight: 20 }), 'cut', 14],
    ['a cut never goes below 2', 2, 50, minute({ throttled: 50, results: 50 }), 'hold', 2],
    ['a cut from 3 stops at 2', 3, 50, minute({ throttled: 50, results: 50 }), 'cut', 2],
    ['throttling at the threshold holds', 20, 50, minute({ throttled: 10, results: 90, backlog: 500, inFlight: 20 }), 'hold', 20],
    ['a backlog, no throttling and every slot busy raise by 2', 20, 50, minute({ backlog: 500, inFlight: 20 }), 'raise', 22],
    ['a raise stops at the ceiling', 49, 50, minute({ backlog: 500, inFlight: 49 }), 'raise', 50],
    ['at the ceiling it holds', 50, 50, minute({ backlog: 500, inFlight: 50 }), 'hold', 50],
    ['free slots hold: more would not help', 20, 50, minute({ backlog: 500, inFlight: 12 }), 'hold', 20],
    ['any throttling stops a raise', 20, 50, minute({ throttled: 1, results: 99, backlog: 500, inFlight: 20 }), 'hold', 20],
    ['no backlog holds', 20, 50, minute({ inFlight: 20 }), 'hold', 20],
    ['a quiet minute (no calls) holds', 20, 50, minute({ results: 0 }), 'hold', 20],
    ['a ceiling lowered below the concurrency brings it down at once', 40, 16, minute({ backlog: 500, inFlight: 40 }), 'cut', 16],
    ['a concurrency below the minimum comes up to it', 1, 16, undefined, 'raise', 2],
  ] as const)('%s', (_, concurrency, ceiling, figures, kind, next) => {
    const decision = nextConcurrency({ concurrency, ceiling }, figures);
    expect([decision.kind, decision.concurrency]).toEqual([kind, next]);
    expect(decision.reason).not.toBe('');
  });

  it.each([
    // [case, concurrency, figures, next]: 60 s, answers, model latency
    ['cuts straight to what fits: 10 answers a second at 1.5 s', 64, { results: 600, throttled: 2400, seconds: 60, modelLatencyMs: 1500 }, 15],
    ['just above the quota: one step down, not 30%', 16, { results: 900, throttled: 150, seconds: 60, modelLatencyMs: 1000 }, 15],
    ['all of it fits by the answers: throttling at the margin, one less', 20, { results: 1200, throttled: 300, seconds: 60, modelLatencyMs: 1000 }, 19],
    ['never below 2', 10, { results: 10, throttled: 90, seconds: 60, modelLatencyMs: 100 }, 2],
    ['no latency known: the cut factor', 20, { results: 860, throttled: 140, seconds: 60, modelLatencyMs: null }, 14],
  ] as const)('a cut under throttling %s', (_, concurrency, figures, next) => {
    expect(nextConcurrency({ concurrency, ceiling: 64 }, minute({ backlog: 1000, inFlight: concurrency, ...figures })).concurrency).toBe(next);
  });

  it('holds while an interval may count throttling from before the last cut (invocations end up to THROTTLED_WAIT_MS and a call late)', () => {
    const throttled = (seconds: number) => minute({ results: 10 * seconds, throttled: 7 * seconds, backlog: 1000, inFlight: 30, seconds, modelLatencyMs: 1000 });
    const holding = { kind: 'hold', concurrency: 30, reason: '41% of calls throttled, counted partly before the last cut: holding' };
    // A minute's tick (AWS): the interval after the cut holds, the next one acts.
    expect(nextConcurrency({ concurrency: 30, ceiling: 64, sinceLastCutSeconds: 60 }, throttled(60))).toMatchObject(holding);
    expect(nextConcurrency({ concurrency: 30, ceiling: 64, sinceLastCutSeconds: 120 }, throttled(60))).toMatchObject({ kind: 'cut', concurrency: 10 });
    // A tick as short as the wait (the bench's 10 s): the second interval after the cut began only 10 s after it, and holds too.
    expect(nextConcurrency({ concurrency: 30, ceiling: 64, sinceLastCutSeconds: 20 }, throttled(10))).toMatchObject(holding);
    expect(nextConcurrency({ concurrency: 30, ceiling: 64, sinceLastCutSeconds: 30 }, throttled(10))).toMatchObject({ kind: 'cut', concurrency: 10 });
  });

  it('estimates what fits by Little\'s law, and not without its figures', () => {
    expect(callsThatFit(minute({ results: 600, seconds: 60, modelLatencyMs: 1500 }))).toBe(15);
    expect(callsThatFit(minute({ results: 601, seconds: 60, modelLatencyMs: 1500 }))).toBe(16);
    expect(callsThatFit(minute({ results: 600 }))).toBeUndefined();
    expect(callsThatFit(minute({ results: 0, seconds: 60, modelLatencyMs: 1500 }))).toBeUndefined();
  });

  it('holds through a missing minute of data, and says so', () => {
    expect(nextConcurrency({ concurrency: 12, ceiling: 50 }, undefined)).toEqual({ kind: 'hold', concurrency: 12, reason: 'no figures for the last minute' });
  });

  it('says why it cut in the words status shows', () => {
    expect(nextConcurrency({ concurrency: 20, ceiling: 50 }, minute({ throttled: 14, results: 86 })).reason).toBe('cut 30% after 14% of calls throttled');
  });

  it('from a ceiling of 64 under a quota that allows 16, comes down in four minutes and then stays close to it', () => {
    // A model that serves 16 calls at once and throttles the share above it.
    let state = { concurrency: 64, ceiling: 64 };
    const seen: number[] = [];
    for (let i = 0; i < 30; i++) {
      const over = Math.max(0, state.concurrency - 16);
      const figures = minute({ results: 16 * 60, throttled: over * 60, backlog: 10_000, inFlight: state.concurrency });
      state = { ...state, concurrency: nextConcurrency(state, figures).concurrency };
      seen.push(state.concurrency);
    }
    expect(seen.slice(0, 4)).toEqual([44, 30, 21, 14]);
    // After settling it moves between the quota and one step above it, the sawtooth of AIMD.
    expect(Math.min(...seen.slice(4))).toBeGreaterThanOrEqual(Math.floor(18 * AUTOPILOT.cutFactor));
    expect(Math.max(...seen.slice(4))).toBeLessThanOrEqual(16 + AUTOPILOT.raiseStep);
  });
});

describe('the budget', () => {
  it.each([
    ['5M-tokens/day', { limit: 5_000_000, unit: 'tokens' }],
    ['200000-tokens/day', { limit: 200_000, unit: 'tokens' }],
    ['1.5k-tokens/day', { limit: 1_500, unit: 'tokens' }],
    ['40usd/day', { limit: 40, unit: 'usd' }],
    ['2.5USD/day', { limit: 2.5, unit: 'usd' }],
  ])('reads %s', (text, budget) => {
    expect(parseBudget(text)).toEqual(budget);
  });

  it.each(['5M', '5M-tokens/week', '0usd/day', '0-tokens/day', 'lots'])('refuses %s with a message that shows the forms', (text) => {
    expect(parseBudget(text)).toMatch(new RegExp(`^--budget ${text.replace(/[/.]/g, '\\$&')}: `));
  });

  it('reads prices per million tokens, and refuses anything else', () => {
    expect(parsePrice('in=3,out=15')).toEqual({ input: 3, output: 15 });
    expect(parsePrice('out=15, in=0.8')).toEqual({ input: 0.8, output: 15 });
    for (const bad of ['in=3', 'in=3,out=x', 'in=-1,out=2', 'in=3,out=15,cache=1']) expect(parsePrice(bad)).toMatch(/^--price .*: give dollars per million tokens/);
  });

  it('counts tokens, or dollars at a price', () => {
    const usage = { inputTokens: 1_000_000, outputTokens: 200_000 };
    expect(spent({ limit: 1, unit: 'tokens' }, usage)).toBe(1_200_000);
    expect(spent({ limit: 1, unit: 'usd' }, usage, { input: 3, output: 15 })).toBeCloseTo(6, 10);
    expect(() => spent({ limit: 1, unit: 'usd' }, usage)).toThrow(/needs a price/);
  });

  it('days are UTC days', () => {
    const lateInTokyo = Date.UTC(2026, 11, 3, 23, 59, 59);
    expect(utcDay(lateInTokyo)).toBe('2026-12-03');
    expect(new Date(nextUtcDay(lateInTokyo)).toISOString()).toBe('2026-12-04T00:00:00.000Z');
    expect(new Date(nextUtcDay(Date.UTC(2026, 11, 31, 12))).toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  const budget = { limit: 1_000_000, unit: 'tokens' as const };
  const now = Date.UTC(2026, 11, 3, 15);

  it('pauses once the day\'s spending reaches the budget, and says when it resumes', () => {
    expect(budgetAction({ budget, spentToday: 999_999, paused: false, now }).action).toBe('none');
    const reached = budgetAction({ budget, spentToday: 1_000_000, paused: false, now });
    expect(reached).toEqual({ action: 'pause', reason: 'the budget of 1000000 tokens a day is spent (1000000 tokens on 2026-12-03); resumes at 2026-12-04T00:00:00.000Z' });
  });

  it('resumes on a later UTC day only what it paused itself', () => {
    expect(budgetAction({ budget, spentToday: 0, paused: true, pausedForBudgetOn: '2026-12-02', now }).action).toBe('resume');
    expect(budgetAction({ budget, spentToday: 1_200_000, paused: true, pausedForBudgetOn: '2026-12-03', now }).action).toBe('none');
    // Paused by its operator (no budget reason recorded): left paused, whatever the day.
    expect(budgetAction({ budget, spentToday: 0, paused: true, now }).action).toBe('none');
  });

  it('counts dollars with a price', () => {
    const dollars = { limit: 40, unit: 'usd' as const };
    const today = spent(dollars, { inputTokens: 5_000_000, outputTokens: 2_000_000 }, { input: 3, output: 15 });
    expect(budgetAction({ budget: dollars, spentToday: today, paused: false, now })).toMatchObject({ action: 'pause', reason: expect.stringContaining('$45.00 on 2026-12-03') });
  });
});
