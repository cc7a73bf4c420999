/**
 * Bedrock batch inference and the S3 calls it needs, simulated from AWS's documented shapes (moto
 * has no model invocation jobs): CreateModelInvocationJob / GetModelInvocationJob /
 * ListModelInvocationJobs and PutObject / GetObject / ListObjectsV2 / DeleteObject, behind
 * aws-sdk-client-mock. What is simulated, from the Bedrock user guide and API reference:
 * - a job moves Submitted, Validating, Scheduled, InProgress, then ends (Completed by default; a
 *   test may end it PartiallyCompleted, Failed, Stopped or Expired), one state per GetModelInvocationJob;
 * - when it ends it writes `<output s3Uri><job id>/<input file name>.out` (one line per record
 *   answered: recordId, modelInput, and modelOutput or error {errorCode, errorMessage}) and
 *   `manifest.json.out`, in an order that is not the input's (the guide: order is not guaranteed);
 * - the counts (totalRecordCount, processedRecordCount, successRecordCount, errorRecordCount);
 * - ServiceQuotaExceededException past the quota of submitted and in-progress jobs;
 * - a repeated clientRequestToken answers with the job it created, and creates nothing.
 */
import { CreateModelInvocationJobCommand, GetModelInvocationJobCommand, ListModelInvocationJobsCommand, ServiceQuotaExceededException, ValidationException, type BedrockClient } from '@aws-sdk/client-bedrock';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { Readable } from 'node:stream';

const STATES = ['Submitted', 'Validating', 'Scheduled', 'InProgress'] as const;
const ENDS = ['Completed', 'PartiallyCompleted', 'Failed', 'Stopped', 'Expired'] as const;
export type JobEnd = (typeof ENDS)[number];

export interface FakeJob {
  arn: string;
  name: string;
  token?: string;
  model: string;
  input: string;
  output: string;
  looks: number;
  status: string;
  end: JobEnd;
  message?: string;
  records: number;
}

type ModelInput = { messages: { content: { text: string }[] }[] };
/** What the model answers a record: a Converse output, or a record error. */
export type Answer = { text: string } | { errorCode: number; errorMessage: string };

const metadata = { httpStatusCode: 400, attempts: 1, totalRetryDelay: 0 };
const uri = (s3Uri: string) => /^s3:\/\/([^/]+)\/(.*)$/.exec(s3Uri)!.slice(1) as [string, string];

export class FakeBatch {
  readonly objects = new Map<string, Buffer>();
  readonly jobs: FakeJob[] = [];
  readonly bedrockMock;
  readonly s3Mock;
  /** How jobs end, in creation order (then Completed). */
  ends: JobEnd[] = [];
  /** The model: echoes the prompt unless told otherwise. */
  answer: (prompt: string) => Answer = (prompt) => ({ text: `answer to ${prompt}` });
  /** Submitted and in-progress jobs allowed at once. */
  quota = 20;
  /** A model without batch inference: CreateModelInvocationJob says so. */
  refuseModel?: string;

  constructor(bedrock: BedrockClient | (new (...args: never[]) => BedrockClient), s3: S3Client | (new (...args: never[]) => S3Client)) {
    this.bedrockMock = mockClient(bedrock as never);
    this.s3Mock = mockClient(s3 as never);
    this.install();
  }

