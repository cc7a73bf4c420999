/**
 * The local target's Bedrock batch inference: CreateModelInvocationJob, GetModelInvocationJob and
 * ListModelInvocationJobs, answered as Bedrock's REST API answers them, over jobs that read their
 * input from the local bucket and answer it through the local model server (the Converse format),
 * after `up --local --discount-delay`. A job moves Submitted, Validating (AWS's default record
 * quotas, so a file too small for AWS fails here too), Scheduled (the delay), InProgress (each record
 * a Converse call, throttled ones tried again), and Completed, writing `<input file>.out` (one line a
 * record: recordId, modelInput, modelOutput or error) and `manifest.json.out` under the output
 * prefix and the job id, as Bedrock does. Jobs are kept in a file: a restarted stack runs those
 * that had not ended again from the start.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DISCOUNT_LIMITS, ENDED_STATES } from '../../client/discount-records.js';
import { LOCAL_ACCOUNT } from '../../contract.js';
import type { RunningJob } from '../../status-contract.js';
import { closeServer, listen, readBody, sendAwsError, sendJson } from './http.js';
import { LocalObjects, s3Error } from './batch-objects.js';
import { LocalQuotas } from './batch-quotas.js';

/** How long a local job waits, Scheduled, unless `up --local --discount-delay` says otherwise (a real one: minutes to hours). */
export const DISCOUNT_DELAY_MS = 5_000;

interface Job {
  jobArn: string;
  jobName: string;
  modelId: string;
  roleArn: string;
  clientRequestToken?: string;
  status: string;
  message?: string;
  submitTime: string;
  lastModifiedTime: string;
  endTime?: string;
  inputDataConfig: { s3InputDataConfig: { s3Uri: string } };
  outputDataConfig: { s3OutputDataConfig: { s3Uri: string } };
  modelInvocationType?: string;
  totalRecordCount?: number;
  processedRecordCount?: number;
  successRecordCount?: number;
  errorRecordCount?: number;
}

export interface BatchJobsOptions {
  objects: LocalObjects;
  /** Where the jobs are kept. */
  file: string;
  /** The local model server (Converse), and the model it serves. */
  modelEndpoint: string;
  modelId: string;
  /** How long a job waits, Scheduled, before it answers its records. */
  delayMs: number;
  /** Records answered at once. */
  parallel?: number;
}

const JOB_NAME = /^[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9+\-.]){0,63}$/;
const uriParts = (uri: string) => /^s3:\/\/([^/]+)\/(.*)$/.exec(uri)?.slice(1) as [string, string] | undefined;

