/**
 * `batch --discount` (issue 22), the part without AWS: a file's lines as Bedrock batch inference
 * records, their division into jobs within AWS's quotas, and a job's output lines as the same
 * result records the real-time `batch` writes, marked `"route": "discount"`.
 */
import type { ResultRecord } from '../contract.js';
import { converseText, type ConverseBody } from '../converse.js';

/**
 * Bedrock's default batch inference quotas (Service Quotas, "Amazon Bedrock"; per model, and
 * adjustable there), as documented on 2026-12-03. A job's records go in one file here, so a job
 * keeps within the per-file quotas too.
 */
export const DISCOUNT_LIMITS = {
  /** Minimum number of records per batch inference job. */
  minRecordsPerJob: 100,
  /** Records per input file per batch inference job. */
  maxRecordsPerFile: 50_000,
  /** Records per batch inference job. */
  maxRecordsPerJob: 50_000,
  /** Batch inference input file size: 1 GB. */
  maxFileBytes: 1024 ** 3,
  /** Batch inference job size: 5 GB. */
  maxJobBytes: 5 * 1024 ** 3,
  /** Sum of in-progress and submitted batch inference jobs using a base model. */
  maxSubmittedJobs: 20,
} as const;

export type DiscountLimits = { -readonly [K in keyof typeof DISCOUNT_LIMITS]: number };

/** The quotas a run plans by, and where they came from (Service Quotas, or the defaults above), said on stderr. */
export interface BatchLimits {
  limits: DiscountLimits;
  source: string;
}

/** The job states (GetModelInvocationJob's `status`) after which nothing changes. */
export const ENDED_STATES = new Set(['Completed', 'PartiallyCompleted', 'Failed', 'Stopped', 'Expired']);

/** A line's record id: "L" and its line number in ten digits (Bedrock asks for an alphanumeric string). */
export const recordIdOf = (line: number) => `L${String(line).padStart(10, '0')}`;

export function lineOfRecordId(recordId: unknown): number | undefined {
  return typeof recordId === 'string' && /^L\d{10}$/.test(recordId) ? Number(recordId.slice(1)) : undefined;
}

/** One line of a job's input file: the request as a Converse body (the job's `modelInvocationType` is Converse). */
export function batchRecordLine(line: number, body: ConverseBody): string {
  return `${JSON.stringify({ recordId: recordIdOf(line), modelInput: body })}\n`;
}

/**
 * How many jobs `records` records of `bytes` bytes in all need, and how many records each takes:
 * as few jobs as the quotas allow, of even size so that none falls below the minimum. Undefined
 * when there are fewer records than one job's minimum: AWS would refuse the job, and padding it
 * with invented records is not an option.
 */
export function planJobs(records: number, bytes: number, limits: DiscountLimits = DISCOUNT_LIMITS): number[] | undefined {
  if (records < limits.minRecordsPerJob) return undefined;
  const mostRecords = Math.min(limits.maxRecordsPerJob, limits.maxRecordsPerFile);
  const mostBytes = Math.min(limits.maxJobBytes, limits.maxFileBytes);
  // Records of average size: a job that would pass the byte quota is split further when it is written (see JobSplitter).
  const jobs = Math.max(Math.ceil(records / mostRecords), Math.ceil(bytes / mostBytes));
  const each = Math.floor(records / jobs);
  return Array.from({ length: jobs }, (_, i) => each + (i < records % jobs ? 1 : 0));
}

/**
 * Deals the records, in file order, into the jobs of a plan, starting a new job early when the next
 * record would take the current one past the byte quota (records of uneven size).
 */
export class JobSplitter {
  private job = 0;
  private inJob = 0;
  private bytesInJob = 0;

  constructor(private readonly plan: number[], private readonly limits: DiscountLimits = DISCOUNT_LIMITS) {}

