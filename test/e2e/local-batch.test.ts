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

  it('after kill -9 mid-run, --resume sends only what was never sent and collects the rest: every line once, all ok', async () => {
    const stack = await startLocal('batch-kill', '--model-latency', '20ms', '--concurrency', '8', '--rate-limit', '10000', '--burst-limit', '10000');
    started.push(stack);
    const count = 2000;
    const input = join(dir, 'many.txt');
    writeFileSync(input, Array.from({ length: count }, (_, i) => `prompt ${i + 1}`).join('\n'));
    const out = join(dir, 'many.jsonl');
    const child = spawn(process.execPath, [BIN, 'batch', input, '--out', out, '--local', '--name', stack.name, '--parallel', '16'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', BEDROCK_QUEUE_STATE_DIR: STATE_DIR }, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await answersWritten(out, 200);
    child.kill('SIGKILL');
    await exited;
    const before = readOut(out).length;
    expect(before).toBeLessThan(count);

    const resumed = await cli('batch', input, '--out', out, '--local', '--name', stack.name, '--resume', '--json');
    expect(resumed.code, resumed.stderr).toBe(0);
    const outcome = JSON.parse(resumed.stdout) as { ok: number; resentAfterInterruption: number };
    expect(outcome.ok).toBe(count);
    const lines = readOut(out);
    expect(lines).toHaveLength(count);
    expect(new Set(lines.map((l) => l.line)).size).toBe(count);
    expect(lines.every((l) => l.status === 'ok' && l.output === `echo: prompt ${l.line}`)).toBe(true);
    // Nothing was sent twice but the lines whose send the kill cut off (counted and reported).
    const calls = (await stack.status()).modelStats.calls;
    expect(calls).toBeGreaterThanOrEqual(count);
    expect(calls).toBeLessThanOrEqual(count + outcome.resentAfterInterruption);
  }, 120_000);
});
