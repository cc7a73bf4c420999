import { CliError } from '../errors.js';
import { realSleep, waitFor, WaitTimeout, type WaitEnv } from '../waiter.js';
import type { InvokeRequest } from '../contract.js';
import { httpCall, type HttpAnswer } from './http.js';

/** Where to POST requests: the invoke URL, and the API key when the API needs one. */
export interface ApiTarget {
  invokeUrl: string;
  apiKey?: string;
}

export class ApiError extends CliError {
  override name = 'ApiError';
  constructor(readonly status: number, message: string, readonly retryAfterMs?: number) {
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

/** A body that is not JSON (a proxy's HTML error page, say) as one short line: tags and runs of whitespace dropped. */
export function oneLine(text: string, limit = 200): string {
  const flat = text.replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > limit ? `${flat.slice(0, limit - 3)}...` : flat;
}

/** Posts one request; resolves with the request id, or throws an ApiError that says what went wrong. */
export async function postRequest(target: ApiTarget, request: InvokeRequest, signal?: AbortSignal): Promise<{ id: string }> {
  let response: HttpAnswer;
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
    throw new ApiError(status, `The API answered ${status} without a request id: ${oneLine(text)}`);
  }
  throw new ApiError(status, explain(status, errorDetail(text)), retryAfterMs(response.retryAfter));
}

/** What an error body says: its JSON `message`, else its text as one line (a proxy's HTML page, say). */
export function errorDetail(text: string): string {
  try {
    return (JSON.parse(text) as { message?: string }).message ?? oneLine(text);
  } catch {
    return oneLine(text);
  }
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header) * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

export interface RetryOptions {
  /** Keep trying throttled, failed (5xx) and unreachable calls until this long after the first. */
  retryForMs: number;
  signal?: AbortSignal;
  /** Told of every answer, to adapt the sending rate (bulk sends). */
  rate?: AdaptiveRate;
  sleep?: (ms: number) => Promise<void>;
}


/**
 * Posts one request. Throttling is not failure: 429, 5xx and network errors are tried again, with
 * exponential backoff and jitter (or the API's Retry-After), until `retryForMs` has passed.
 */
export async function postWithRetry(target: ApiTarget, request: InvokeRequest, options: RetryOptions): Promise<{ id: string }> {
  const sleep = options.sleep ?? realSleep;
  const deadline = Date.now() + options.retryForMs;
  for (let attempt = 1; ; attempt++) {
    await options.rate?.acquire();
    try {
      const answer = await postRequest(target, request, options.signal);
      options.rate?.onSuccess();
      return answer;
    } catch (err) {
      if (!(err instanceof ApiError) || !(err.retryable || err.status === 0)) throw err;
      if (err.status === 429) options.rate?.onThrottle();
      const ceiling = Math.min(20_000, 100 * 2 ** Math.min(attempt, 16));
      const delay = err.retryAfterMs ?? ceiling / 2 + Math.random() * (ceiling / 2);
      if (Date.now() + delay > deadline || options.signal?.aborted) throw err;
      await sleep(delay);
    }
  }
}

/**
 * The sending rate of a bulk send, adapted to the API's limit the way TCP adapts to a link: no limit
 * until the first 429; then a 429 (at most one cut a half-second) cuts the rate to 70% of what got
 * through in the last second, and successes raise it again: by a quarter a second while 429s are
 * recent, doubling each second once a second has passed without one.
 */
export class AdaptiveRate {
  private rate = Infinity;
  private nextSlot = 0;
  private lastCut = -Infinity;
  /** When the requests of the last second were started, and when the successes came. */
  private readonly started = new LastSecond();
  private readonly succeeded = new LastSecond();

  constructor(private readonly now: () => number = Date.now, private readonly sleep = realSleep) {}

  /** Requests a second now allowed (Infinity before the first 429). */
  get perSecond() {
    return this.rate;
  }

  async acquire(): Promise<void> {
    const now = this.now();
    this.started.record(now);
    if (this.rate === Infinity) return;
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + 1_000 / this.rate;
    if (slot > now) await this.sleep(slot - now);
  }

  onThrottle() {
    const now = this.now();
    if (now - this.lastCut < 500) return;
    this.lastCut = now;
    // What got through is the API's capacity; before any success, what was sent is the best guess.
    const through = this.succeeded.count >= 5 ? this.succeeded.perSecond(now) : this.started.perSecond(now);
    this.rate = Math.max(1, Math.min(this.rate, through) * 0.7);
  }

  onSuccess() {
    const now = this.now();
    this.succeeded.record(now);
    if (this.rate === Infinity) return;
    const growth = now - this.lastCut > 1_000 ? 2 : 1.25;
    this.rate *= growth ** (1 / this.rate);
  }
}

/**
 * The times of the events of the last second. Old ones leave by moving a start index (shift() on
 * every request cost a copy of the whole second at thousands of requests a second).
 */
class LastSecond {
  private times: number[] = [];
  private start = 0;

  record(now: number) {
    this.times.push(now);
    while (this.start < this.times.length && this.times[this.start]! < now - 1_000) this.start++;
    if (this.start > 1_024 && this.start * 2 > this.times.length) {
      this.times = this.times.slice(this.start);
      this.start = 0;
    }
  }

  get count() {
    return this.times.length - this.start;
  }

  /** Events a second, over the last second or since the first of them if sooner. */
  perSecond(now: number): number {
    const windowMs = Math.max(50, Math.min(1_000, now - (this.times[this.start] ?? now)));
    return (this.count * 1_000) / windowMs;
  }
}

export interface KeyWaitOptions extends WaitEnv {
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
  const probe = async () => {
    const status = await httpCall(target.invokeUrl, 'POST', headers, '{}').then((r) => r.status, () => 0);
    if (status !== 400) options.note(`waiting for the API to accept its key (it answered ${status || 'nothing'}; new keys take a few seconds)`);
    return status;
  };
  try {
    await waitFor(options, {
      what: 'the API to accept its key', read: probe, done: (status) => status === 400,
      intervalMs: options.intervalMs, timeoutMs: options.timeoutMs,
      reference: 'API Gateway: a new API key or usage plan takes effect within seconds to a minute',
    });
    return true;
  } catch (err) {
    if (err instanceof WaitTimeout) return false;
    throw err;
  }
}
