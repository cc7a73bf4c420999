import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { requestIdFor, validateInvokeRequest, type InvokeRequest } from '../contract.js';
import { setMaxListeners } from 'node:events';
import { AdaptiveRate, postWithRetry, type ApiTarget } from './api.js';

export interface BulkProgress {
  sent: number;
  failed: number;
  skipped: number;
  /** Share of the file read, 0..1. */
  fraction: number;
  elapsedMs: number;
}

export interface BulkEvents {
  sent: (line: number, id: string) => void;
  skipped: (line: number, reason: string) => void;
  failed: (line: number, reason: string) => void;
  progress: (p: BulkProgress) => void;
  /** Right before a line's first request, with the id it goes with: a journal can note that it may be queued from now on. */
  sending?: (line: number, id: string) => void;
}

/**
 * One request per line: a JSON object is a request body; any other line is a prompt. Empty lines
 * are ignored. Returns the problem with a line, or the request.
 */
export function parseLine(text: string): { request: InvokeRequest } | { problem: string } {
  const line = text.replace(/\r$/, '');
  if (line.trimStart().startsWith('{')) {
    let body: unknown;
    try {
      body = JSON.parse(line);
    } catch (err) {
      return { problem: `not valid JSON (${(err as Error).message})` };
    }
    const problems = validateInvokeRequest(body);
    return problems.length ? { problem: problems.join('; ') } : { request: body as InvokeRequest };
  }
  const problems = validateInvokeRequest({ prompt: line });
  return problems.length ? { problem: problems.join('; ') } : { request: { prompt: line } };
}

export interface BulkOptions {
  /** Most requests in flight. */
  parallel: number;
  /** How long one line is retried while the API throttles or fails. */
  retryForMs: number;
  signal?: AbortSignal;
  /** Lines an earlier run already handled: passed over without a word. */
  alreadyDone?: (line: number) => boolean;
  /** The id an earlier run sent a line with, when its send was cut off: the line goes again with it. */
  earlierId?: (line: number) => string | undefined;
}

/**
 * Streams a file of requests to the API with at most `parallel` requests in flight: memory stays
 * flat whatever the file's size. Bad lines are reported and skipped; the rest still go, retried
 * while throttled, at a rate that adapts to the API's limit. Each line has its id before its first
 * try (its own `id`, else a new UUID): a try that timed out or failed and is tried again is the same
 * request, answered once.
 */
export async function sendFile(target: ApiTarget, path: string, options: BulkOptions, on: BulkEvents): Promise<BulkProgress> {
  const { parallel, signal } = options;
  // Every request in flight listens on the one interrupt signal.
  if (signal) setMaxListeners(0, signal);
  const rate = new AdaptiveRate();
  const size = (await stat(path)).size || 1;
  const stream = createReadStream(path);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  const started = Date.now();
  const counts = { sent: 0, failed: 0, skipped: 0 };
  const snapshot = (): BulkProgress => ({ ...counts, fraction: Math.min(1, stream.bytesRead / size), elapsedMs: Date.now() - started });
  const inFlight = new Set<Promise<void>>();
  const ticker = setInterval(() => on.progress(snapshot()), 500);
  let lineNumber = 0;
  try {
    for await (const text of lines) {
      lineNumber++;
      if (signal?.aborted) break;
      if (!text.trim() || options.alreadyDone?.(lineNumber)) continue;
      const parsed = parseLine(text);
      if ('problem' in parsed) {
        counts.skipped++;
        on.skipped(lineNumber, parsed.problem);
        continue;
      }
      const line = lineNumber;
      const id = requestIdFor({ id: parsed.request.id ?? options.earlierId?.(line) });
      on.sending?.(line, id);
      const task = postWithRetry(target, { ...parsed.request, id }, { retryForMs: options.retryForMs, signal, rate })
        .then(({ id }) => {
          counts.sent++;
          on.sent(line, id);
        }, (err: unknown) => {
          counts.failed++;
          on.failed(line, (err as Error).message);
        })
        .finally(() => inFlight.delete(task));
      inFlight.add(task);
      if (inFlight.size >= parallel) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    clearInterval(ticker);
    lines.close();
    stream.destroy();
  }
  const done = snapshot();
  on.progress(done);
  return done;
}
