import { createServer, type Server } from 'node:http';
import { closeServer, listen, readBody } from '../../src/local/services/http.js';

export interface ChatRequest {
  model: string;
  messages: { role: string; content: string }[];
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

export interface OpenAiServer {
  /** The base URL, as Ollama's http://127.0.0.1:11434/v1. */
  baseUrl: string;
  calls: { path: string; authorization?: string; body: ChatRequest }[];
  /** Answers the next calls with this status and body instead of a completion. */
  failWith: (status: number, body: string) => void;
  /** GET /v1/models calls, as `up --local` makes to check the endpoint answers. */
  probes: () => number;
  close: () => Promise<void>;
}

/**
 * An OpenAI-compatible chat completions server on loopback: answers "<model> says: <last message>",
 * whole, or (`stream: true`) as server-sent events, a word each 5 ms, usage last when asked for.
 */
export async function startOpenAiServer(): Promise<OpenAiServer> {
  const calls: OpenAiServer['calls'] = [];
  let failure: { status: number; body: string } | undefined;
  let probes = 0;
  const server: Server = createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      probes++;
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ object: 'list', data: [{ id: 'gpt-oss', object: 'model' }] }));
    }
    const body = JSON.parse((await readBody(req))!.toString('utf8')) as ChatRequest;
    calls.push({ path: req.url ?? '', authorization: req.headers.authorization, body });
    if (failure) {
      res.writeHead(failure.status, { 'content-type': 'application/json' });
      return res.end(failure.body);
    }
    const content = `${body.model} says: ${body.messages.at(-1)!.content}`;
    if (body.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const send = (chunk: unknown) => res.write(`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', model: body.model, ...chunk as object })}\n\n`);
      for (const word of content.match(/\s*\S+\s*/g) ?? []) {
        send({ choices: [{ index: 0, delta: { content: word }, finish_reason: null }] });
        await new Promise((r) => setTimeout(r, 5));
      }
      send({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
      if (body.stream_options?.include_usage) send({ choices: [], usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 } });
      return res.end('data: [DONE]\n\n');
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({
      id: 'chatcmpl-1', object: 'chat.completion', model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: body.max_tokens === 1 ? 'length' : 'stop' }],
      usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
    }));
  });
  const port = await listen(server);
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    calls,
    failWith: (status, body) => (failure = { status, body }),
    probes: () => probes,
    close: () => closeServer(server),
  };
}
