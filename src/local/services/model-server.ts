import { createServer, type Server } from 'node:http';
import { closeServer, listen, readBody, sendAwsError } from './http.js';
import { STOP_REASONS, relayStream, writeConverseStream } from './model-stream.js';

/** The deterministic local model: its answer contains the prompt verbatim. */
export const LOCAL_MODEL_ID = 'local.echo';

export interface ModelServerOptions {
  /** Added to every call: "0", "200ms", "2s", or a uniform range "100-300ms". */
  latency?: string;
  /** Between the streamed pieces (words) of a ConverseStream answer, in the same form. */
  tokenLatency?: string;
  /** Requests per minute before ThrottlingException (as Bedrock's on-demand quota). */
  requestsPerMinute?: number;
  /** Tokens (input + output) per minute before ThrottlingException. */
  tokensPerMinute?: number;
  /** Share of calls answered with InternalServerException, 0..1. */
  errorRate?: number;
  /** The quota's window: a minute, as on Bedrock; tests shorten it. */
  quotaWindowMs?: number;
  /** Answer from this OpenAI-compatible server (`.../v1`, e.g. Ollama's) instead of echoing. */
  forwardTo?: string;
  /** Sent to `forwardTo` as a bearer token; never printed. */
  forwardKey?: string;
}

export interface ModelStats {
  calls: number;
  answered: number;
  throttled: number;
  failed: number;
  inFlight: number;
  mostInFlight: number;
}

export interface ModelServer {
  endpoint: string;
  stats: () => ModelStats;
  /** Changes latency or error rate while running (the local control API). */
  configure: (change: Pick<ModelServerOptions, 'latency' | 'errorRate'>) => void;
  close: () => Promise<void>;
}

/** Parses a latency spec into a sampler of milliseconds. */
export function latencySampler(spec = '0'): () => number {
  const match = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?(ms|s)?$/.exec(spec.trim());
  if (!match) throw new Error(`latency must be like 0, 200ms, 2s or 100-300ms (got ${spec})`);
  const unit = match[3] === 's' ? 1000 : 1;
  const low = Number(match[1]) * unit;
  const high = match[2] === undefined ? low : Number(match[2]) * unit;
  return () => low + Math.random() * (high - low);
}

/** Rough token count, as the local model reports usage: about four characters a token. */
const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

/** A rolling window (a minute unless shortened) of request and token counts. */
class QuotaWindow {
  private events: { at: number; tokens: number }[] = [];
  constructor(private readonly windowMs: number) {}
  admit(now: number, cost: number, rpm?: number, tpm?: number): boolean {
    this.events = this.events.filter((e) => now - e.at < this.windowMs);
    const used = this.events.reduce((sum, e) => sum + e.tokens, 0);
    if ((rpm !== undefined && this.events.length + 1 > rpm) || (tpm !== undefined && used + cost > tpm)) return false;
    this.events.push({ at: now, tokens: cost });
    return true;
  }
}

interface ConverseBody {
  messages?: { role?: string; content?: { text?: string }[] }[];
  system?: { text?: string }[];
  inferenceConfig?: { maxTokens?: number; temperature?: number; topP?: number; stopSequences?: string[] };
}

interface Answer {
  text: string;
  stopReason: string;
  usage: { inputTokens: number; outputTokens: number; totalTokens: number };
}

/** A failure to hand back to the worker as Bedrock would name it. */
class ModelError extends Error {
  constructor(readonly status: number, readonly type: string, message: string) {
    super(message);
  }
}

const textOf = (blocks: { text?: string }[] = []) => blocks.map((b) => b.text ?? '').join('');

/** The deterministic local model's answer: the prompt verbatim, after "echo: ". */
function echoAnswer(prompt: string): Answer {
  const text = `echo: ${prompt}`;
  return { text, stopReason: 'end_turn', usage: { inputTokens: tokens(prompt), outputTokens: tokens(text), totalTokens: tokens(prompt) + tokens(text) } };
}

