/**
 * `batch --discount` end to end on the local target (issue 22): the CLI, the local bucket and batch
 * inference over real HTTP in the shapes of S3 and Bedrock, the local model answering the records.
 */
import { BedrockClient, ListModelInvocationJobsCommand } from '@aws-sdk/client-bedrock';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { STATE_DIR, cli, startLocal, waitUntil, type LocalHandle } from '../helpers/local.js';
import { tempDir } from '../helpers/temp.js';
import { expectStatusReport } from '../helpers/status-schema.js';
import type { StatusReport } from '../../src/status-contract.js';

const started: LocalHandle[] = [];
afterAll(async () => {
  await Promise.all(started.map((h) => h.stop()));
});

const dir = tempDir('bq-discount-e2e-');
type Line = { line: number; id?: string; status: string; output?: string; route?: string; usage?: { inputTokens: number }; error?: { code: string; message: string } };
const readOut = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
const jobsOf = async (stack: LocalHandle) => {
  const state = JSON.parse(readFileSync(join(STATE_DIR, `${stack.name}.json`), 'utf8')) as { batchEndpoint: string };
  const bedrock = new BedrockClient({ region: 'us-east-1', endpoint: state.batchEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  return (await bedrock.send(new ListModelInvocationJobsCommand({ nameContains: stack.name }))).invocationJobSummaries ?? [];
};

describe('batch --discount on the local target', () => {
  it('2,000 lines with 5 bad ones: one output line per input line, the bad ones InvalidLine, the rest answered by their own jobs', async () => {
    const stack = await startLocal('discount-mixed', '--discount-delay', '1s');
    started.push(stack);
    const bad = new Set([3, 400, 999, 1500, 2000]);
    const input = join(dir, 'mixed.txt');
    writeFileSync(input, Array.from({ length: 2000 }, (_, i) => (bad.has(i + 1) ? '{"prompt": 7}' : `prompt ${i + 1}`)).join('\n'));
    const out = join(dir, 'mixed.jsonl');
    const run = await cli('batch', input, '--out', out, '--discount', '--local', '--name', stack.name, '--price', 'in=3,out=15', '--json');
    expect(run.code).toBe(1);
    const summary = JSON.parse(run.stdout) as { ok: number; error: number; badLines: number; complete: boolean; route: string; tokensIn: number };
    expect(summary).toMatchObject({ ok: 1995, error: 0, badLines: 5, complete: true, route: 'discount' });
    const lines = readOut(out).sort((a, b) => a.line - b.line);
    expect(lines.map((l) => l.line)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    for (const l of lines) {
      if (bad.has(l.line)) expect(l).toMatchObject({ status: 'error', error: { code: 'InvalidLine' } });
      else expect(l).toMatchObject({ status: 'ok', output: `echo: prompt ${l.line}`, route: 'discount' });
    }
    expect(summary.tokensIn).toBe(lines.reduce((sum, l) => sum + (l.usage?.inputTokens ?? 0), 0));
    expect(run.stderr).toMatch(/line 3 is not a request/);
    // The quotas were read as on AWS (GetFoundationModel, Service Quotas), over real HTTP from the local endpoint.
    expect(run.stderr).toContain('Planning by Service Quotas for Local local.echo in us-east-1: 100 to 50000 records a job, 20 jobs at once.');
    // One job: 1,995 records fit in one.
    expect((await jobsOf(stack)).map((j) => j.status)).toEqual(['Completed']);
  }, 120_000);

  it('refuses a file too small for a job, as AWS would, and offers the real-time route (with --skip-model-check: by the documented minimum)', async () => {
    const stack = await startLocal('discount-small', '--discount-delay', '0s');
    started.push(stack);
    const input = join(dir, 'small.txt');
    writeFileSync(input, Array.from({ length: 99 }, (_, i) => `p ${i}`).join('\n'));
    const run = await cli('batch', input, '--out', join(dir, 'small.jsonl'), '--discount', '--skip-model-check', '--local', '--name', stack.name);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Planning by AWS\'s documented defaults: 100 to 50000 records a job, 20 jobs at once.');
    expect(run.stderr).toMatch(/99 requests to send: Bedrock batch inference takes at least 100 records a job\. Drop --discount/);
    expect(await jobsOf(stack)).toEqual([]);
  });

  it('kill -9 while the job runs, then --resume: nothing submitted twice, every line once', async () => {
    const stack = await startLocal('discount-kill', '--discount-delay', '5s');
    started.push(stack);
    const input = join(dir, 'kill.txt');
    writeFileSync(input, Array.from({ length: 500 }, (_, i) => `kill ${i + 1}`).join('\n'));
    const out = join(dir, 'kill.jsonl');
    const child = spawn(process.execPath, [BIN, 'batch', input, '--out', out, '--discount', '--local', '--name', stack.name], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', BEDROCK_QUEUE_STATE_DIR: STATE_DIR }, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // Killed once the journal holds the job's ARN, while the job waits out its delay.
    await waitUntil('the job submitted', async () => {
      try {
        return readFileSync(`${out}.journal`, 'utf8').includes('"arn"');
      } catch {
        return false;
      }
    }, 30_000);
    child.kill('SIGKILL');
    await exited;
    expect((await jobsOf(stack)).map((j) => j.status)).not.toContain('Completed');
    // The job runs on without the CLI: --status lists it.
    const listed = await cli('batch', '--discount', '--status', '--local', '--name', stack.name, '--json');
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { jobs: { name: string }[] }).jobs.map((j) => j.name)).toEqual([expect.stringMatching(/^discount-kill-[0-9a-f]{8}-0$/)]);
    // status lists it too, in the same shape.
    const status = await cli('status', '--local', '--name', stack.name, '--json');
    const report = JSON.parse(status.stdout) as StatusReport;
    expectStatusReport(report, 'local');
    expect(report.discountJobs?.map((j) => j.arn)).toEqual((JSON.parse(listed.stdout) as { jobs: { arn: string }[] }).jobs.map((j) => j.arn));
    expect((await cli('status', '--local', '--name', stack.name)).stdout).toMatch(/Batch jobs\s+1 running \(1 (Submitted|Validating|Scheduled|InProgress)\): batch --discount --status lists them/);
    const resumed = await cli('batch', input, '--out', out, '--discount', '--local', '--name', stack.name, '--resume', '--json');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ ok: 500, error: 0, complete: true });
    const lines = readOut(out);
    expect(lines.map((l) => l.line).sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(lines.every((l) => l.output === `echo: kill ${l.line}`)).toBe(true);
    expect(await jobsOf(stack)).toHaveLength(1);
  }, 120_000);
});
