import { CliError } from './errors.js';

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** How a waiter tells the operator what it waits for, and how it waits. */
export interface WaitEnv {
  sleep: Sleep;
  note: (message: string) => void;
}

export interface Wait<T> {
  /** What is awaited, as the operator reads it: "table demo-results to be ACTIVE", or with confirmations a fact: "demo-results is deleted". */
  what: string;
  read: () => Promise<T>;
  /** True once the awaited state is reached. */
  done: (value: T) => boolean;
  /** Stops the wait early with an error: a state that will never become `done` (Failed). */
  failed?: (value: T) => Error | undefined;
  /** Reads in a row that must say `done`: after a change, AWS's reads are eventually consistent. */
  confirmations?: number;
  /** The first pause between reads; later ones double up to `maxIntervalMs`. */
  intervalMs: number;
  maxIntervalMs?: number;
  timeoutMs: number;
  /** The AWS documentation the bound comes from, named when it is passed. */
  reference: string;
  signal?: AbortSignal;
}

export class WaitTimeout extends CliError {}

/**
 * Reads until `done` has held `confirmations` times in a row, backing off between reads (the
 * injected sleep), and fails with the resource and the documented bound once `timeoutMs` has
 * passed, or at once when `failed` names an error or the signal aborts.
 */
export async function waitFor<T>(env: WaitEnv, wait: Wait<T>): Promise<T> {
  const confirmations = wait.confirmations ?? 1;
  const started = Date.now();
  let streak = 0;
  let delay = wait.intervalMs;
  // The time slept, or the time passed if more (reads take time too): an injected sleep passes none.
  for (let slept = 0, elapsed = 0; ; slept += delay, delay = Math.min(delay * 2, wait.maxIntervalMs ?? delay), elapsed = Math.max(slept, Date.now() - started)) {
    if (wait.signal?.aborted) throw new CliError(`Stopped waiting for ${wait.what}.`);
    const value = await wait.read();
    const failure = wait.failed?.(value);
    if (failure) throw failure;
    streak = wait.done(value) ? streak + 1 : 0;
    if (streak >= confirmations) return value;
    if (elapsed >= wait.timeoutMs) {
      const awaited = confirmations > 1 ? `AWS to confirm ${wait.what}` : wait.what;
      throw new WaitTimeout(`Timed out after ${Math.round(elapsed / 1000)} s waiting for ${awaited} (the bound: ${wait.reference}). Run the command again to pick up where it stopped.`);
    }
    if (streak) env.note(`waiting for AWS to confirm ${wait.what} (${streak}/${confirmations})`);
    await env.sleep(delay);
  }
}