/** The chat completions URL of an OpenAI-compatible base URL (`http://127.0.0.1:11434/v1`), or of that URL itself. */
export function chatCompletionsUrl(base: string): string {
  const url = new URL(base);
  if (!/^https?:$/.test(url.protocol)) throw new Error(`the model endpoint must be an http:// or https:// URL (got ${base})`);
  if (!url.pathname.endsWith('/chat/completions')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/chat/completions`;
  return url.href;
}

/**
 * One call to an OpenAI-compatible server (`stream`: its server-sent events), its errors named as
 * Bedrock names them; resolves with the response once it answers 2xx.
 */
async function callEndpoint(url: string, key: string | undefined, modelId: string, body: ConverseBody, signal: AbortSignal, stream: boolean): Promise<{ response: Response; request: { messages: { content: string }[] } }> {
  const config = body.inferenceConfig ?? {};
  const system = textOf(body.system);
  const request = {
    model: modelId,
    messages: [
      ...(system ? [{ role: 'system', content: system }] : []),
      ...(body.messages ?? []).map((m) => ({ role: m.role ?? 'user', content: textOf(m.content) })),
    ],
    ...(config.maxTokens !== undefined ? { max_tokens: config.maxTokens } : {}),
    ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
    ...(config.topP !== undefined ? { top_p: config.topP } : {}),
    ...(config.stopSequences?.length ? { stop: config.stopSequences } : {}),
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  };
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(request),
      signal,
    });
  } catch (err) {
    throw new ModelError(503, 'ServiceUnavailableException', `The model endpoint ${new URL(url).origin} did not answer (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}).`);
  }
  if (response.ok) return { response, request };
  const text = await response.text();
  let parsed: { error?: { message?: string } | string } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // Not JSON: the status and the text say what happened.
  }
  const said = typeof parsed.error === 'string' ? parsed.error : parsed.error?.message ?? text.slice(0, 300);
  const message = `The model endpoint answered ${response.status}: ${said}`;
  if (response.status === 429) throw new ModelError(429, 'ThrottlingException', message);
  if (response.status === 404) throw new ModelError(404, 'ResourceNotFoundException', message);
  if (response.status >= 400 && response.status < 500) throw new ModelError(400, 'ValidationException', message);
  throw new ModelError(503, 'ServiceUnavailableException', message);
}

/** One Converse call answered by an OpenAI-compatible server. */
async function forward(url: string, key: string | undefined, modelId: string, body: ConverseBody, signal: AbortSignal): Promise<Answer> {
  const { response, request } = await callEndpoint(url, key, modelId, body, signal, false);
  const text = await response.text();
  let parsed: { choices?: { message?: { content?: string | null }; finish_reason?: string }[]; usage?: { prompt_tokens?: number; completion_tokens?: number } } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // Not JSON: no choice, said below.
  }
  const choice = parsed.choices?.[0];
  if (!choice) throw new ModelError(500, 'InternalServerException', `The model endpoint answered without a choice: ${text.slice(0, 300)}`);
  const answer = choice.message?.content ?? '';
  const inputTokens = parsed.usage?.prompt_tokens ?? tokens(request.messages.map((m) => m.content).join(''));
  const outputTokens = parsed.usage?.completion_tokens ?? tokens(answer);
  return { text: answer, stopReason: STOP_REASONS[choice.finish_reason ?? 'stop'] ?? 'end_turn', usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens } };
}

/** A Bedrock Runtime Converse and ConverseStream endpoint on 127.0.0.1, reached by the worker through the real BedrockRuntimeClient. */
export async function startModelServer(options: ModelServerOptions = {}): Promise<ModelServer> {
  let latency = latencySampler(options.latency);
  const tokenLatency = latencySampler(options.tokenLatency);
  let errorRate = options.errorRate ?? 0;
  const window = new QuotaWindow(options.quotaWindowMs ?? 60_000);
  const forwardUrl = options.forwardTo ? chatCompletionsUrl(options.forwardTo) : undefined;
  const stats: ModelStats = { calls: 0, answered: 0, throttled: 0, failed: 0, inFlight: 0, mostInFlight: 0 };

  const server: Server = createServer(async (req, res) => {
    const match = /^\/model\/([^/]+)\/converse(-stream)?$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) return sendAwsError(res, 404, 'ResourceNotFoundException', `Unknown operation ${req.method} ${req.url}`);
    const modelId = decodeURIComponent(match[1]!);
    const raw = (await readBody(req))!.toString('utf8');
    stats.calls++;
    if (!forwardUrl && modelId !== LOCAL_MODEL_ID) return sendAwsError(res, 400, 'ValidationException', `The provided model identifier is invalid: the local model server only serves ${LOCAL_MODEL_ID} (or, with --model-endpoint, the endpoint's models).`);
    let body: ConverseBody;
    try {
      body = JSON.parse(raw) as ConverseBody;
    } catch {
      return sendAwsError(res, 400, 'ValidationException', 'Malformed request body.');
    }
    const prompt = (body.messages ?? []).map((m) => textOf(m.content)).join('');
    const echo = forwardUrl ? undefined : echoAnswer(prompt);
    // As Bedrock reserves a call's maxTokens before it knows the answer; the echo's answer is known.
    const cost = echo ? echo.usage.totalTokens : tokens(prompt) + (body.inferenceConfig?.maxTokens ?? 0);
    if (!window.admit(Date.now(), cost, options.requestsPerMinute, options.tokensPerMinute)) {
      stats.throttled++;
      return sendAwsError(res, 429, 'ThrottlingException', 'Too many requests, please wait before trying again.');
    }
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    stats.inFlight++;
    stats.mostInFlight = Math.max(stats.mostInFlight, stats.inFlight);
    try {
      const delay = latency();
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      if (errorRate && Math.random() < errorRate) throw new ModelError(500, 'InternalServerException', 'The model server failed (local error rate).');
      const started = Date.now();
      if (match[2] && !echo) {
        // The endpoint's own stream, relayed as it comes.
        const { response } = await callEndpoint(forwardUrl!, options.forwardKey, modelId, body, gone.signal, true);
        stats.answered++;
        return await relayStream(res, response, started);
      }
      const answer = echo ?? await forward(forwardUrl!, options.forwardKey, modelId, body, gone.signal);
      stats.answered++;
      if (match[2]) return await writeConverseStream(res, answer, tokenLatency, started);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        output: { message: { role: 'assistant', content: [{ text: answer.text }] } },
        stopReason: answer.stopReason,
        usage: answer.usage,
        metrics: { latencyMs: Math.round(delay) + Date.now() - started },
      }));
    } catch (err) {
      const failure = err instanceof ModelError ? err : new ModelError(500, 'InternalServerException', `The model server failed: ${(err as Error).message}`);
      if (failure.type === 'ThrottlingException') stats.throttled++;
      else stats.failed++;
      sendAwsError(res, failure.status, failure.type, failure.message);
    } finally {
      stats.inFlight--;
    }
  });
  server.keepAliveTimeout = 65_000;
  const port = await listen(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats: () => ({ ...stats }),
    configure: (change) => {
      if (change.latency !== undefined) latency = latencySampler(change.latency);
      if (change.errorRate !== undefined) errorRate = change.errorRate;
    },
    close: () => closeServer(server),
  };
}

/** Whether an OpenAI-compatible endpoint answers at all (any HTTP status will do); the reason when it does not. */
export async function probeModelEndpoint(base: string, key: string | undefined, timeoutMs = 3_000): Promise<string | undefined> {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/models`;
  try {
    const response = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {}, signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return undefined;
  } catch (err) {
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    return (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : cause?.code ?? cause?.message ?? (err as Error).message;
  }
}
