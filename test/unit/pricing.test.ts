/**
 * The price table (issue 21's budget in dollars, issue 22's cost line): the default model's price,
 * 10% more through a Region-bound profile, nothing for a model it does not know.
 */
import { describe, expect, it } from 'vitest';
import { costLine } from '../../src/commands/batch-discount.js';
import { budgetProblem } from '../../src/governor/config.js';
import { knownPrice } from '../../src/pricing.js';
import { resolveSettings } from '../../src/settings.js';

describe('the price table', () => {
  it.each([
    ['global.anthropic.claude-sonnet-4-6', { input: 3, output: 15 }],
    ['us.anthropic.claude-sonnet-4-6', { input: 3.3, output: 16.5 }],
    ['anthropic.claude-sonnet-4-6', { input: 3.3, output: 16.5 }],
    ['anthropic.claude-3-haiku-20240307-v1:0', undefined],
    ['local.echo', undefined],
  ] as const)('%s', (model, price) => {
    expect(knownPrice(model)).toEqual(price);
  });

  it('gives a budget in dollars on the default model its price, and leaves a given or live price alone', () => {
    expect(resolveSettings({ budget: '40usd/day' }, {})).toMatchObject({ model: 'global.anthropic.claude-sonnet-4-6', price: 'in=3,out=15' });
    expect(budgetProblem(resolveSettings({ budget: '40usd/day' }, {}))).toBeUndefined();
    expect(resolveSettings({ budget: '40usd/day', price: 'in=2,out=10' }, {}).price).toBe('in=2,out=10');
    expect(resolveSettings({}, { budget: '40usd/day', price: 'in=2,out=10' }).price).toBe('in=2,out=10');
    expect(resolveSettings({ budget: '5M-tokens/day' }, {}).price).toBe('none');
    const unknown = resolveSettings({ budget: '40usd/day', model: 'anthropic.claude-3-haiku-20240307-v1:0' }, {});
    expect(unknown.price).toBe('none');
    expect(budgetProblem(unknown)).toMatch(/the price table knows no price for this model: give its price/);
  });

  it('prices the discount route\'s tokens at half the on-demand price, from --price or the table', () => {
    const tokens = { tokensIn: 2_000_000, tokensOut: 1_000_000 };
    expect(costLine(tokens, { input: 1, output: 2 }, 'local.echo')).toBe('2000000 tokens in, 1000000 out: $2.00 at the batch price, against $4.00 on demand (--price in=1,out=2; batch at 50%).');
    expect(costLine(tokens, undefined, 'global.anthropic.claude-sonnet-4-6')).toBe('2000000 tokens in, 1000000 out: $10.50 at the batch price, against $21.00 on demand (global.anthropic.claude-sonnet-4-6 at in=3,out=15 from the price table of 2026-12-03; batch at 50%).');
    expect(costLine(tokens, undefined, 'local.echo')).toBe('2000000 tokens in, 1000000 out (give --price in=…,out=… for their cost).');
  });
});
