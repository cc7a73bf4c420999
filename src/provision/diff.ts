import { Change, type Put } from './types.js';

/** A canonical form for comparing AWS documents: sorted keys, no empty values, one-element arrays unwrapped. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(canonical).filter((v) => v !== undefined);
    return items.length === 1 ? items[0] : items.length === 0 ? undefined : items;
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => [k, canonical(v)] as const)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return entries.length ? Object.fromEntries(entries) : undefined;
  }
  if (value === null || value === '') return undefined;
  return value;
}

export function sameDocument(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Field-by-field differences between two documents, named by their dotted paths under `prefix`, all corrected by `put`. */
export function fieldChanges(prefix: string, live: unknown, desired: unknown, put: Put): Change[] {
  const a = canonical(live);
  const b = canonical(desired);
  const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => fieldChanges(`${prefix}.${k}`, a[k], b[k], put));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [new Change(prefix, a, b, put)];
}

/** The field, when its live value differs from the desired one, with the put that corrects it. */
export function change(field: string, live: unknown, desired: unknown, put: Put): Change[] {
  return sameDocument(live, desired) ? [] : [new Change(field, live, desired, put)];
}

/** Runs each distinct put of `changes` once, in the order the changes were planned. */
export async function runPuts(changes: Change[]): Promise<void> {
  for (const put of new Set(changes.map((c) => c.put))) await put();
}

/** The tags to add or correct: extra live tags are left alone (they may be the operator's own). */
export function missingTags(desired: Record<string, string>, live: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(desired).filter(([k, v]) => live[k] !== v));
}

export function pick(obj: Record<string, string>, keys: string[]) {
  return Object.fromEntries(keys.filter((k) => k in obj).map((k) => [k, obj[k]]));
}

/** Tags as IAM and DynamoDB take them. */
export const tagList = (tags: Record<string, string>) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

export function isNotFound(err: unknown): boolean {
  const name = (err as { name?: string } | undefined)?.name ?? '';
  return /NotFound|NoSuchEntity|NonExistentQueue|QueueDoesNotExist/.test(name);
}

/** Runs a lookup, mapping "not found" to undefined. */
export async function orMissing<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