  /** The job a record of `bytes` bytes goes to. */
  next(bytes: number): number {
    const mostBytes = Math.min(this.limits.maxJobBytes, this.limits.maxFileBytes);
    const full = this.inJob >= (this.plan[this.job] ?? Infinity) || this.bytesInJob + bytes > mostBytes;
    if (full && this.inJob > 0) {
      this.job++;
      this.inJob = 0;
      this.bytesInJob = 0;
    }
    this.inJob++;
    this.bytesInJob += bytes;
    return this.job;
  }
}

/** A result record from the discount route: the real-time record, and the route that answered. */
export type DiscountResult = ResultRecord & { route: 'discount' };

/** The error codes of a record's HTTP-style `errorCode`, named as the real-time route names them. */
const RECORD_ERRORS: Record<number, string> = {
  400: 'ValidationException',
  403: 'AccessDeniedException',
  408: 'ModelTimeoutException',
  424: 'ModelErrorException',
  429: 'ThrottlingException',
  500: 'InternalServerException',
  503: 'ServiceUnavailableException',
};

interface OutputLine {
  recordId?: unknown;
  modelOutput?: {
    output?: { message?: { content?: { text?: string }[] } };
    stopReason?: string;
    usage?: { inputTokens?: number; outputTokens?: number; totalTokens?: number };
  };
  error?: { errorCode?: number | string; errorMessage?: string };
}

export interface OutputContext {
  model: string;
  /** When the job ended (ISO 8601): the results' `completedAt`. */
  completedAt: string;
  /** The id each line's result takes (its request's own id, if it had one). */
  idOf: (line: number) => string;
  metadataOf?: (line: number) => Record<string, string> | undefined;
}

/**
 * One line of a job's output file as the line of the input file it answers and its result record;
 * undefined for a line that names no record of ours (which the caller reports).
 */
export function resultOfOutputLine(text: string, context: OutputContext): { line: number; result: DiscountResult } | undefined {
  let parsed: OutputLine;
  try {
    parsed = JSON.parse(text) as OutputLine;
  } catch {
    return undefined;
  }
  const line = lineOfRecordId(parsed.recordId);
  if (line === undefined) return undefined;
  const metadata = context.metadataOf?.(line);
  const base = { id: context.idOf(line), model: context.model, latencyMs: 0, attempt: 1, completedAt: context.completedAt, route: 'discount' as const, ...(metadata ? { metadata } : {}) };
  if (parsed.error || !parsed.modelOutput) {
    const code = Number(parsed.error?.errorCode);
    const message = parsed.error?.errorMessage ?? 'the job wrote no output for this record';
    return { line, result: { ...base, status: 'error', error: { code: RECORD_ERRORS[code] ?? 'ModelError', message: Number.isFinite(code) ? `${message} (record error ${code})` : message } } };
  }
  const { usage } = parsed.modelOutput;
  const inputTokens = usage?.inputTokens ?? 0;
  const outputTokens = usage?.outputTokens ?? 0;
  return {
    line,
    result: {
      ...base,
      status: 'ok',
      output: converseText(parsed.modelOutput),
      ...(parsed.modelOutput.stopReason ? { stopReason: parsed.modelOutput.stopReason } : {}),
      usage: { inputTokens, outputTokens, totalTokens: usage?.totalTokens ?? inputTokens + outputTokens },
    },
  };
}

/** The result of a line the job ended without answering (PartiallyCompleted, Stopped, Expired, Failed). */
export function unansweredResult(line: number, context: OutputContext, status: string, jobMessage: string | undefined): DiscountResult {
  const metadata = context.metadataOf?.(line);
  const why = `the batch inference job ended ${status} without answering this line${jobMessage ? `: ${jobMessage}` : ''}`;
  return { id: context.idOf(line), status: 'error', model: context.model, latencyMs: 0, attempt: 1, completedAt: context.completedAt, route: 'discount', ...(metadata ? { metadata } : {}), error: { code: `Job${status}`, message: why } };
}
