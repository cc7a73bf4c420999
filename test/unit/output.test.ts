import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatTimestamp, Output, plural } from '../../src/output.js';

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d) => (text += d));
  return { stream: stream as unknown as typeof process.stderr, text: () => text };
}

describe('progress off a terminal', () => {
  it('prints one line a step, and notes on lines of their own', async () => {
    const err = capture();
    const out = new Output({}, process.stdout, err.stream);
    await out.step('Creating queue q', async () => {});
    await out.step('Creating function f', async () => out.note('the role is not usable yet; retrying in 2 s'));
    await expect(out.step('Creating mapping m', async () => { throw new Error('no'); })).rejects.toThrow('no');
    expect(err.text().replace(/\(\d+\.\d s\)/g, '(t)')).toBe([
      'Creating queue q ... done (t)',
      'Creating function f ... ',
      '  the role is not usable yet; retrying in 2 s',
      'Creating function f: done (t)',
      'Creating mapping m ... failed',
      '',
    ].join('\n'));
  });
});

describe('counts in words', () => {
  it('says "1 request", "0 requests", "2 requests"', () => {
    expect([0, 1, 2].map((n) => plural(n, 'request'))).toEqual(['0 requests', '1 request', '2 requests']);
  });

  it('gives results a date and a time, in UTC', () => {
    expect(formatTimestamp('2026-12-03T09:12:05.123Z')).toBe('2026-12-03 09:12:05 UTC');
    expect(formatTimestamp(Date.UTC(2026, 0, 2, 3, 4, 5))).toBe('2026-01-02 03:04:05 UTC');
    expect(formatTimestamp('not a date')).toBe('not a date');
  });
});
