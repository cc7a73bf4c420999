import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { STATE_DIR, spawnCli, startLocal, waitUntil, type LocalHandle } from '../helpers/local.js';

/** top is tested in a real terminal: tmux. A machine without it skips this file (and says so in the test name). */
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const session = `bq-top-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', session, ...args], { encoding: 'utf8' });
const screen = (escapes = false) => tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', session);
const alternateScreenOn = () => tmux('display', '-p', '-t', session, '#{alternate_on}').trim() === '1';

const started: LocalHandle[] = [];
afterAll(async () => {
  if (hasTmux) spawnSync('tmux', ['-L', session, 'kill-server']);
  await Promise.all(started.map((h) => h.stop()));
});

describe.skipIf(!hasTmux)(`bedrock-queue top in a real terminal (tmux)${hasTmux ? '' : ': skipped, tmux is not installed'}`, () => {
  it('draws live figures under load, fits a resized terminal, honours NO_COLOR, and restores the terminal on q and Ctrl-C', async () => {
    const stack = await startLocal('e2e-top', '--model-latency', '50ms', '--concurrency', '4', '--rate-limit', '1000', '--burst-limit', '1000');
    started.push(stack);
    const file = join(STATE_DIR, 'top-load.txt');
    writeFileSync(file, Array.from({ length: 400 }, (_, i) => `load ${i}`).join('\n'));
    const load = spawnCli('send', '--local', '--name', stack.name, '--file', file, '--parallel', '4');

    const command = (noColor: boolean) => `${noColor ? 'NO_COLOR=1 ' : ''}BEDROCK_QUEUE_STATE_DIR=${STATE_DIR} ${process.execPath} ${BIN} top --local --name ${stack.name} --interval 1s; echo "top exited $?"`;
    tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', 'bash --norc --noprofile');
    tmux('send-keys', '-t', session, command(false), 'Enter');
    await waitUntil('results per minute on the screen', async () => /Results ok\s+[1-9][\d.]*k?\/min/.test(screen()), 60_000);
    expect(alternateScreenOn()).toBe(true);
    const frame = screen();
    expect(frame).toMatch(/^bedrock-queue top {2}e2e-top \(local\)/);
    expect(frame).toMatch(/e2e-top-requests\s+\d+\s+\d+\s+\d+/);
    expect(frame).toMatch(/Concurrency \d in flight of 4 at most \(mapping Enabled\)/);
    expect(frame).toMatch(/model\s+p50 \d+ ms/);
    // Colours on a terminal: the green of the results sparkline.
    expect(screen(true)).toContain('\u001b[32m');

    tmux('resize-window', '-t', session, '-x', '60', '-y', '14');
    await waitUntil('a frame drawn for 60 x 14', async () => screen().split('\n').every((l) => l.length <= 60) && /Results ok/.test(screen()), 10_000);
    const small = screen().split('\n');
    expect(small[0]).toMatch(/^bedrock-queue top {2}e2e-top/);
    expect(small.filter((l) => l.trim()).length).toBeLessThanOrEqual(14);

    // Ctrl-C (a byte in raw mode) leaves it and puts the terminal back.
    tmux('send-keys', '-t', session, 'C-c');
    await waitUntil('top to exit', async () => /top exited 0/.test(screen()), 10_000);
    expect(alternateScreenOn()).toBe(false);
    expect(screen()).not.toMatch(/Results ok/);

    tmux('resize-window', '-t', session, '-x', '100', '-y', '30');
    tmux('send-keys', '-t', session, 'clear', 'Enter');
    tmux('send-keys', '-t', session, command(true), 'Enter');
    await waitUntil('the NO_COLOR frame', async () => /Results ok/.test(screen()), 20_000);
    // eslint-disable-next-line no-control-regex
    expect(screen(true)).not.toMatch(/\u001b\[3\dm/);
    tmux('send-keys', '-t', session, 'q');
    await waitUntil('top to exit on q', async () => /top exited 0/.test(screen()), 10_000);
    expect(alternateScreenOn()).toBe(false);
    load.kill('SIGINT');
  }, 150_000);

  it('degrades to a plain refreshing summary off a terminal, and stops cleanly on SIGTERM', async () => {
    const stack = started[0]!;
    const child = spawnCli('top', '--local', '--name', stack.name, '--interval', '1s');
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    await waitUntil('two frames', async () => (stdout.match(/^bedrock-queue top/gm) ?? []).length >= 2, 20_000);
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    // eslint-disable-next-line no-control-regex
    expect(stdout).not.toMatch(/\u001b/);
    expect(stdout).toMatch(/Results ok\s+[\d.]+k?\/min/);
  }, 60_000);
});