export class LocalBatchJobs {
  private readonly jobs: Job[];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly options: BatchJobsOptions) {
    this.jobs = existsSync(options.file) ? JSON.parse(readFileSync(options.file, 'utf8')) as Job[] : [];
    for (const job of this.jobs) if (!ENDED_STATES.has(job.status)) this.run(job);
  }

  /** The jobs that have not ended, as `status` lists them (one local batch server a stack: all are the stack's). */
  running(): RunningJob[] {
    return this.jobs.filter((j) => !ENDED_STATES.has(j.status)).map((j) => ({ name: j.jobName, arn: j.jobArn, status: j.status, submitted: j.submitTime, ...(j.message ? { message: j.message } : {}) }));
  }

  close() {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
  }

  async serve(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://local');
    if (req.method === 'POST' && url.pathname === '/model-invocation-job') return this.create(JSON.parse((await readBody(req))!.toString('utf8') || '{}') as Record<string, unknown>, res);
    const one = /^\/model-invocation-job\/(.+)$/.exec(url.pathname);
    if (req.method === 'GET' && one) {
      const id = decodeURIComponent(one[1]!);
      const job = this.jobs.find((j) => j.jobArn === id || j.jobArn.endsWith(`/${id}`));
      return job ? sendJson(res, job) : sendAwsError(res, 404, 'ResourceNotFoundException', `The job ${id} does not exist.`);
    }
    if (req.method === 'GET' && url.pathname === '/model-invocation-jobs') {
      const name = url.searchParams.get('nameContains');
      const status = url.searchParams.get('statusEquals');
      return sendJson(res, { invocationJobSummaries: this.jobs.filter((j) => (!name || j.jobName.includes(name)) && (!status || j.status === status)) });
    }
    sendAwsError(res, 404, 'UnknownOperationException', `Unknown operation ${req.method} ${url.pathname}`);
  }

  private create(input: Record<string, unknown>, res: ServerResponse) {
    const token = input.clientRequestToken as string | undefined;
    const again = token ? this.jobs.find((j) => j.clientRequestToken === token) : undefined;
    if (again) return sendJson(res, { jobArn: again.jobArn });
    const name = String(input.jobName ?? '');
    if (!JOB_NAME.test(name)) return sendAwsError(res, 400, 'ValidationException', `1 validation error detected: Value '${name}' at 'jobName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\\+\\-\\.]){0,63}`);
    if (input.modelId !== this.options.modelId) return sendAwsError(res, 400, 'ValidationException', `The provided model identifier is invalid or does not support batch inference here: the local target answers ${this.options.modelId} only.`);
    const inputUri = (input.inputDataConfig as Job['inputDataConfig'] | undefined)?.s3InputDataConfig?.s3Uri ?? '';
    const outputUri = (input.outputDataConfig as Job['outputDataConfig'] | undefined)?.s3OutputDataConfig?.s3Uri ?? '';
    if (!uriParts(inputUri) || !uriParts(outputUri)) return sendAwsError(res, 400, 'ValidationException', 'inputDataConfig and outputDataConfig need S3 URIs (s3://bucket/key).');
    if (this.jobs.filter((j) => !ENDED_STATES.has(j.status)).length >= DISCOUNT_LIMITS.maxSubmittedJobs) {
      return sendAwsError(res, 400, 'ServiceQuotaExceededException', `You have reached the quota of ${DISCOUNT_LIMITS.maxSubmittedJobs} submitted and in-progress batch inference jobs.`);
    }
    const now = new Date().toISOString();
    const job: Job = {
      jobArn: `arn:aws:bedrock:${LOCAL_ACCOUNT.region}:${LOCAL_ACCOUNT.accountId}:model-invocation-job/${randomBytes(6).toString('hex')}`,
      jobName: name, modelId: this.options.modelId, roleArn: String(input.roleArn ?? ''), ...(token ? { clientRequestToken: token } : {}),
      status: 'Submitted', submitTime: now, lastModifiedTime: now,
      inputDataConfig: { s3InputDataConfig: { s3Uri: inputUri } }, outputDataConfig: { s3OutputDataConfig: { s3Uri: outputUri } },
      ...(input.modelInvocationType ? { modelInvocationType: String(input.modelInvocationType) } : {}),
    };
    this.jobs.push(job);
    this.save();
    sendJson(res, { jobArn: job.jobArn });
    this.run(job);
  }

  private save() {
    writeFileSync(`${this.options.file}.part`, JSON.stringify(this.jobs), { mode: 0o600, flush: true });
    renameSync(`${this.options.file}.part`, this.options.file);
  }

  private move(job: Job, status: string, change: Partial<Job> = {}) {
    Object.assign(job, change, { status, lastModifiedTime: new Date().toISOString() }, ENDED_STATES.has(status) ? { endTime: new Date().toISOString() } : {});
    this.save();
  }

  private later(ms: number) {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  /** Runs a job from validation to its end. */
  private run(job: Job) {
    void (async () => {
      const [bucket, key] = uriParts(job.inputDataConfig.s3InputDataConfig.s3Uri)!;
      const path = this.options.objects.read(bucket, key);
      this.move(job, 'Validating', { processedRecordCount: 0, successRecordCount: 0, errorRecordCount: 0 });
      const lines = path ? readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()) : [];
      const problem = !path ? `The input ${job.inputDataConfig.s3InputDataConfig.s3Uri} does not exist.`
        : lines.length < DISCOUNT_LIMITS.minRecordsPerJob ? `The job has ${lines.length} records, below the minimum of ${DISCOUNT_LIMITS.minRecordsPerJob} records per batch inference job.`
          : lines.length > DISCOUNT_LIMITS.maxRecordsPerJob ? `The job has ${lines.length} records, above the maximum of ${DISCOUNT_LIMITS.maxRecordsPerJob}.` : undefined;
      const malformed = lines.findIndex((line) => {
        try {
          const record = JSON.parse(line) as unknown;
          return typeof record !== 'object' || record === null;
        } catch {
          return true;
        }
      });
      if (problem || malformed >= 0) return this.move(job, 'Failed', { message: problem ?? `Record ${malformed + 1} of the input is not a JSON object.` });
      this.move(job, 'Scheduled', { totalRecordCount: lines.length });
      await this.later(this.options.delayMs);
      if (this.stopped) return;
      this.move(job, 'InProgress');
      await this.answerRecords(job, lines, key);
    })().catch((err: unknown) => this.move(job, 'Failed', { message: `The local job failed: ${(err as Error).message}` }));
  }

  private async answerRecords(job: Job, lines: string[], inputKey: string) {
    const [outBucket, prefix] = uriParts(job.outputDataConfig.s3OutputDataConfig.s3Uri)!;
    const jobId = job.jobArn.split('/').pop()!;
    const outKey = `${prefix}${jobId}/${inputKey.split('/').pop()}.out`;
    const out: string[] = [];
    const counts = { processed: 0, success: 0, error: 0, inputTokens: 0, outputTokens: 0 };
    let next = 0;
    const lane = async () => {
      while (next < lines.length && !this.stopped) {
        const record = JSON.parse(lines[next++]!) as { recordId?: string; modelInput?: unknown };
        const answer = await this.converse(record.modelInput);
        out.push(JSON.stringify({ recordId: record.recordId, modelInput: record.modelInput, ...answer }));
        counts.processed++;
        if ('error' in answer) counts.error++;
        else {
          counts.success++;
          counts.inputTokens += answer.modelOutput.usage?.inputTokens ?? 0;
          counts.outputTokens += answer.modelOutput.usage?.outputTokens ?? 0;
        }
        // The counts, as GetModelInvocationJob reports them while the job runs (not saved each record).
        Object.assign(job, { processedRecordCount: counts.processed, successRecordCount: counts.success, errorRecordCount: counts.error });
      }
    };
    await Promise.all(Array.from({ length: this.options.parallel ?? 16 }, lane));
    if (this.stopped) return;
    await this.options.objects.write(outBucket, outKey, Readable.from(out.map((l) => `${l}\n`)));
    const manifest = { totalRecordCount: job.totalRecordCount, processedRecordCount: counts.processed, successRecordCount: counts.success, errorRecordCount: counts.error, inputTokenCount: counts.inputTokens, outputTokenCount: counts.outputTokens };
    await this.options.objects.write(outBucket, `${prefix}${jobId}/manifest.json.out`, Readable.from([JSON.stringify(manifest)]));
    this.move(job, 'Completed');
  }

  /** One record through the local model server; throttled calls wait and go again, as Bedrock's own batch scheduling would. */
  private async converse(modelInput: unknown): Promise<{ modelOutput: { usage?: { inputTokens?: number; outputTokens?: number } } } | { error: { errorCode: number; errorMessage: string } }> {
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(`${this.options.modelEndpoint}/model/${encodeURIComponent(this.options.modelId)}/converse`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(modelInput ?? {}),
      });
      const body = await response.json() as { message?: string; usage?: { inputTokens?: number; outputTokens?: number } };
      if (response.ok) return { modelOutput: body };
      if (response.status === 429 && !this.stopped) {
        await this.later(Math.min(5_000, 200 * 2 ** attempt));
        continue;
      }
      return { error: { errorCode: response.status, errorMessage: body.message ?? response.statusText } };
    }
  }
}

