/**
 * `batch --discount` (issue 22) against Bedrock batch inference and S3 as simulated in
 * test/helpers/fake-batch.ts (moto has no model invocation jobs; what is simulated is listed there).
 */
import { AccessDeniedException, BedrockClient, CreateModelInvocationJobCommand, GetModelInvocationJobCommand, ListModelInvocationJobsCommand, ThrottlingException } from '@aws-sdk/client-bedrock';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runDiscount, runningJobs, type DiscountOptions } from '../../src/client/batch-inference.js';
import { DISCOUNT_LIMITS, JobSplitter, planJobs, recordIdOf, resultOfOutputLine } from '../../src/client/discount-records.js';
import { FakeBatch } from '../helpers/fake-batch.js';
import { tempDir } from '../helpers/temp.js';

const credentials = { accessKeyId: 'a', secretAccessKey: 'b' };
const clients = { bedrock: new BedrockClient({ region: 'us-east-1', credentials }), s3: new S3Client({ region: 'us-east-1', credentials }) };
const target = { stack: 'demo', bucket: 'demo-batch-123456789012', roleArn: 'arn:aws:iam::123456789012:role/demo-batch', model: 'us.anthropic.claude-3-haiku-20240307-v1:0', defaults: { maxTokens: 512 } };
/** Jobs of at most 100 records: a file of a few hundred lines needs several. */
const limits = { ...DISCOUNT_LIMITS, minRecordsPerJob: 50, maxRecordsPerJob: 100, maxRecordsPerFile: 100 };
const noWait = async () => undefined;

let fake: FakeBatch;
let dir: string;
beforeEach(() => {
  fake = new FakeBatch(clients.bedrock, clients.s3);
  dir = tempDir('bq-discount-');
});

function file(lines: string[]) {
  const path = join(dir, 'prompts.jsonl');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}
const prompts = (n: number, bad: number[] = []) => Array.from({ length: n }, (_, i) => (bad.includes(i + 1) ? `{"prompt": ${i + 1}}` : `prompt ${i + 1}`));
const outLines = (out: string) => readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
const run = (path: string, extra: Partial<DiscountOptions> = {}) => runDiscount(clients, target, { file: path, out: join(dir, 'answers.jsonl'), resume: false, timeoutMs: 3_600_000, pause: noWait, limits, ...extra }, () => undefined);

describe('the records and the jobs they need', () => {
  it('plans as few jobs as the quotas allow, of even size, and none below the minimum', () => {
    expect(planJobs(99, 10_000)).toBeUndefined();
    expect(planJobs(100, 10_000)).toEqual([100]);
    expect(planJobs(120_000, 10_000)).toEqual([40_000, 40_000, 40_000]);
    // 50,001 records: two jobs of 25,000 and 25,001, not 50,000 and a job of 1 that AWS refuses.
    expect(planJobs(50_001, 10_000)).toEqual([25_001, 25_000]);
    // By bytes: 3 GB of records in jobs of at most 1 GB (the input file quota).
    expect(planJobs(3_000, 3 * 1024 **3)).toEqual([1_000, 1_000, 1_000]);
  });

  it('starts a job early when a record would take it past the byte quota', () => {
    const splitter = new JobSplitter([3, 3], { ...DISCOUNT_LIMITS, maxFileBytes: 100 });
    expect([60, 30, 20, 10, 10].map((bytes) => splitter.next(bytes))).toEqual([0, 0, 1, 1, 1]);
  });

  it('reads an output line as the line it answers, ok or with the record error named as the real-time route names it', () => {
    const context = { model: 'm', completedAt: '2026-12-03T12:00:00.000Z', idOf: (line: number) => `id-${line}`, metadataOf: (line: number) => (line === 7 ? { team: 'a' } : undefined) };
    const ok = { recordId: recordIdOf(7), modelInput: {}, modelOutput: { output: { message: { content: [{ text: 'Hel' }, { text: 'lo' }] } }, stopReason: 'end_turn', usage: { inputTokens: 2, outputTokens: 3, totalTokens: 5 } } };
    expect(resultOfOutputLine(JSON.stringify(ok), context)).toEqual({ line: 7, result: { id: 'id-7', status: 'ok', output: 'Hello', stopReason: 'end_turn', usage: { inputTokens: 2, outputTokens: 3, totalTokens: 5 }, model: 'm', latencyMs: 0, attempt: 1, completedAt: '2026-12-03T12:00:00.000Z', route: 'discount', metadata: { team: 'a' } } });
    const failed = { recordId: recordIdOf(8), modelInput: {}, error: { errorCode: 400, errorMessage: 'bad request' } };
    expect(resultOfOutputLine(JSON.stringify(failed), context)?.result.error).toEqual({ code: 'ValidationException', message: 'bad request (record error 400)' });
    expect(resultOfOutputLine(JSON.stringify({ recordId: 'someone-else', modelOutput: {} }), context)).toBeUndefined();
    expect(resultOfOutputLine('{not json', context)).toBeUndefined();
  });
});

