import { STACK_TAG } from '../contract.js';
import { RULES } from './retry.js';
import type { Ctx } from './types.js';

const API_RULES = [RULES.apiThrottled, RULES.apiConflict];
/** API Gateway control-plane calls, waiting out its low rate limits (CreateDeployment: 1 per 5 s). */
export const apiCall = <T>(ctx: Ctx, call: () => Promise<T>) => ctx.retry(API_RULES, call);

interface Named {
  id?: string;
  name?: string;
  tags?: Record<string, string>;
  createdDate?: Date;
}

export interface Found<T> {
  /** The stack's item (the oldest, when there are several), else an untagged namesake for the engine to refuse. */
  item?: T;
  /** Further items with the name and the stack tag: CreateRestApi, CreateApiKey and CreateUsagePlan are not idempotent, so a retried create leaves one. */
  duplicates: T[];
}

/** Finds an API Gateway item by name across all pages; names of REST APIs, API keys and usage plans are not unique. */
export async function findByName<T extends Named>(ctx: Ctx, name: string, page: (position?: string) => Promise<{ items?: T[]; position?: string }>): Promise<Found<T>> {
  const matches: T[] = [];
  let position: string | undefined;
  do {
    const result = await page(position);
    matches.push(...(result.items ?? []).filter((item) => item.name === name));
    position = result.position;
  } while (position);
  const ours = matches.filter((item) => item.tags?.[STACK_TAG] === ctx.stack)
    .sort((a, b) => (a.createdDate?.getTime() ?? 0) - (b.createdDate?.getTime() ?? 0) || String(a.id).localeCompare(String(b.id)));
  return { item: ours[0] ?? matches[0], duplicates: ours.slice(1) };
}
