import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { STATE_DIR, cli, cliJson, waitUntil } from '../helpers/local.js';

/** `up --local` in the foreground, in a real terminal (tmux): what a person sees. A machine without tmux skips it, and says so. */
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const session = `bq-up-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', session, ...args], { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', session);

afterAll(async () => {
  if (hasTmux) spawnSync('tmux', ['-L', session, 'kill-server']);
  await cli('down', '--local', '--force', '--name', 'e2e-fg');
});

describe.skipIf(!hasTmux)(`up --local in the foreground of a terminal${hasTmux ? '' : ': skipped, tmux is not installed'}`, () => {
  it('prints a line a request for people, not the worker\'s metric JSON, and stops on Ctrl-C', async () => {
    tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '40', 'bash --norc --noprofile');
    tmux('send-keys', '-t', session, `BEDROCK_QUEUE_STATE_DIR=${STATE_DIR} ${process.execPath} ${BIN} up --local --name e2e-fg; echo "up exited $?"`, 'Enter');
    await waitUntil('the stack to be up', async () => /Local stack e2e-fg is up/.test(screen()), 30_000);
    const { id } = await cliJson<{ id: string }>('send', '--local', '--name', 'e2e-fg', 'hello there');
    await waitUntil('the request\'s line', async () => screen().includes(id), 30_000);
    const line = screen().split('\n').find((l) => l.includes(id))!;
    expect(line).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d  ${id}  ok  attempt 1  \\d+ ms  \\d+\\+\\d+ tokens$`));
    expect(screen()).not.toContain('"_aws"');
    tmux('send-keys', '-t', session, 'C-c');
    await waitUntil('up to exit', async () => /up exited 0/.test(screen()), 30_000);
  }, 90_000);
});
