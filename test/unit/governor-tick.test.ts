/**
 * The governor's tick with a host of its own (issue 21): what it reads, what it changes, what it
 * remembers; its tags; and what set-concurrency, pause and resume mean with it on.
 */
import { describe, expect, it } from 'vitest';
import type { MinuteFigures } from '../../src/governor/autopilot.js';
import {
  budgetProblem, describeChange, governorConfig, GOVERNOR_TAGS, marksFromTags, marksToTags, settingsFromTags, settingTagChanges, type GovernorConfig, type GovernorMarks,
} from '../../src/governor/config.js';
import { operatorChange } from '../../src/governor/operator.js';
import { governorReport } from '../../src/governor/report.js';
import { governorTick, type GovernorChange, type GovernorHost } from '../../src/governor/tick.js';
import { governorRows } from '../../src/commands/governor-format.js';
import { renderTop } from '../../src/commands/top-screen.js';
import { summarize } from '../../src/client/metrics.js';

const NOW = Date.UTC(2026, 11, 3, 10, 2, 30);

function host(live: { enabled?: boolean; concurrency?: number; marks?: GovernorMarks }, figures?: MinuteFigures, tokens = { inputTokens: 0, outputTokens: 0 }) {
  const applied: GovernorChange[] = [];
  const reads: string[] = [];
  const h: GovernorHost = {
    mapping: async () => (reads.push('mapping'), { enabled: live.enabled ?? true, concurrency: live.concurrency ?? 20, marks: live.marks ?? {} }),
    lastInterval: async () => (reads.push('figures'), figures),
    tokensToday: async () => (reads.push('tokens'), tokens),
    apply: async (change) => void applied.push(change),
  };
  return { h, applied, reads };
}

const autopilot: GovernorConfig = { autopilot: true, ceiling: 50 };
const budget: GovernorConfig = { autopilot: false, ceiling: 10, budget: { limit: 1000, unit: 'tokens' } };

describe('a governor tick', () => {
  it('cuts the concurrency on throttling and remembers why', async () => {
    const { h, applied } = host({ concurrency: 20 }, { results: 86, throttled: 14, backlog: 500, inFlight: 20 });
    const outcome = await governorTick(h, autopilot, NOW);
    expect(applied).toEqual([{ concurrency: 14, marks: { lastChange: { at: '2026-12-03T10:02:30.000Z', from: 20, to: 14, cause: 'throttled', figure: 0.14 } } }]);
    expect(outcome).toMatchObject({ changed: true, concurrency: { from: 20, to: 14, reason: 'cut 30% after 14% of calls throttled' }, budget: null });
    expect(describeChange(applied[0]!.marks.lastChange!)).toBe('cut 30% at 10:02 after 14% of calls throttled');
  });

  it('writes nothing when it holds, and reads no tokens without a budget', async () => {
    const { h, applied, reads } = host({ concurrency: 20 }, { results: 100, throttled: 0, backlog: 0, inFlight: 3 });
    expect((await governorTick(h, autopilot, NOW)).changed).toBe(false);
    expect(applied).toEqual([]);
    expect(reads).toEqual(['mapping', 'figures']);
  });

  it('with neither feature reads the mapping only, and changes nothing', async () => {
    const { h, applied, reads } = host({});
    expect(await governorTick(h, undefined, NOW)).toEqual({ concurrency: null, budget: null, changed: false });
    expect([applied, reads]).toEqual([[], ['mapping']]);
  });

  it('pauses when the budget is spent and marks the day', async () => {
    const { h, applied, reads } = host({}, undefined, { inputTokens: 400, outputTokens: 600 });
    const outcome = await governorTick(h, budget, NOW);
    expect(applied).toEqual([{ enabled: false, marks: { budgetPausedOn: '2026-12-03' } }]);
    expect(outcome.budget).toMatchObject({ action: 'pause', limit: 1000, unit: 'tokens', spentToday: 1000, paused: true, resumesAt: '2026-12-04T00:00:00.000Z' });
    expect(reads).toEqual(['mapping', 'tokens']);
  });

  it('resumes the next UTC day what it paused, and only that', async () => {
    const paused = host({ enabled: false, marks: { budgetPausedOn: '2026-12-02' } });
    await governorTick(paused.h, budget, NOW);
    expect(paused.applied).toEqual([{ enabled: true, marks: {} }]);
    const byOperator = host({ enabled: false });
    await governorTick(byOperator.h, budget, NOW);
    expect(byOperator.applied).toEqual([]);
  });

  it('resumes what it paused when the budget is removed', async () => {
    const { h, applied } = host({ enabled: false, marks: { budgetPausedOn: '2026-12-03' } });
    await governorTick(h, { autopilot: true, ceiling: 20 }, NOW);
    expect(applied).toEqual([{ enabled: true, marks: {} }]);
  });

  it('does not pause again on a day the operator overrode, and forgets the override the next day', async () => {
    const today = host({ marks: { budgetOverriddenOn: '2026-12-03' } }, undefined, { inputTokens: 5000, outputTokens: 0 });
    expect((await governorTick(today.h, budget, NOW)).changed).toBe(false);
    const tomorrow = host({ marks: { budgetOverriddenOn: '2026-12-02' } }, undefined, { inputTokens: 5000, outputTokens: 0 });
    await governorTick(tomorrow.h, budget, NOW);
    expect(tomorrow.applied).toEqual([{ enabled: false, marks: { budgetPausedOn: '2026-12-03' } }]);
  });

  it('counts a budget in dollars at its price', async () => {
    const { h, applied } = host({}, undefined, { inputTokens: 1_000_000, outputTokens: 100_000 });
    await governorTick(h, { autopilot: false, ceiling: 10, budget: { limit: 4, unit: 'usd' }, price: { input: 3, output: 15 } }, NOW);
    expect(applied).toEqual([{ enabled: false, marks: { budgetPausedOn: '2026-12-03' } }]);
  });
});

