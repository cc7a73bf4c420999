import { requestIdFor, type InvokeRequest, type ResultRecord } from '../contract.js';
import { ApiError, errorDetail, postWithRetry, retryAfterMs } from './api.js';
import { httpCall } from './http.js';
import { pause } from './pause.js';
import { requestStream } from './socket.js';

export type { InvokeRequest, ResultRecord } from '../contract.js';
export { ApiError } from './api.js';

/** Where a stack answers: what `bedrock-queue status` prints (Invoke URL, WebSocket URL) and its API key. */
export interface BedrockQueueClientOptions {
  /** POST /invokeModel, e.g. https://abc123.execute-api.us-east-1.amazonaws.com/prod/invokeModel. */
  invokeUrl: string;
  apiKey?: string;
  /** The WebSocket API; without it `wait` polls GET /results/{id} and `stream` is refused. */
  websocketUrl?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** Polled while a result is pending when the API gives no Retry-After. */
const POLL_MS = 2_000;

/**
 * The client applications use, on AWS and on the local target alike (the same protocol): submit a
 * request, read or wait for its result, or stream its answer as the model writes it.
 */
export class BedrockQueueClient {
  constructor(private readonly options: BedrockQueueClientOptions) {}

  /**
   * Queues a request. Its id (yours in `request.id`, else a new UUID) is chosen before the first
   * try, so a try that timed out or failed with a 5xx and is tried again is the same request,
   * answered once. Throttling (429) and server errors are retried for `retryForMs` (a minute).
   */
  async submit(request: InvokeRequest, options: CallOptions & { retryForMs?: number } = {}): Promise<{ id: string }> {
    const id = requestIdFor(request);
    return postWithRetry(this.options, { ...request, id }, { retryForMs: options.retryForMs ?? 60_000, signal: options.signal });
  }

  /** The stored result (GET /results/{id}), or undefined while the request is pending. */
  async result(id: string, options: CallOptions = {}): Promise<ResultRecord | undefined> {
    return (await this.read(id, options.signal)).record;
  }

  /** Waits for the result: pushed over the WebSocket API when there is one, else polled as the API's Retry-After says. */
  async wait(id: string, options: CallOptions & { timeoutMs?: number } = {}): Promise<ResultRecord> {
    const timeoutMs = options.timeoutMs ?? 5 * 60_000;
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(options.signal ? [options.signal] : [])]);
    if (this.options.websocketUrl) {
      for await (const event of requestStream(this.socket(), { subscribe: id }, signal)) {
        if (event.type === 'result') return JSON.parse(event.record) as ResultRecord;
      }
      // Else the record is stored, too large for the socket's reply: read below, at once.
    }
    for (;;) {
      const { record, retryAfter } = await this.read(id, signal);
      if (record) return record;
      await pause(retryAfter ?? POLL_MS, signal);
      signal.throwIfAborted();
    }
  }

  /**
   * The answer's text as the model writes it, for a new request or (`{ id }`) one sent before.
   * A request that starts again (a retry) calls `onRestart`: drop the text shown so far. The record
   * goes to `onResult` when it is stored.
   */
  async *stream(request: InvokeRequest | { id: string }, options: CallOptions & { onRestart?: () => void; onResult?: (record: ResultRecord) => void } = {}): AsyncGenerator<string> {
    if (!this.options.websocketUrl) throw new Error('stream needs the stack\'s WebSocket API: give websocketUrl (bedrock-queue status shows it)');
    const send = 'prompt' in request ? { invoke: request } : { subscribe: request.id };
    for await (const event of requestStream(this.socket(), send, options.signal)) {
      if (event.type === 'delta') yield event.text;
      else if (event.type === 'restart') options.onRestart?.();
      else if (event.type === 'result') options.onResult?.(JSON.parse(event.record) as ResultRecord);
      else if (event.type === 'stored') {
        const record = await this.result(event.location.split('/').pop()!, options);
        if (record) options.onResult?.(record);
      }
    }
  }

  private socket() {
    return { websocketUrl: this.options.websocketUrl!, ...(this.options.apiKey ? { apiKey: this.options.apiKey } : {}) };
  }

  private async read(id: string, signal?: AbortSignal): Promise<{ record?: ResultRecord; retryAfter?: number }> {
    const url = this.options.invokeUrl.replace(/invokeModel\/?$/, `results/${encodeURIComponent(id)}`);
    const answer = await httpCall(url, 'GET', this.options.apiKey ? { 'x-api-key': this.options.apiKey } : {}, undefined, signal);
    if (answer.status === 200) return { record: JSON.parse(answer.text) as ResultRecord };
    if (answer.status === 202) return { retryAfter: retryAfterMs(answer.retryAfter) };
    throw new ApiError(answer.status, `GET /results/${id} answered ${answer.status}: ${errorDetail(answer.text)}`, retryAfterMs(answer.retryAfter));
  }
}
