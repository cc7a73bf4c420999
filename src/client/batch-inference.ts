/**
 * `batch --discount` (issue 22): a file of requests through Bedrock batch inference, at the batch
 * price. The file is spooled as job input files, each uploaded to the stack's batch bucket and
 * submitted as a model invocation job (Converse format); the jobs are followed until they end, and
 * their output written as the real-time `batch` writes it, one line per input line. The journal
 * beside the output keeps the plan and each job's ARN: after Ctrl-C or kill -9 the jobs run on, and
 * `--resume` reattaches to them; no job is submitted twice.
 */
import { createReadStream, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { CreateModelInvocationJobCommand, GetModelInvocationJobCommand, ListModelInvocationJobsCommand, type BedrockClient } from '@aws-sdk/client-bedrock';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { STACK_TAG } from '../contract.js';
import { CliError, describeError, errorName, isTransient } from '../errors.js';
import type { ConverseDefaults } from '../converse.js';
import type { RunningJob } from '../status-contract.js';
import { badLineRecord, BatchJournal } from './batch-journal.js';
import { DISCOUNT_LIMITS, ENDED_STATES, resultOfOutputLine, unansweredResult, type BatchLimits, type DiscountLimits, type DiscountResult, type OutputContext } from './discount-records.js';
import { jobInputPath, jobLines, removeSpool, spool, spoolDirectory } from './discount-spool.js';
import { pause as sleep } from './pause.js';

export interface DiscountClients {
  bedrock: BedrockClient;
  s3: S3Client;
}

/** Where the stack's jobs run: its bucket, the role Bedrock assumes, its model and defaults. */
export interface DiscountTarget {
  stack: string;
  bucket: string;
  roleArn: string;
  model: string;
  defaults: ConverseDefaults;
  /**
   * The model's batch quotas in the stack's Region, read when a run is planned (before anything is
   * uploaded); a CliError when the model or Region has no batch inference. Without it, the defaults.
   */
  quotas?: () => Promise<BatchLimits>;
}

export interface DiscountOptions {
  file: string;
  out: string;
  resume: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
  onBadLine?: (line: number, reason: string) => void;
  /** The longest wait between two looks at the jobs (they take minutes to hours); the first looks come sooner. */
  pollMs?: number;
  /** Quotas to plan by, in place of the target's. */
  limits?: DiscountLimits;
  /** The quotas a new run plans by, and their source. */
  onLimits?: (planned: BatchLimits) => void;
  pause?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface JobProgress {
  job: number;
  arn?: string;
  status: string;
  processed: number;
  failed: number;
  total?: number;
  message?: string;
}

export interface DiscountProgress {
  jobs: JobProgress[];
  ok: number;
  error: number;
  badLines: number;
  tokensIn: number;
  tokensOut: number;
  elapsedMs: number;
}

export interface DiscountOutcome extends DiscountProgress {
  /** Every line has its output line. */
  complete: boolean;
  timedOut: boolean;
  interrupted: boolean;
}

/** A run's plan, journalled: a resumed run keeps the quotas it was planned by. */
type Plan = { run: string; jobs: number; limits?: DiscountLimits };

/** The route cannot take this file (too few requests, a model without batch inference): nothing ran, so nothing is kept. */
class RouteRefused extends CliError {}
const inputKey = (run: string, job: number) => `batch/${run}/input/${job}.jsonl`;
const outputPrefix = (run: string, job: number) => `batch/${run}/output/${job}/`;
const jobName = (stack: string, run: string, job: number) => `${stack}-${run}-${job}`;
const FIRST_POLL_MS = 2_000;

/** Errors after which a job is submitted again at the next look: the quota of jobs in flight, or throttling. */
const laterErrors = new Set(['ServiceQuotaExceededException', 'ThrottlingException', 'TooManyRequestsException']);

export async function runDiscount(clients: DiscountClients, target: DiscountTarget, options: DiscountOptions, onProgress: (p: DiscountProgress) => void): Promise<DiscountOutcome> {
  const journal = new BatchJournal(`${options.out}.journal`, options.out, options.resume);
  const started = Date.now();
  const counts = { ...journal.earlier };
  const record = (line: number, result: DiscountResult) => {
    journal.write(line, JSON.stringify(result));
    if (result.status === 'ok') counts.ok++;
    else counts.error++;
    counts.tokensIn += result.usage?.inputTokens ?? 0;
    counts.tokensOut += result.usage?.outputTokens ?? 0;
  };
  let plan = journal.notes.find((n) => n.plan)?.plan as Plan | undefined;
  let complete = false;
  let refused = false;
  try {
    if (!plan) {
      const planned = await plannedLimits(target, options);
      options.onLimits?.(planned);
      const { limits } = planned;
      const spooled = await spool({
        file: options.file, out: options.out, defaults: target.defaults, limits, written: (line) => journal.written.has(line),
        badLine: (line, reason) => {
          counts.badLines++;
          journal.write(line, badLineRecord(reason));
          options.onBadLine?.(line, reason);
        },
      });
      if ('tooFew' in spooled) {
        throw new RouteRefused(`${spooled.tooFew} request${spooled.tooFew === 1 ? '' : 's'} to send: Bedrock batch inference takes at least ${limits.minRecordsPerJob} records a job. Drop --discount to send them in real time.`);
      }
      plan = { run: randomBytes(4).toString('hex'), jobs: spooled.jobs.length, limits };
      journal.note({ plan });
    }
    const jobs = new Jobs(clients, target, journal, plan, options);
    complete = await jobs.follow(started, record, () => onProgress({ jobs: jobs.progress(), ...counts, elapsedMs: Date.now() - started }));
    const done = { jobs: jobs.progress(), ...counts, elapsedMs: Date.now() - started };
    onProgress(done);
    return { ...done, complete, interrupted: !!options.signal?.aborted, timedOut: !complete && !options.signal?.aborted };
  } catch (err) {
    refused = err instanceof RouteRefused;
    throw err;
  } finally {
    // Refused: the output holds at most bad lines, which the real-time route reports again.
    journal.close(complete || refused);
    if (refused) rmSync(options.out, { force: true });
    if (complete || refused) removeSpool(options.out);
  }
}

/** The quotas a new run plans by: given, the target's (a refusal ends the route before anything is uploaded), or the defaults. */
async function plannedLimits(target: DiscountTarget, options: DiscountOptions): Promise<BatchLimits> {
  if (options.limits) return { limits: options.limits, source: 'given' };
  if (!target.quotas) return { limits: { ...DISCOUNT_LIMITS }, source: "AWS's documented defaults" };
  try {
    return await target.quotas();
  } catch (err) {
    throw err instanceof CliError ? new RouteRefused(err.message) : err;
  }
}

/** The stack's jobs that have not ended: names `<stack>-<run>-<job>` (another stack's names may contain this one's). */
export async function runningJobs(bedrock: BedrockClient, stack: string): Promise<RunningJob[]> {
  const ours = new RegExp(`^${stack}-[0-9a-f]{8}-\\d+$`);
  const jobs = [];
  let nextToken: string | undefined;
  do {
    const page = await bedrock.send(new ListModelInvocationJobsCommand({ nameContains: `${stack}-`, ...(nextToken ? { nextToken } : {}) }));
    jobs.push(...(page.invocationJobSummaries ?? []).filter((j) => ours.test(j.jobName ?? '') && !ENDED_STATES.has(j.status ?? '')));
    nextToken = page.nextToken;
  } while (nextToken);
  return jobs.map((j) => ({ name: j.jobName!, arn: j.jobArn!, status: j.status!, ...(j.submitTime ? { submitted: j.submitTime.toISOString() } : {}), ...(j.message ? { message: j.message } : {}) }));
}

/** The plan's jobs: submitted once each, followed until they end, their output collected. */
class Jobs {
  private readonly state: JobProgress[];
  /** Jobs an earlier run may have created without learning their ARN: looked for by name before anything is created. */
  private readonly unknown = new Set<number>();
  /** Inputs this run has uploaded: a job that waits for the quota is not uploaded again. */
  private readonly uploaded = new Set<number>();

  constructor(private readonly clients: DiscountClients, private readonly target: DiscountTarget, private readonly journal: BatchJournal, private readonly plan: Plan, private readonly options: DiscountOptions) {
    this.state = Array.from({ length: plan.jobs }, (_, job) => ({ job, status: 'NotSubmitted', processed: 0, failed: 0 }));
    for (const note of journal.notes) {
      const job = typeof note.job === 'number' ? this.state[note.job] : undefined;
      if (!job) continue;
      if (typeof note.arn === 'string') Object.assign(job, { arn: note.arn, status: 'Submitted' });
      if (note.creating) job.status = 'Creating';
      if (note.done) job.status = String(note.done);
    }
    for (const job of this.state) if (job.status === 'Creating') this.unknown.add(job.job);
  }

  progress = () => this.state.map((job) => ({ ...job }));

  async follow(started: number, record: (line: number, result: DiscountResult) => void, progress: () => void): Promise<boolean> {
    const pause = this.options.pause ?? sleep;
    const most = this.options.pollMs ?? 60_000;
    let wait = Math.min(FIRST_POLL_MS, most);
    for (;;) {
      const limits = this.plan.limits ?? this.options.limits ?? DISCOUNT_LIMITS;
      for (const job of this.state) {
        if (this.options.signal?.aborted) return false;
        if (!job.arn && this.state.filter((j) => j.arn && !ENDED_STATES.has(j.status)).length < limits.maxSubmittedJobs) await this.submit(job);
        else if (job.arn && !ENDED_STATES.has(job.status)) await this.look(job, record).catch((err: unknown) => this.lookFailed(job, err));
      }
      progress();
      if (this.state.every((job) => ENDED_STATES.has(job.status))) return true;
      const left = started + this.options.timeoutMs - Date.now();
      if (left <= 0 || this.options.signal?.aborted) return false;
      await pause(Math.min(wait, left), this.options.signal);
      wait = Math.min(wait * 2, most);
    }
  }

  /** Uploads a job's input and creates the job; a resumed run first looks for the job it may have created. */
  private async submit(job: JobProgress) {
    const { stack, bucket, roleArn, model } = this.target;
    const name = jobName(stack, this.plan.run, job.job);
    if (this.unknown.delete(job.job)) {
      const { invocationJobSummaries = [] } = await this.clients.bedrock.send(new ListModelInvocationJobsCommand({ nameContains: name }));
      const found = invocationJobSummaries.find((s) => s.jobName === name);
      if (found?.jobArn) return this.submitted(job, found.jobArn);
    }
    const path = jobInputPath(spoolDirectory(this.options.out), job.job);
    const key = inputKey(this.plan.run, job.job);
    if (!this.uploaded.has(job.job)) {
      await this.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(path), ContentLength: statSync(path).size, ContentType: 'application/jsonl' }));
      this.uploaded.add(job.job);
      this.journal.note({ job: job.job, creating: true });
    }
    job.status = 'Creating';
    try {
      const { jobArn } = await this.clients.bedrock.send(new CreateModelInvocationJobCommand({
        jobName: name,
        clientRequestToken: name,
        roleArn,
        modelId: model,
        modelInvocationType: 'Converse',
        inputDataConfig: { s3InputDataConfig: { s3Uri: `s3://${bucket}/${key}`, s3InputFormat: 'JSONL' } },
        outputDataConfig: { s3OutputDataConfig: { s3Uri: `s3://${bucket}/${outputPrefix(this.plan.run, job.job)}` } },
        tags: [{ key: STACK_TAG, value: stack }],
      }));
      this.submitted(job, jobArn!);
    } catch (err) {
      const name = (err as Error).name;
      if (laterErrors.has(name)) {
        job.message = `waiting to be submitted: ${describeError(err)}`;
        return;
      }
      if (name === 'ValidationException' && this.state.every((j) => !j.arn)) {
        // Nothing runs yet: take the input back, and say what AWS refused (a model or Region without batch inference, most often).
        await this.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
        throw new RouteRefused(`Bedrock refused the batch inference job for ${model}: ${describeError(err)} If this model or Region has no batch inference, drop --discount to send the file in real time.`);
      }
      throw err;
    }
  }

  /** A look that failed for a while (throttled, a server error, no answer) is tried at the next one. */
  private lookFailed(job: JobProgress, err: unknown) {
    if (!isTransient(err) && !laterErrors.has(errorName(err))) throw err;
    job.message = `not answering for now (${describeError(err)}); looking again`;
  }

  private submitted(job: JobProgress, arn: string) {
    this.journal.note({ job: job.job, arn });
    Object.assign(job, { arn, status: 'Submitted', message: undefined });
  }

  private async look(job: JobProgress, record: (line: number, result: DiscountResult) => void) {
    const answer = await this.clients.bedrock.send(new GetModelInvocationJobCommand({ jobIdentifier: job.arn }));
    const status = answer.status ?? job.status;
    Object.assign(job, {
      processed: answer.processedRecordCount ?? job.processed,
      failed: answer.errorRecordCount ?? job.failed,
      ...(answer.totalRecordCount !== undefined ? { total: answer.totalRecordCount } : {}),
      message: answer.message,
    });
    // A job is ended here only once its output is written: a collection cut short is looked at again.
    if (ENDED_STATES.has(status)) {
      await this.collect(job, status, (answer.endTime ?? new Date()).toISOString(), record);
      this.journal.note({ job: job.job, done: status });
    }
    job.status = status;
  }

  /** Writes a job's output lines, then an error line for each of its lines the job did not answer. */
  private async collect(job: JobProgress, status: string, completedAt: string, record: (line: number, result: DiscountResult) => void) {
    const lines = await jobLines(this.options.out, job.job);
    const context: OutputContext = { model: this.target.model, completedAt, idOf: (line) => lines.get(line)?.id ?? '', metadataOf: (line) => lines.get(line)?.metadata };
    const { bucket } = this.target;
    let token: string | undefined;
    do {
      const listed = await this.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: outputPrefix(this.plan.run, job.job), ContinuationToken: token }));
      for (const { Key } of listed.Contents ?? []) {
        if (!Key?.endsWith('.jsonl.out')) continue;
        const { Body } = await this.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
        for await (const text of createInterface({ input: Body as Readable, crlfDelay: Infinity })) {
          const answered = text ? resultOfOutputLine(text, context) : undefined;
          if (answered && lines.has(answered.line) && !this.journal.written.has(answered.line)) record(answered.line, answered.result);
        }
      }
      token = listed.IsTruncated ? listed.NextContinuationToken : undefined;
    } while (token);
    for (const line of lines.keys()) {
      if (!this.journal.written.has(line)) record(line, unansweredResult(line, context, status, job.message));
    }
  }
}
