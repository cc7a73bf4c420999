import { closeServer, listen } from '../../src/local/services/http.js';
import { createServer, type Server } from 'node:http';

export interface ConverseServer {
  endpoint: string;
  calls: { modelId: string; body: { messages: { content: { text: string }[] }[] } }[];
  close: () => Promise<void>;
}

/**
 * A Bedrock Runtime Converse endpoint on loopback that answers "echo: <prompt>", over HTTP/1.1 as the
 * worker's client speaks it, so the real client and its serialisation run.
 */
export async function startConverseServer(): Promise<ConverseServer> {
  const calls: ConverseServer['calls'] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      const match = /^\/model\/([^/]+)\/converse$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !match) {
        res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' });
        res.end(JSON.stringify({ message: `no route for ${req.method} ${req.url}` }));
        return;
      }
      const body = JSON.parse(raw);
      calls.push({ modelId: decodeURIComponent(match[1]!), body });
      const text = body.messages[0].content[0].text as string;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        output: { message: { role: 'assistant', content: [{ text: `echo: ${text}` }] } },
        stopReason: 'end_turn',
        usage: { inputTokens: text.length, outputTokens: text.length + 6, totalTokens: 2 * text.length + 6 },
        metrics: { latencyMs: 0 },
      }));
    });
  });
  const port = await listen(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    close: () => closeServer(server),
  };
}