describe('the governor in tags', () => {
  it('keeps its settings in tag values AWS accepts, and reads them back', () => {
    const config = governorConfig({ autopilot: true, concurrency: 40, budget: '40usd/day', price: 'in=3,out=15' })!;
    const { set, remove } = settingTagChanges({}, config);
    expect(set).toEqual({ [GOVERNOR_TAGS.autopilot]: 'on', [GOVERNOR_TAGS.ceiling]: '40', [GOVERNOR_TAGS.budget]: '40usd/day', [GOVERNOR_TAGS.price]: 'in=3 out=15' });
    expect(remove).toEqual([]);
    for (const value of Object.values(set)) expect(value).toMatch(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u);
    expect(settingsFromTags(set, 12)).toEqual({ autopilot: true, concurrency: 40, budget: '40usd/day', price: 'in=3,out=15' });
    expect(settingsFromTags({}, 12)).toEqual({ autopilot: false, concurrency: 12, budget: 'none', price: 'none' });
  });

  it('removes the tags of what was turned off', () => {
    const live = { [GOVERNOR_TAGS.autopilot]: 'on', [GOVERNOR_TAGS.ceiling]: '40', [GOVERNOR_TAGS.budget]: '5000000-tokens/day', other: 'x' };
    expect(settingTagChanges(live, governorConfig({ autopilot: false, concurrency: 40, budget: '5000000-tokens/day', price: 'none' }))).toEqual({ set: {}, remove: [GOVERNOR_TAGS.autopilot, GOVERNOR_TAGS.ceiling] });
    expect(settingTagChanges(live, undefined).remove).toEqual([GOVERNOR_TAGS.autopilot, GOVERNOR_TAGS.ceiling, GOVERNOR_TAGS.budget]);
  });

  it('keeps its marks in tags and reads them back', () => {
    const marks: GovernorMarks = { lastChange: { at: '2026-12-03T10:02:30.000Z', from: 20, to: 14, cause: 'throttled', figure: 0.14 }, budgetPausedOn: '2026-12-03' };
    const { set, remove } = marksToTags(marks);
    expect(remove).toEqual([GOVERNOR_TAGS.budgetOverriddenOn]);
    for (const value of Object.values(set)) expect(value).toMatch(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u);
    expect(marksFromTags(set)).toEqual(marks);
  });

  it('a budget in dollars needs a price', () => {
    expect(budgetProblem({ budget: '40usd/day', price: 'none' })).toMatch(/^--budget 40usd\/day is in dollars, and the price table knows no price for this model: give its price/);
    expect(budgetProblem({ budget: '40usd/day', price: 'in=3,out=15' })).toBeUndefined();
    expect(budgetProblem({ budget: '5000-tokens/day', price: 'none' })).toBeUndefined();
  });
});

