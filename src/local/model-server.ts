import { createServer, type Server, type ServerResponse } from 'node:http';
import { closeServer, listen, readBody } from './http.js';

/** The deterministic local model: its answer contains the prompt verbatim. */
export const LOCAL_MODEL_ID = 'local.echo';

export interface ModelServerOptions {
  /** Added to every call: "0", "200ms", "2s", or a uniform range "100-300ms". */
  latency?: string;
  /** Requests per minute before ThrottlingException (as Bedrock's on-demand quota). */
  requestsPerMinute?: number;
  /** Tokens (input + output) per minute before ThrottlingException. */
  tokensPerMinute?: number;
  /** Share of calls answered with InternalServerException, 0..1. */
  errorRate?: number;
  /** The quota's window: a minute, as on Bedrock; tests shorten it. */
  quotaWindowMs?: number;
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

function sendError(res: ServerResponse, status: number, type: string, message: string) {
  // The SDK recognises the error by this header, as from Bedrock itself.
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
  res.end(JSON.stringify({ message }));
}

interface ConverseBody {
  messages?: { content?: { text?: string }[] }[];
  inferenceConfig?: { maxTokens?: number };
}

/** A Bedrock Runtime Converse endpoint on 127.0.0.1, reached by the worker through the real BedrockRuntimeClient. */
export async function startModelServer(options: ModelServerOptions = {}): Promise<ModelServer> {
  let latency = latencySampler(options.latency);
  let errorRate = options.errorRate ?? 0;
  const window = new QuotaWindow(options.quotaWindowMs ?? 60_000);
  const stats: ModelStats = { calls: 0, answered: 0, throttled: 0, failed: 0, inFlight: 0, mostInFlight: 0 };

  const server: Server = createServer(async (req, res) => {
    const match = /^\/model\/([^/]+)\/converse$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) return sendError(res, 404, 'ResourceNotFoundException', `Unknown operation ${req.method} ${req.url}`);
    const modelId = decodeURIComponent(match[1]!);
    const raw = (await readBody(req))!.toString('utf8');
    stats.calls++;
    if (modelId !== LOCAL_MODEL_ID) return sendError(res, 400, 'ValidationException', `The provided model identifier is invalid: the local model server only serves ${LOCAL_MODEL_ID}.`);
    let body: ConverseBody;
    try {
      body = JSON.parse(raw) as ConverseBody;
    } catch {
      return sendError(res, 400, 'ValidationException', 'Malformed request body.');
    }
    const prompt = (body.messages ?? []).flatMap((m) => m.content ?? []).map((c) => c.text ?? '').join('');
    const answer = `echo: ${prompt}`;
    const usage = { inputTokens: tokens(prompt), outputTokens: tokens(answer), totalTokens: tokens(prompt) + tokens(answer) };
    if (!window.admit(Date.now(), usage.totalTokens, options.requestsPerMinute, options.tokensPerMinute)) {
      stats.throttled++;
      return sendError(res, 429, 'ThrottlingException', 'Too many requests, please wait before trying again.');
    }
    stats.inFlight++;
    stats.mostInFlight = Math.max(stats.mostInFlight, stats.inFlight);
    try {
      const delay = latency();
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      if (errorRate && Math.random() < errorRate) {
        stats.failed++;
        return sendError(res, 500, 'InternalServerException', 'The model server failed (local error rate).');
      }
      stats.answered++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        output: { message: { role: 'assistant', content: [{ text: answer }] } },
        stopReason: 'end_turn',
        usage,
        metrics: { latencyMs: Math.round(delay) },
      }));
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
