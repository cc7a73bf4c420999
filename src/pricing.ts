import type { Price } from './governor/budget.js';

/**
 * On-demand prices in US dollars per million tokens of the CLI's default model, as
 * published for Amazon Bedrock on the date below (a global cross-Region profile is priced as
 * published; the Region-bound profiles and in-Region ids of these models cost 10% more). `--price`
 * overrides them; a model not here needs it for a budget in dollars. Batch inference is half these.
 */
export const PRICE_TABLE = {
  date: '2026-12-03',
  models: {
    'anthropic.claude-sonnet-4-6': { input: 3, output: 15 },
  } as Record<string, Price>,
  /** What a Region-bound profile (us., eu., apac., ...) or an in-Region id costs over the global profile's price. */
  regionalPremium: 1.1,
};

/** The table's price of a model or inference profile id, or undefined when it has none. */
export function knownPrice(modelId: string): Price | undefined {
  const [, geography, model] = /^(?:([a-z]+)\.)?(anthropic\.[a-z0-9-]+?)(?:-\d{8})?(?:-v\d+(?::\d+)?)?$/.exec(modelId) ?? [];
  const price = model ? PRICE_TABLE.models[model] : undefined;
  if (!price) return undefined;
  const factor = geography === 'global' ? 1 : PRICE_TABLE.regionalPremium;
  const round = (n: number) => Math.round(n * factor * 1000) / 1000;
  return { input: round(price.input), output: round(price.output) };
}
