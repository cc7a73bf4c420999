import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { STATE_DIR, cli, startLocal, waitUntil, type LocalHandle } from '../helpers/local.js';
import { tempDir } from '../helpers/temp.js';

const started: LocalHandle[] = [];
afterAll(async () => {
  await Promise.all(started.map((h) => h.stop()));
});

const dir = tempDir('bq-batch-');
/** Waits until the batch has written more than `count` answers to `out`. */
const answersWritten = (out: string, count: number) => waitUntil(`${count} answers written`, async () => {
  try {
    return readFileSync(out, 'utf8').split('\n').length > count;
  } catch {
    return false;
  }
});
const readOut = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; id?: string; status: string; output?: string; error?: { code: string } });

describe('batch: a file of prompts in, a file of answers out', () => {
  it('answers good lines, writes bad ones as InvalidLine errors, exits 1 for them, and refuses to overwrite', async () => {
    const stack = await startLocal('batch-mixed');
    started.push(stack);
    const input = join(dir, 'mixed.txt');
    writeFileSync(input, ['plain prompt & more', '{"prompt": "json 🚀", "metadata": {"k": "v"}}', '', '{"nope": 1}', '{not json'].join('\n'));
    const out = join(dir, 'mixed.jsonl');
    const run = await cli('batch', input, '--out', out, '--local', '--name', stack.name, '--json');
    expect(run.code).toBe(1);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ ok: 2, error: 0, badLines: 2, pending: 0, notSent: 0 });
    const lines = readOut(out).sort((a, b) => a.line - b.line);
    expect(lines.map((l) => [l.line, l.status, l.output ?? l.error?.code])).toEqual([
      [1, 'ok', 'echo: plain prompt & more'], [2, 'ok', 'echo: json 🚀'], [4, 'error', 'InvalidLine'], [5, 'error', 'InvalidLine'],
    ]);
    expect(run.stderr).toMatch(/line 4 is not a request/);
    const again = await cli('batch', input, '--out', out, '--local', '--name', stack.name);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is there from an earlier run: pass --resume/);
  });

  it('keeps going while the local stack is killed and started again mid-run (within --retry-for), and removes its journal once done', async () => {
    // --timeout 3: what the kill caught in flight comes back after its visibility timeout (6 x 3 s), as on SQS.
    const stack = await startLocal('batch-restart', '--model-latency', '20ms', '--concurrency', '4', '--timeout', '3', '--rate-limit', '10000', '--burst-limit', '10000');
    started.push(stack);
    const count = 400;
    const input = join(dir, 'restart.txt');
    writeFileSync(input, Array.from({ length: count }, (_, i) => `again ${i + 1}`).join('\n'));
    const out = join(dir, 'restart.jsonl');
    const batch = cli('batch', input, '--out', out, '--local', '--name', stack.name, '--parallel', '8', '--retry-for', '2m', '--json');
    await answersWritten(out, 50);
    process.kill(stack.state.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1_000));
    const up = await cli('up', '--local', '--detach', '--name', stack.name);
    expect(up.code, up.stderr).toBe(0);
    // Back where batch was pointed: neither the API's nor the SQS endpoint's port moved.
    expect(up.stderr).not.toMatch(/is taken/);
    const run = await batch;
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: count, error: 0, pending: 0, notSent: 0 });
    const lines = readOut(out);
    expect(new Set(lines.map((l) => l.line)).size).toBe(count);
    expect(lines.every((l) => l.status === 'ok' && l.output === `echo: again ${l.line}`)).toBe(true);
    expect(existsSync(`${out}.journal`)).toBe(false);
  }, 180_000);

  /** Lines the API took, by the journal (a line's id is written before its send and again once taken). */
  const taken = (out: string) => {
    try {
      return new Set(readFileSync(`${out}.journal`, 'utf8').split('\n').filter((l) => l && !l.includes('"sending"')).map((l) => (JSON.parse(l) as { line: number }).line)).size;
    } catch {
      return 0;
    }
  };

  for (const errorRate of [0, 0.3]) {
    it(`kill -9 five times at random moments while sending, --resume each time: every line once, one answered model call per ok line (model failing ${errorRate * 100}% of calls)`, async () => {
      const stack = await startLocal(`batch-kill-${errorRate * 10}`, '--model-latency', '20ms', '--concurrency', '8', '--rate-limit', '400', '--burst-limit', '50', '--model-error-rate', String(errorRate));
      started.push(stack);
      const count = 3000;
      const input = join(dir, `kill-${errorRate * 10}.txt`);
      writeFileSync(input, Array.from({ length: count }, (_, i) => `prompt ${i + 1}`).join('\n'));
      const out = join(dir, `kill-${errorRate * 10}.jsonl`);
      for (let kill = 0; kill < 5; kill++) {
        const args = ['batch', input, '--out', out, '--local', '--name', stack.name, '--parallel', '16', ...(kill ? ['--resume'] : [])];
        const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', BEDROCK_QUEUE_STATE_DIR: STATE_DIR }, stdio: 'ignore' });
        const exited = new Promise((resolve) => child.on('exit', resolve));
        // A random moment of sending: 20 to 300 more lines taken (the stack takes at most 400 a second).
        const until = taken(out) + 20 + Math.floor(Math.random() * 280);
        await waitUntil(`${until} lines taken`, async () => taken(out) >= until, 60_000);
        child.kill('SIGKILL');
        await exited;
        expect(taken(out), 'killed while still sending').toBeLessThan(count);
      }
      const resumed = await cli('batch', input, '--out', out, '--local', '--name', stack.name, '--resume', '--json');
      const outcome = JSON.parse(resumed.stdout) as { ok: number; error: number; pending: number };
      expect(outcome.pending, resumed.stderr).toBe(0);
      const lines = readOut(out);
      expect(lines).toHaveLength(count);
      expect(new Set(lines.map((l) => l.line)).size).toBe(count);
      const ok = lines.filter((l) => l.status === 'ok');
      expect(ok.every((l) => l.output === `echo: prompt ${l.line}`)).toBe(true);
      // A line that is not ok failed its every attempt: a final error, on its way to the DLQ.
      expect(lines.filter((l) => l.status !== 'ok').every((l) => l.error?.code === 'InternalServerException')).toBe(true);
      expect([outcome.ok, resumed.code]).toEqual([ok.length, ok.length === count ? 0 : 1]);
      const stats = (await stack.status()).modelStats;
      // One answered (billed) model call per ok line, whatever the kills cut off and sent again.
      expect(stats.answered).toBe(ok.length);
      if (errorRate === 0) expect([ok.length, stats.calls]).toEqual([count, count]);
    }, 300_000);
  }
});
