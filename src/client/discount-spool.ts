/**
 * The discount route's spool: a file's requests written, before anything is uploaded, as the input
 * files of the jobs they need (`job-N.jsonl`, Bedrock batch records) and beside each the lines it
 * holds (`job-N.lines.jsonl`: line, result id, metadata), in a directory beside the output. A job's
 * upload, its output and its unanswered lines are read from there, on the first run or a resumed one,
 * so memory stays flat whatever the file's size.
 */
import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { requestIdFor, type InvokeRequest } from '../contract.js';
import { converseBody, type ConverseBody, type ConverseDefaults } from '../converse.js';
import { parseLine } from './bulk.js';
import { batchRecordLine, DISCOUNT_LIMITS, JobSplitter, planJobs, type DiscountLimits } from './discount-records.js';

export interface SpooledLine {
  line: number;
  id: string;
  metadata?: Record<string, string>;
}

export const spoolDirectory = (out: string) => `${out}.discount`;
export const jobInputPath = (spool: string, job: number) => join(spool, `job-${job}.jsonl`);
const jobLinesPath = (spool: string, job: number) => join(spool, `job-${job}.lines.jsonl`);

async function* fileLines(path: string): AsyncGenerator<{ line: number; text: string }> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) yield { line: ++line, text };
  } finally {
    lines.close();
  }
}

export interface SpoolOptions {
  file: string;
  out: string;
  defaults: ConverseDefaults;
  /** Lines with a line in the output already (a resumed run): passed over. */
  written: (line: number) => boolean;
  badLine: (line: number, reason: string) => void;
  limits?: DiscountLimits;
}

export type SpoolOutcome = { jobs: number[] } | { tooFew: number };

/**
 * Reads the file twice: to count the requests and their bytes (the plan), then to write each job's
 * files. Bad lines are reported on the second pass only. Fewer requests than a job's minimum:
 * nothing is written, and the count is returned.
 */
export async function spool(options: SpoolOptions): Promise<SpoolOutcome> {
  const limits = options.limits ?? DISCOUNT_LIMITS;
  type Parsed = { request: InvokeRequest; record: ConverseBody } | { problem: string };
  const bodyOf = (text: string): Parsed | undefined => {
    if (!text.trim()) return undefined;
    const parsed = parseLine(text);
    return 'request' in parsed ? { request: parsed.request, record: converseBody(parsed.request, options.defaults) } : parsed;
  };
  let records = 0;
  let bytes = 0;
  for await (const { line, text } of fileLines(options.file)) {
    const parsed = options.written(line) ? undefined : bodyOf(text);
    if (!parsed || !('record' in parsed)) continue;
    records++;
    bytes += Buffer.byteLength(batchRecordLine(line, parsed.record));
  }
  const plan = planJobs(records, bytes, limits);
  if (!plan) return { tooFew: records };

  const directory = spoolDirectory(options.out);
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const splitter = new JobSplitter(plan, limits);
  const files: { input: number; lines: number }[] = [];
  const fileOf = (job: number) => (files[job] ??= { input: openSync(jobInputPath(directory, job), 'w', 0o600), lines: openSync(jobLinesPath(directory, job), 'w', 0o600) });
  for await (const { line, text } of fileLines(options.file)) {
    const parsed = options.written(line) ? undefined : bodyOf(text);
    if (!parsed) continue;
    if ('problem' in parsed) {
      options.badLine(line, parsed.problem);
      continue;
    }
    const record = batchRecordLine(line, parsed.record);
    const job = fileOf(splitter.next(Buffer.byteLength(record)));
    writeSync(job.input, record);
    const { metadata } = parsed.request;
    writeSync(job.lines, `${JSON.stringify({ line, id: requestIdFor({ id: parsed.request.id }), ...(metadata ? { metadata } : {}) })}\n`);
  }
  // On disk before the journal says the plan is made: a resumed run uploads these files as they are.
  for (const job of files) {
    for (const fd of [job.input, job.lines]) {
      fsyncSync(fd);
      closeSync(fd);
    }
  }
  return { jobs: files.map((_, job) => job) };
}

/** A job's lines, by line number. */
export async function jobLines(out: string, job: number): Promise<Map<number, SpooledLine>> {
  const lines = new Map<number, SpooledLine>();
  const path = jobLinesPath(spoolDirectory(out), job);
  if (!existsSync(path)) return lines;
  for await (const { text } of fileLines(path)) {
    if (!text) continue;
    const entry = JSON.parse(text) as SpooledLine;
    lines.set(entry.line, entry);
  }
  return lines;
}

export function removeSpool(out: string) {
  rmSync(spoolDirectory(out), { recursive: true, force: true });
}
