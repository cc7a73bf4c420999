// batch --discount on the local target (issue 22): 10,000 lines through the local batch inference
// emulation, the time beyond the job's own delay, and the peak memory of the batch process.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchEnv, start } from './local.mjs';

const LINES = 10_000;
const DELAY_S = 2;

export async function measureDiscount() {
  const { env, stateDir, bin } = benchEnv();
  const file = join(stateDir, 'discount.txt');
  writeFileSync(file, Array.from({ length: LINES }, (_, i) => `discount prompt ${i}`).join('\n'));
  const stack = start('bench-discount', ['--discount-delay', `${DELAY_S}s`]);
  const started = performance.now();
  const run = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, bin, 'batch', file, '--out', join(stateDir, 'discount.jsonl'), '--discount', '--local', '--name', 'bench-discount', '--json'], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const seconds = (performance.now() - started) / 1000;
  // The job's own time, from its submission to its end, as the local Bedrock reports it (the local
  // endpoint tells S3 from Bedrock by the service a request is signed for).
  const { batchEndpoint } = JSON.parse(readFileSync(join(stateDir, 'bench-discount.json'), 'utf8'));
  const listed = await (await fetch(`${batchEndpoint}/model-invocation-jobs`, { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=local/20261203/us-east-1/bedrock/aws4_request' } })).json();
  const jobSeconds = listed.invocationJobSummaries.reduce((most, j) => Math.max(most, (Date.parse(j.endTime) - Date.parse(j.submitTime)) / 1000), 0);
  stack.stop();
  const outcome = JSON.parse(run.stdout || '{}');
  return { lines: LINES, delayS: DELAY_S, ok: outcome.ok ?? 0, jobs: outcome.jobs?.length ?? 0, seconds, jobSeconds, overheadS: seconds - jobSeconds, peakMb: Number(run.stderr.trim().split('\n').pop()) / 1024 };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await measureDiscount(), null, 2));