describe('runDiscount', () => {
  it('uploads each job, creates it in the Converse format, follows it and writes one line per input line', async () => {
    const path = file(prompts(250, [10, 20, 30]));
    const outcome = await run(path);
    expect(outcome).toMatchObject({ complete: true, ok: 247, error: 0, badLines: 3, tokensIn: 741, tokensOut: 1235 });

    const creates = fake.bedrockMock.commandCalls(CreateModelInvocationJobCommand).map((c) => c.args[0].input);
    expect(creates).toHaveLength(3);
    const run0 = /^demo-([0-9a-f]{8})-0$/.exec(creates[0]!.jobName!)![1];
    expect(creates[0]).toEqual({
      jobName: `demo-${run0}-0`, clientRequestToken: `demo-${run0}-0`, roleArn: target.roleArn, modelId: target.model, modelInvocationType: 'Converse',
      inputDataConfig: { s3InputDataConfig: { s3Uri: `s3://${target.bucket}/batch/${run0}/input/0.jsonl`, s3InputFormat: 'JSONL' } },
      outputDataConfig: { s3OutputDataConfig: { s3Uri: `s3://${target.bucket}/batch/${run0}/output/0/` } },
      tags: [{ key: 'bedrock-queue:stack', value: 'demo' }],
    });
    // 247 requests in three jobs of 83, 82 and 82 records, each record a Converse body with the stack's default maxTokens.
    const inputs = fake.jobs.map((job) => fake.objects.get(fake.inputOf(job))!.toString().split('\n').filter(Boolean));
    expect(inputs.map((lines) => lines.length)).toEqual([83, 82, 82]);
    expect(JSON.parse(inputs[0]![0]!)).toEqual({ recordId: 'L0000000001', modelInput: { messages: [{ role: 'user', content: [{ text: 'prompt 1' }] }], inferenceConfig: { maxTokens: 512 } } });

    const written = outLines(join(dir, 'answers.jsonl'));
    expect(written.map((r) => r.line).sort((a, b) => a - b)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    for (const r of written) {
      if ([10, 20, 30].includes(r.line)) expect(r).toMatchObject({ status: 'error', error: { code: 'InvalidLine' } });
      else expect(r).toMatchObject({ status: 'ok', output: `answer to prompt ${r.line}`, route: 'discount', usage: { inputTokens: 3, outputTokens: 5 } });
    }
    expect(new Set(written.filter((r) => r.status === 'ok').map((r) => r.id)).size).toBe(247);
    // Done: no journal and no spool left.
    expect(existsSync(join(dir, 'answers.jsonl.journal'))).toBe(false);
    expect(existsSync(join(dir, 'answers.jsonl.discount'))).toBe(false);
  });

  it('refuses fewer requests than a job takes, uploads nothing and leaves no file, and offers the real-time route', async () => {
    await expect(run(file(prompts(49)))).rejects.toThrow('49 requests to send: Bedrock batch inference takes at least 50 records a job. Drop --discount to send them in real time.');
    expect(fake.s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(fake.bedrockMock.commandCalls(CreateModelInvocationJobCommand)).toHaveLength(0);
    // Nothing left to resume: the real-time route may write the same output at once.
    expect(['answers.jsonl', 'answers.jsonl.journal', 'answers.jsonl.discount'].filter((f) => existsSync(join(dir, f)))).toEqual([]);
  });

  it('a model without batch inference: says so after the first job is refused, and takes its input back', async () => {
    fake.refuseModel = target.model;
    await expect(run(file(prompts(120)))).rejects.toThrow(/Bedrock refused the batch inference job for us.anthropic.claude-3-haiku-20240307-v1:0: .*does not support batch inference.*drop --discount/);
    expect(fake.bedrockMock.commandCalls(CreateModelInvocationJobCommand)).toHaveLength(1);
    expect(fake.objects.size).toBe(0);
    expect(['answers.jsonl', 'answers.jsonl.journal', 'answers.jsonl.discount'].filter((f) => existsSync(join(dir, f)))).toEqual([]);
  });

  it('keeps within the quota of jobs in flight: the rest wait and go as jobs end', async () => {
    fake.quota = 1;
    const outcome = await run(file(prompts(300)), { limits: { ...limits, maxSubmittedJobs: 1 } });
    expect(outcome).toMatchObject({ complete: true, ok: 300 });
    expect(fake.jobs).toHaveLength(3);
    // A job is created only when none of ours is in flight: AWS's refusal is never needed.
    expect(fake.bedrockMock.commandCalls(CreateModelInvocationJobCommand)).toHaveLength(3);
  });

  it('plans by the target\'s quotas, says their source, and a resumed run keeps them without reading them again', async () => {
    fake.quota = 1;
    const path = file(prompts(300));
    const out = join(dir, 'answers.jsonl');
    const read = { limits: { ...limits, maxSubmittedJobs: 1 }, source: 'Service Quotas for Claude 3 Haiku in us-east-1' };
    const planned: string[] = [];
    const controller = new AbortController();
    const options = { file: path, out, timeoutMs: 3_600_000, onLimits: (p: { source: string }) => planned.push(p.source) };
    const first = await runDiscount(clients, { ...target, quotas: async () => read }, { ...options, resume: false, signal: controller.signal, pause: async () => controller.abort() }, () => undefined);
    expect(first).toMatchObject({ complete: false, interrupted: true });
    expect(planned).toEqual([read.source]);
    expect(fake.jobs).toHaveLength(1);
    const unread = async () => { throw new Error('the quotas are read again on --resume'); };
    const second = await runDiscount(clients, { ...target, quotas: unread }, { ...options, resume: true, pause: noWait }, () => undefined);
    expect(second).toMatchObject({ complete: true, ok: 300 });
    expect(planned).toHaveLength(1);
    // One job in flight at a time, by the journalled quota: AWS's refusal (a quota of 1 here) is never needed.
    expect(fake.bedrockMock.commandCalls(CreateModelInvocationJobCommand)).toHaveLength(3);
  });

  it('waits when AWS refuses a job for the quota (other jobs in the account count too), and submits it later', async () => {
    fake.quota = 1;
    const progress: string[] = [];
    const outcome = await runDiscount(clients, target, { file: file(prompts(300)), out: join(dir, 'answers.jsonl'), resume: false, timeoutMs: 3_600_000, pause: noWait, limits }, (p) => progress.push(p.jobs.map((j) => j.status).join(',')));
    expect(outcome).toMatchObject({ complete: true, ok: 300 });
    expect(fake.jobs).toHaveLength(3);
    expect(fake.bedrockMock.commandCalls(CreateModelInvocationJobCommand).length).toBeGreaterThan(3);
    // Each input uploaded once, however long its job waited.
    expect(fake.s3Mock.commandCalls(PutObjectCommand)).toHaveLength(3);
    expect(progress[0]).toBe('Submitted,Creating,Creating');
    expect(outcome.jobs.map((j) => j.status)).toEqual(['Completed', 'Completed', 'Completed']);
  });

  it.each([
    ['PartiallyCompleted', 'JobPartiallyCompleted', 'The job ended PartiallyCompleted before every record was processed.'],
    ['Failed', 'JobFailed', 'The service role cannot read the input (Access Denied).'],
    ['Stopped', 'JobStopped', 'The job ended Stopped before every record was processed.'],
    ['Expired', 'JobExpired', 'The job ended Expired before every record was processed.'],
  ] as const)('a job that ends %s: what it answered, and an error line naming the job\'s message for the rest', async (end, code, message) => {
    fake.ends = [end];
    const outcome = await run(file(prompts(100)));
    const written = outLines(join(dir, 'answers.jsonl'));
    expect(written).toHaveLength(100);
    const unanswered = written.filter((r) => r.status === 'error');
    expect(unanswered.length).toBe(end === 'Failed' ? 100 : 50);
    expect(unanswered[0]).toMatchObject({ route: 'discount', error: { code, message: `the batch inference job ended ${end} without answering this line: ${message}` } });
    expect(outcome).toMatchObject({ complete: true, ok: 100 - unanswered.length, error: unanswered.length });
  });

  it('Ctrl-C leaves the jobs running; --resume reattaches, also to a job whose ARN the journal never got, and submits nothing twice', async () => {
    const path = file(prompts(300));
    const controller = new AbortController();
    const first = await run(path, { signal: controller.signal, pause: async () => controller.abort() });
    expect(first).toMatchObject({ complete: false, interrupted: true });
    expect(fake.jobs).toHaveLength(3);
    // As if killed between CreateModelInvocationJob and the journal's note of the last job's ARN.
    const journal = join(dir, 'answers.jsonl.journal');
    const notes = readFileSync(journal, 'utf8').split('\n').filter(Boolean);
    writeFileSync(journal, `${notes.filter((n) => !n.includes(fake.jobs[2]!.arn)).join('\n')}\n`);

    const second = await run(path, { resume: true });
    expect(second).toMatchObject({ complete: true, ok: 300 });
    expect(fake.bedrockMock.commandCalls(CreateModelInvocationJobCommand)).toHaveLength(3);
    expect(fake.bedrockMock.commandCalls(ListModelInvocationJobsCommand).map((c) => c.args[0].input.nameContains)).toEqual([fake.jobs[2]!.name]);
    expect(outLines(join(dir, 'answers.jsonl')).map((r) => r.line).sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  it('--status lists the stack\'s jobs that have not ended, and no other stack\'s whose name contains this one\'s', async () => {
    const controller = new AbortController();
    await run(file(prompts(300)), { signal: controller.signal, pause: async () => controller.abort() });
    fake.jobs.push({ ...fake.jobs[0]!, arn: 'arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/other', name: 'demo-2-ab12cd34-0' });
    fake.jobs[1]!.status = 'Completed';
    const listed = await runningJobs(clients.bedrock, 'demo');
    expect(listed.map((j) => [j.name, j.status])).toEqual([[fake.jobs[0]!.name, 'Submitted'], [fake.jobs[2]!.name, 'Submitted']]);
    expect(fake.bedrockMock.commandCalls(ListModelInvocationJobsCommand).map((c) => c.args[0].input)).toEqual([{ nameContains: 'demo-' }]);
  });

  it('a look at a job that Bedrock throttles is tried again at the next one; an error that will not pass stops the run', async () => {
    let throttled = 0;
    fake.bedrockMock.on(GetModelInvocationJobCommand).callsFake(async (input: { jobIdentifier: string }) => {
      if (throttled++ < 2) throw new ThrottlingException({ message: 'Too many requests, please wait before trying again.', $metadata: { httpStatusCode: 429 } });
      return fake.get(input);
    });
    expect(await run(file(prompts(100)))).toMatchObject({ complete: true, ok: 100 });
    expect(throttled).toBeGreaterThan(2);

    fake.bedrockMock.on(GetModelInvocationJobCommand).rejects(new AccessDeniedException({ message: 'User is not authorized to perform: bedrock:GetModelInvocationJob', $metadata: { httpStatusCode: 403 } }));
    await expect(run(file(prompts(100)), { out: join(dir, 'denied.jsonl') })).rejects.toThrow('bedrock:GetModelInvocationJob');
  });

  it('keeps a record\'s own error from the job\'s output, named as the real-time route names it', async () => {
    fake.answer = (prompt) => (prompt.endsWith('7') ? { errorCode: 400, errorMessage: 'Malformed input request' } : { text: `answer to ${prompt}` });
    const outcome = await run(file(prompts(100)));
    const failed = outLines(join(dir, 'answers.jsonl')).filter((r) => r.status === 'error');
    expect(failed.map((r) => r.line).sort((a, b) => a - b)).toEqual([7, 17, 27, 37, 47, 57, 67, 77, 87, 97]);
    expect(failed[0]).toMatchObject({ route: 'discount', error: { code: 'ValidationException', message: 'Malformed input request (record error 400)' } });
    expect(outcome).toMatchObject({ complete: true, ok: 90, error: 10 });
  });

  it.each([[1, 'Submitted'], [2, 'Validating'], [3, 'Scheduled'], [4, 'InProgress']] as const)('interrupted after %i look(s), the jobs %s: --resume follows the same jobs to the end, every line once', async (looks, state) => {
    const path = file(prompts(250));
    const controller = new AbortController();
    let pauses = 0;
    const first = await run(path, { signal: controller.signal, pause: async () => void (++pauses >= looks && controller.abort()) });
    expect(first.complete).toBe(false);
    expect(first.jobs.map((j) => j.status)).toEqual([state, state, state]);
    const second = await run(path, { resume: true });
    expect(second).toMatchObject({ complete: true, ok: 250 });
    expect(fake.bedrockMock.commandCalls(CreateModelInvocationJobCommand)).toHaveLength(3);
    expect(outLines(join(dir, 'answers.jsonl')).map((r) => r.line).sort((a, b) => a - b)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
  });

  it('an output that cannot be read for a while (S3 throttles) is read at the next look, and the run ends with every line', async () => {
    let slowDowns = 0;
    const objects = fake.objects;
    fake.s3Mock.on(GetObjectCommand).callsFake(async (input: { Bucket: string; Key: string }) => {
      if (slowDowns++ < 1) throw Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
      return { Body: Readable.from([objects.get(`${input.Bucket}/${input.Key}`)!]) };
    });
    // Looks a moment apart, for two seconds at most: without the second read the run times out.
    const outcome = await run(file(prompts(100)), { timeoutMs: 2_000, pause: () => new Promise((resolve) => setImmediate(resolve)) });
    expect(outcome).toMatchObject({ complete: true, ok: 100 });
    expect(slowDowns).toBe(2);
    expect(outLines(join(dir, 'answers.jsonl'))).toHaveLength(100);
  });
});