/**
 * One local endpoint for the discount route's services, told apart as AWS's endpoints need not be:
 * by the service a request is signed for (S3, Bedrock or Service Quotas).
 */
export async function startBatchServer(options: Omit<BatchJobsOptions, 'objects' | 'file'> & { directory: string }) {
  const objects = new LocalObjects(join(options.directory, 'objects'));
  const jobs = new LocalBatchJobs({ ...options, objects, file: join(options.directory, 'jobs.json') });
  const quotas = new LocalQuotas(options.modelId);
  const server = createServer((req, res) => {
    const service = /Credential=[^/]+\/\d+\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
    const served = service === 's3' ? objects.serve(req, res)
      : service === 'servicequotas' || (service === 'bedrock' && quotas.answers(req)) ? quotas.serve(req, res)
        : service === 'bedrock' ? jobs.serve(req, res)
          : Promise.resolve(s3Error(res, 400, 'InvalidRequest', 'Sign the request for s3, bedrock or servicequotas.'));
    served.catch((err: unknown) => {
      if (!res.headersSent) sendAwsError(res, 500, 'InternalServerException', (err as Error).message);
      else res.destroy();
    });
  });
  const port = await listen(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    running: () => jobs.running(),
    close: async () => {
      jobs.close();
      await closeServer(server);
    },
  };
}
