import { CliError } from '../errors.js';
import type { InvokeRequest } from '../contract.js';
import { httpCall } from './http.js';

/** Where to POST requests: the invoke URL, and the API key when the API needs one. */
export interface ApiTarget {
  invokeUrl: string;
  apiKey?: string;
}

export class ApiError extends CliError {
  override name = 'ApiError';
  constructor(readonly status: number, message: string) {
    super(message);
  }

  /** Throttling and server errors pass; anything else will fail the same way again. */
  get retryable() {
    return this.status === 429 || this.status >= 500;
  }
}

function explain(status: number, detail: string): string {
  const why = detail ? `: ${detail}` : '';
  switch (status) {
    case 400: return `The API rejected the request (400)${why}`;
    case 403: return `The API refused the request (403): the API key is missing or wrong${why}`;
    case 413: return `The request is too large for the API (413)${why}`;
    case 415: return `The API only accepts application/json (415)${why}`;
    case 429: return `The API is throttling requests (429): send more slowly, or raise its limit with "bedrock-queue up --rate-limit"${why}`;
    default: return `The API failed (${status})${why}`;
  }
}

/** Posts one request; resolves with the request id, or throws an ApiError that says what went wrong. */
export async function postRequest(target: ApiTarget, request: InvokeRequest, signal?: AbortSignal): Promise<{ id: string }> {
  let response: { status: number; text: string };
  try {
    response = await httpCall(target.invokeUrl, 'POST', { 'content-type': 'application/json', ...(target.apiKey ? { 'x-api-key': target.apiKey } : {}) }, JSON.stringify(request), signal);
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ApiError(0, `Cannot reach the API at ${target.invokeUrl}: ${code ?? (err as Error).message}`);
  }
  const { status, text } = response;
  if (status === 202 || status === 200) {
    const id = (JSON.parse(text) as { id?: string }).id;
    if (id) return { id };
    throw new ApiError(status, `The API answered ${status} without a request id: ${text.slice(0, 200)}`);
  }
  let detail = text.slice(0, 500);
  try {
    detail = (JSON.parse(text) as { message?: string }).message ?? detail;
  } catch {
    // not JSON: keep the text
  }
  throw new ApiError(status, explain(status, detail));
}

/** Posts one request, retrying throttling, server and network errors with exponential backoff and jitter. */
export async function postWithRetry(target: ApiTarget, request: InvokeRequest, attempts = 6, signal?: AbortSignal): Promise<{ id: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await postRequest(target, request, signal);
    } catch (err) {
      if (!(err instanceof ApiError) || !(err.retryable || err.status === 0) || attempt >= attempts) throw err;
      const ceiling = Math.min(5_000, 100 * 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, ceiling / 2 + Math.random() * (ceiling / 2)));
    }
  }
}

export interface KeyWaitOptions {
  sleep: (ms: number) => Promise<void>;
  note: (message: string) => void;
  timeoutMs: number;
  intervalMs: number;
}

/**
 * Waits until the API accepts its key. A new API, key or usage-plan association answers 403 (or
 * does not resolve yet) for a few seconds. The probe is a POST of `{}`: with the key accepted the
 * validator answers 400 (no prompt) and nothing is queued. Returns whether it was accepted in time.
 */
export async function waitUntilKeyAccepted(target: ApiTarget, options: KeyWaitOptions): Promise<boolean> {
  const headers = { 'content-type': 'application/json', ...(target.apiKey ? { 'x-api-key': target.apiKey } : {}) };
  for (let waited = 0; ; waited += options.intervalMs) {
    const status = await httpCall(target.invokeUrl, 'POST', headers, '{}').then((r) => r.status, () => 0);
    if (status === 400) return true;
    if (waited >= options.timeoutMs) return false;
    options.note(`waiting for the API to accept its key (it answered ${status || 'nothing'}; new keys take a few seconds)`);
    await options.sleep(options.intervalMs);
  }
}