describe('set-concurrency, pause and resume with a governor', () => {
  it('with autopilot, set-concurrency sets the ceiling and brings the concurrency under it', () => {
    expect(operatorChange(autopilot, { concurrency: 30, marks: {} }, { concurrency: 16 }, NOW)).toEqual({ ceiling: 16, concurrency: 16, marks: {} });
    expect(operatorChange(autopilot, { concurrency: 8, marks: {} }, { concurrency: 16 }, NOW)).toEqual({ ceiling: 16, marks: {} });
    expect(operatorChange(undefined, { concurrency: 8, marks: {} }, { concurrency: 16 }, NOW)).toEqual({ concurrency: 16, marks: {} });
  });

  it('resume of what the budget paused overrides it for the day, and says so', () => {
    const change = operatorChange(budget, { concurrency: 10, marks: { budgetPausedOn: '2026-12-03' } }, { enabled: true }, NOW);
    expect(change).toMatchObject({ enabled: true, marks: { budgetOverriddenOn: '2026-12-03' } });
    expect(change.note).toMatch(/budget is spent: consumption resumes now, and the budget holds it no more until 2026-12-04T00:00:00.000Z/);
    expect(operatorChange(budget, { concurrency: 10, marks: {} }, { enabled: true }, NOW).note).toBeUndefined();
  });

  it('reports the governor in the shape status --json shares on both targets', () => {
    const marks: GovernorMarks = { lastChange: { at: '2026-12-03T10:02:30.000Z', from: 20, to: 14, cause: 'throttled', figure: 0.14 } };
    expect(governorReport({ ...autopilot, budget: { limit: 1000, unit: 'tokens' } }, { concurrency: 14, marks }, 250, NOW)).toEqual({
      autopilot: { enabled: true, concurrency: 14, ceiling: 50, lastChange: { at: '2026-12-03T10:02:30.000Z', from: 20, to: 14, reason: 'cut 30% at 10:02 after 14% of calls throttled' } },
      budget: { limit: 1000, unit: 'tokens', spentToday: 250, paused: false },
    });
    expect(governorReport(undefined, { concurrency: 10, marks: {} }, 0, NOW)).toEqual({ autopilot: null, budget: null });
  });
});

describe('the governor on screen', () => {
  it('status and top show the autopilot\'s value, ceiling and last change, and the budget\'s spending and pause', () => {
    const report = governorReport({ ...autopilot, budget: { limit: 5_000_000, unit: 'tokens' } }, {
      concurrency: 12, marks: { lastChange: { at: '2026-12-03T10:02:30.000Z', from: 17, to: 12, cause: 'throttled', figure: 0.14 }, budgetPausedOn: '2026-12-03' },
    }, 5_100_000, NOW);
    expect(governorRows(report)).toEqual([
      ['Autopilot', '12 of 50, cut 29% at 10:02 after 14% of calls throttled'],
      ['Budget', '5,100,000 tokens of 5,000,000 tokens spent today (UTC); consumption paused until 2026-12-04T00:00:00.000Z (bedrock-queue resume overrides it)'],
    ]);
    const frame = renderTop({
      stack: 'demo', target: 'local', at: NOW, queues: [], metricsAt: NOW, governor: report,
      metrics: summarize({ minutes: [NOW], sums: { resultsOk: [0], resultsError: [0], inputTokens: [0], outputTokens: [0], throttledCalls: [0], attempts: [0] }, endToEndP95: [null],
        latency: { endToEndLatency: { p50: null, p95: null, p99: null }, modelLatency: { p50: null, p95: null, p99: null } }, errorsByCode: {}, oldestRequestAgeSeconds: null, invocationsInFlight: null }, 60, 12),
    }, { width: 200, height: 40, color: false });
    expect(frame[2]).toBe('Autopilot 12 of 50, cut 29% at 10:02 after 14% of calls throttled');
    expect(frame[3]).toMatch(/^Budget 5,100,000 tokens of 5,000,000 tokens spent today \(UTC\); consumption paused until/);
    expect(governorRows(governorReport(undefined, { concurrency: 10, marks: {} }, 0, NOW))).toEqual([]);
  });
});
