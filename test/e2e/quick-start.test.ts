import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The commands of the README's first shell block ("Try it with no AWS account at all"), as written. */
function quickStart(): string[] {
  const readme = readFileSync(`${ROOT}/README.md`, 'utf8');
  const block = /Try it with no AWS account at all:\s*```sh\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README.md has no quick-start block after "Try it with no AWS account at all:"');
  return block[1]!.split('\n').map((line) => line.replace(/\s+#.*$/, '').trim()).filter(Boolean);
}

function shell(command: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('the README quick start', () => {
  it('runs as written: up --local --detach, send --local --wait, down --local all exit 0', async () => {
    const commands = quickStart();
    expect(commands).toEqual([
      'npm ci',
      'npx bedrock-queue up --local --detach',
      'npx bedrock-queue send --local --wait "Why is the sky blue?"',
      'npx bedrock-queue down --local',
    ]);
    const env = { BEDROCK_QUEUE_STATE_DIR: tempDir('bq-quick-start-') };
    // npm ci has run: it is how this suite was built. Every other line runs verbatim, in order.
    const runs = [];
    for (const command of commands.slice(1)) {
      const run = await shell(command, env);
      runs.push(run);
      expect(run.code, `${command}\n${run.stderr}`).toBe(0);
    }
    expect(runs[1]!.stdout.trim()).toBe('echo: Why is the sky blue?');
    expect(runs[2]!.stderr).toMatch(/1 unread result on bedrock-queue-results is deleted with the stack/);
    expect(runs[2]!.stdout).toMatch(/Local stack bedrock-queue stopped/);
  }, 180_000);
});
