/**
 * The governor on the local target (issue 21), end to end through the CLI, the local API and the
 * local model's quota: the autopilot finds the quota from a ceiling well above it, and a budget stops
 * consumption within a tick plus what was in flight, keeps the rest queued, and `resume` overrides it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../src/status-contract.js';
import { expectStatusReport } from '../helpers/status-schema.js';
import { STATE_DIR, cli, cliJson, collectResults, startLocal, waitUntil, type LocalHandle } from '../helpers/local.js';

const started: LocalHandle[] = [];
async function local(name: string, ...args: string[]) {
  const handle = await startLocal(name, ...args, '--rate-limit', '1000', '--burst-limit', '1000');
  started.push(handle);
  return handle;
}
afterAll(async () => {
  await Promise.all(started.map((h) => h.stop()));
});

const status = (stack: LocalHandle) => cliJson<StatusReport>('status', '--local', '--name', stack.name);

function promptFile(name: string, count: number, prefix: string) {
  const file = join(STATE_DIR, `${name}.txt`);
  writeFileSync(file, Array.from({ length: count }, (_, i) => `${prefix} ${String(i).padStart(3, '0')}`).join('\n'));
  return file;
}

describe('the governor on the local target', () => {
  it('autopilot: from a ceiling of 64 under a quota of 10 calls a second, cuts on throttling, answers everything, and set-concurrency sets the ceiling', async () => {
    // 250 ms a call: the quota allows 2.5 in flight; the ceiling lets 64 start. The cut goes to
    // what the answers show fits, by the latency the worker measures, which a loaded machine
    // inflates: 3 fit, so a bound of 10 leaves room for a latency measured three times too long.
    const stack = await local('gov-auto', '--autopilot', '--concurrency', '64', '--governor-interval', '1s', '--model-rpm', '10', '--model-quota-window', '1s', '--model-latency', '250ms');
    const before = await status(stack);
    expectStatusReport(before, 'local');
    expect(before.governor).toEqual({ autopilot: { enabled: true, concurrency: 64, ceiling: 64, lastChange: null }, budget: null });

    expect((await cli('send', '--local', '--name', stack.name, '--file', promptFile('auto', 240, 'autopilot'))).code).toBe(0);
    const seen: number[] = [];
    let lastChange: unknown;
    await waitUntil(() => `the autopilot to cut below 10 (seen ${seen.join(' ')}; last change ${JSON.stringify(lastChange)})`, async () => {
      const now = await status(stack);
      seen.push(now.governor!.autopilot!.concurrency);
      lastChange = now.governor!.autopilot!.lastChange;
      expect(now.mapping!.maximumConcurrency).toBe(now.governor!.autopilot!.concurrency);
      return now.governor!.autopilot!.concurrency < 10;
    }, 30_000);
    const cut = (await status(stack)).governor!.autopilot!;
    expect(cut.lastChange).toMatchObject({ reason: expect.stringMatching(/^(cut \d+% at \d\d:\d\d after \d+% of calls throttled|raised by 2 at \d\d:\d\d: \d+ waiting, no throttling, every slot busy)$/) });
    expect(Math.max(...seen)).toBeLessThanOrEqual(64);

    const results = await collectResults(stack, 240, 90_000);
    expect(Object.values(results).filter((r) => r.status === 'ok')).toHaveLength(240);

    const set = await cliJson<{ after: { concurrency: number; ceiling: number } }>('set-concurrency', '3', '--local', '--name', stack.name);
    expect(set.after.ceiling).toBe(3);
    expect(set.after.concurrency).toBeLessThanOrEqual(3);
    expect((await status(stack)).governor!.autopilot).toMatchObject({ ceiling: 3, concurrency: set.after.concurrency });
  }, 150_000);

  it('budget: pauses within a tick plus what was in flight, keeps the rest queued, and resume overrides it for the day', async () => {
    // Each prompt is 5 tokens in and 6 out; at 2 in flight and 200 ms a call, at most 10 calls a second.
    const stack = await local('gov-budget', '--budget', '220-tokens/day', '--governor-interval', '1s', '--concurrency', '2', '--model-latency', '200ms');
    expect((await cli('send', '--local', '--name', stack.name, '--file', promptFile('budget', 100, 'budget prompt'))).code).toBe(0);
    await waitUntil('the budget to pause consumption', async () => (await status(stack)).governor?.budget?.paused === true, 30_000);
    // Disabled means no lane polls: what is answered now stays answered.
    await new Promise((r) => setTimeout(r, 1500));
    const paused = await status(stack);
    const answered = (await stack.status()).modelStats.answered;
    expect(paused.mapping).toMatchObject({ state: 'Disabled', paused: true });
    expect(paused.governor!.budget).toMatchObject({ limit: 220, unit: 'tokens', spentToday: answered * 11, paused: true, resumesAt: expect.stringMatching(/T00:00:00\.000Z$/) });
    expect(answered).toBeGreaterThanOrEqual(20);
    // Overshoot: a tick of calls plus the two in flight, with room for two late ticks on a busy machine.
    expect(answered - 20).toBeLessThanOrEqual(3 * 10 + 2);
    const waiting = paused.queues.find((q) => q.name === `${stack.name}-requests`)!;
    expect(waiting.visible + waiting.inFlight + waiting.delayed).toBe(100 - answered);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await stack.status()).modelStats.answered).toBe(answered);

    const resumed = await cli('resume', '--local', '--name', stack.name, '--json');
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ after: { state: 'Enabled' }, note: expect.stringContaining('budget is spent') });
    expect(resumed.stderr).toContain('the day\'s budget is spent: consumption resumes now');
    const results = await collectResults(stack, 100, 60_000);
    expect(Object.values(results).filter((r) => r.status === 'ok')).toHaveLength(100);
    // The override holds for the day: spending on, no second pause.
    const after = await status(stack);
    expect(after.governor!.budget).toMatchObject({ spentToday: 1100, paused: false });
    expect(after.mapping!.state).toBe('Enabled');
  }, 120_000);

  it('refuses a budget in dollars without a price, and starts nothing', async () => {
    const run = await cli('up', '--local', '--detach', '--name', 'gov-usd', '--budget', '40usd/day');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--budget 40usd/day is in dollars, and the price table knows no price for this model: give its price per million tokens, as --price in=3,out=15');
    expect((await cli('status', '--local', '--name', 'gov-usd')).stdout).toContain('is not running');
  });
});