  private install() {
    const key = (bucket: string, k: string) => `${bucket}/${k}`;
    this.s3Mock.on(PutObjectCommand).callsFake(async (input: { Bucket: string; Key: string; Body: Readable | string }) => {
      const chunks: Buffer[] = [];
      if (typeof input.Body === 'string') chunks.push(Buffer.from(input.Body));
      else for await (const chunk of input.Body) chunks.push(Buffer.from(chunk as Buffer));
      this.objects.set(key(input.Bucket, input.Key), Buffer.concat(chunks));
      return { ETag: '"etag"' };
    });
    this.s3Mock.on(GetObjectCommand).callsFake(async (input: { Bucket: string; Key: string }) => {
      const data = this.objects.get(key(input.Bucket, input.Key));
      if (!data) throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { ...metadata, httpStatusCode: 404 } });
      return { Body: Readable.from([data]), ContentLength: data.length };
    });
    this.s3Mock.on(ListObjectsV2Command).callsFake(async (input: { Bucket: string; Prefix?: string; ContinuationToken?: string }) => {
      const keys = [...this.objects.keys()].filter((k) => k.startsWith(key(input.Bucket, input.Prefix ?? ''))).map((k) => k.slice(input.Bucket.length + 1)).sort();
      const start = Number(input.ContinuationToken ?? 0);
      // Two keys a page: paging is exercised.
      const page = keys.slice(start, start + 2);
      const more = start + 2 < keys.length;
      return { Contents: page.map((Key) => ({ Key })), KeyCount: page.length, IsTruncated: more, ...(more ? { NextContinuationToken: String(start + 2) } : {}) };
    });
    this.s3Mock.on(DeleteObjectCommand).callsFake(async (input: { Bucket: string; Key: string }) => {
      this.objects.delete(key(input.Bucket, input.Key));
      return {};
    });

    this.bedrockMock.on(CreateModelInvocationJobCommand).callsFake(async (input: { jobName: string; clientRequestToken?: string; modelId: string; inputDataConfig: { s3InputDataConfig: { s3Uri: string } }; outputDataConfig: { s3OutputDataConfig: { s3Uri: string } } }) => {
      const again = input.clientRequestToken && this.jobs.find((j) => j.token === input.clientRequestToken);
      if (again) return { jobArn: again.arn };
      if (input.modelId === this.refuseModel) throw new ValidationException({ message: `The provided model identifier is invalid or does not support batch inference: ${input.modelId}`, $metadata: metadata });
      const running = this.jobs.filter((j) => !(ENDS as readonly string[]).includes(j.status)).length;
      if (running >= this.quota) throw new ServiceQuotaExceededException({ message: `You have exceeded the number of submitted and in-progress batch inference jobs for ${input.modelId} (${this.quota}).`, $metadata: metadata });
      const id = `job${this.jobs.length + 1}x${Math.random().toString(36).slice(2, 8)}`;
      this.jobs.push({
        arn: `arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/${id}`, name: input.jobName, ...(input.clientRequestToken ? { token: input.clientRequestToken } : {}), model: input.modelId,
        input: input.inputDataConfig.s3InputDataConfig.s3Uri, output: input.outputDataConfig.s3OutputDataConfig.s3Uri, looks: 0, status: 'Submitted', end: this.ends[this.jobs.length] ?? 'Completed', records: 0,
      });
      return { jobArn: this.jobs.at(-1)!.arn };
    });
    this.bedrockMock.on(GetModelInvocationJobCommand).callsFake(this.get);
    this.bedrockMock.on(ListModelInvocationJobsCommand).callsFake(async (input: { nameContains?: string }) => ({
      invocationJobSummaries: this.jobs.filter((j) => !input.nameContains || j.name.includes(input.nameContains)).map((j) => ({ jobArn: j.arn, jobName: j.name, modelId: j.model, status: j.status, submitTime: new Date() })),
    }));
  }

  /** GetModelInvocationJob: each look moves the job one state on. */
  readonly get = async (input: { jobIdentifier: string }) => {
    const job = this.jobs.find((j) => j.arn === input.jobIdentifier);
    if (!job) throw new ValidationException({ message: 'The specified job does not exist.', $metadata: metadata });
    job.looks++;
    if (job.looks < STATES.length) job.status = STATES[job.looks]!;
    else if (!(ENDS as readonly string[]).includes(job.status)) this.finish(job);
    const counts = this.counts(job);
    return { jobArn: job.arn, jobName: job.name, modelId: job.model, status: job.status, ...(job.message ? { message: job.message } : {}), submitTime: new Date(), ...((ENDS as readonly string[]).includes(job.status) ? { endTime: new Date('2026-12-03T12:00:00Z') } : {}), ...counts };
  };

  private counts(job: FakeJob) {
    if (job.status !== 'InProgress' && !(ENDS as readonly string[]).includes(job.status)) return {};
    const out = [...this.objects].find(([k]) => k.startsWith(uri(job.output).join('/')) && k.endsWith('.jsonl.out'))?.[1].toString().split('\n').filter(Boolean) ?? [];
    const errors = out.filter((l) => 'error' in JSON.parse(l)).length;
    return { totalRecordCount: job.records, processedRecordCount: out.length, successRecordCount: out.length - errors, errorRecordCount: errors };
  }

  /** The job ends: its output (the records it answered, last first) and its manifest. */
  private finish(job: FakeJob) {
    job.status = job.end;
    const [bucket, key] = uri(job.input);
    const lines = (this.objects.get(`${bucket}/${key}`)?.toString() ?? '').split('\n').filter(Boolean);
    job.records = lines.length;
    if (job.end === 'Failed') {
      job.message = 'The service role cannot read the input (Access Denied).';
      return;
    }
    const answered = job.end === 'Completed' ? lines : lines.slice(0, Math.floor(lines.length / 2));
    if (job.end !== 'Completed') job.message = `The job ended ${job.end} before every record was processed.`;
    const out = answered.reverse().map((l) => {
      const { recordId, modelInput } = JSON.parse(l) as { recordId: string; modelInput: ModelInput };
      const answer = this.answer(modelInput.messages[0]!.content[0]!.text);
      return JSON.stringify('text' in answer
        ? { recordId, modelInput, modelOutput: { output: { message: { role: 'assistant', content: [{ text: answer.text }] } }, stopReason: 'end_turn', usage: { inputTokens: 3, outputTokens: 5, totalTokens: 8 }, metrics: { latencyMs: 100 } } }
        : { recordId, modelInput, error: answer });
    });
    const [outBucket, prefix] = uri(job.output);
    const jobId = job.arn.split('/').pop()!;
    const fileName = key.split('/').pop()!;
    this.objects.set(`${outBucket}/${prefix}${jobId}/${fileName}.out`, Buffer.from(out.map((l) => `${l}\n`).join('')));
    this.objects.set(`${outBucket}/${prefix}${jobId}/manifest.json.out`, Buffer.from(JSON.stringify({ totalRecordCount: lines.length, processedRecordCount: out.length, successRecordCount: out.length, errorRecordCount: 0, inputTokenCount: 3 * out.length, outputTokenCount: 5 * out.length })));
  }

  /** The S3 key of the object a job read. */
  inputOf(job: FakeJob) {
    return uri(job.input).join('/');
  }
}
