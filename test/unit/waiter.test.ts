import { describe, expect, it } from 'vitest';
import { waitFor, WaitTimeout } from '../../src/waiter.js';

/** An environment whose sleep only records: the waits take no time. */
function env() {
  const sleeps: number[] = [];
  const notes: string[] = [];
  return { sleeps, notes, sleep: async (ms: number) => void sleeps.push(ms), note: (m: string) => void notes.push(m) };
}

const answers = <T>(...values: T[]) => {
  let i = 0;
  return async () => values[Math.min(i++, values.length - 1)]!;
};

describe('the waiter', () => {
  it('backs off between reads with the injected sleep, up to its longest interval', async () => {
    const e = env();
    const value = await waitFor(e, { what: 'x to be ready', read: answers('no', 'no', 'no', 'no', 'yes'), done: (v) => v === 'yes', intervalMs: 500, maxIntervalMs: 1_500, timeoutMs: 60_000, reference: 'r' });
    expect(value).toBe('yes');
    expect(e.sleeps).toEqual([500, 1_000, 1_500, 1_500]);
  });

  it('asks for confirmations in a row, and starts over when a read flaps', async () => {
    const e = env();
    await waitFor(e, { what: 'q is deleted', read: answers(true, false, true, true, true), done: (gone: boolean) => gone, confirmations: 3, intervalMs: 2_000, maxIntervalMs: 2_000, timeoutMs: 60_000, reference: 'r' });
    expect(e.sleeps).toHaveLength(4);
    expect(e.notes).toEqual([
      'waiting for AWS to confirm q is deleted (1/3)',
      'waiting for AWS to confirm q is deleted (1/3)',
      'waiting for AWS to confirm q is deleted (2/3)',
    ]);
  });

  it('times out with an error that names what it waited for and the documented bound', async () => {
    const e = env();
    const wait = waitFor(e, { what: 'table t to be ACTIVE', read: answers('CREATING'), done: (s) => s === 'ACTIVE', intervalMs: 1_000, maxIntervalMs: 1_000, timeoutMs: 5_000, reference: 'DynamoDB: seconds to minutes' });
    await expect(wait).rejects.toThrow(WaitTimeout);
    await expect(waitFor(e, { what: 'table t to be ACTIVE', read: answers('CREATING'), done: (s) => s === 'ACTIVE', intervalMs: 1_000, maxIntervalMs: 1_000, timeoutMs: 5_000, reference: 'DynamoDB: seconds to minutes' }))
      .rejects.toThrow('Timed out after 5 s waiting for table t to be ACTIVE (the bound: DynamoDB: seconds to minutes). Run the command again to pick up where it stopped.');
  });

  it('stops at once on a state that will never be done, with its own error', async () => {
    const e = env();
    await expect(waitFor(e, {
      what: 'f to be Active', read: answers('Pending', 'Failed'), done: (s) => s === 'Active', failed: (s) => (s === 'Failed' ? new Error('f failed: InvalidZipFileException') : undefined),
      intervalMs: 500, timeoutMs: 60_000, reference: 'r',
    })).rejects.toThrow('f failed: InvalidZipFileException');
    expect(e.sleeps).toEqual([500]);
  });

  it('stops when its signal aborts', async () => {
    const e = env();
    const controller = new AbortController();
    const read = async () => {
      controller.abort();
      return 'RUNNING';
    };
    await expect(waitFor(e, { what: 'the move task to finish', read, done: (s) => s === 'COMPLETED', intervalMs: 500, timeoutMs: 60_000, reference: 'r', signal: controller.signal }))
      .rejects.toThrow('Stopped waiting for the move task to finish.');
  });
});
