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

describe('a progress line', () => {
  it('off a terminal: a line at most every interval, and lines said on their own', () => {
    const err = capture();
    const out = new Output({}, process.stdout, err.stream);
    const progress = out.progressLine(60_000);
    progress.show('1 sent');
    progress.show('2 sent');
    progress.say('line 3 is bad');
    progress.end();
    expect(err.text()).toBe('1 sent\nline 3 is bad\n');
  });

  it('on a terminal: one line kept up to date, a said line clears it first, and the end closes it', () => {
    const err = capture();
    const tty = Object.assign(err.stream, { isTTY: true });
    const saved = process.env.CI;
    delete process.env.CI;
    try {
      const progress = new Output({}, process.stdout, tty).progressLine(60_000);
      progress.show('1 sent');
      progress.show('2 sent');
      progress.say('line 3 is bad');
      progress.end();
    } finally {
      if (saved !== undefined) process.env.CI = saved;
    }
    expect(err.text()).toBe('\r\x1b[K1 sent\r\x1b[K2 sent\r\x1b[Kline 3 is bad\n\n');
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
