import { createServer, request, type IncomingMessage } from 'node:http';
import { createSqsServer } from 'local-aws-sqs';
import { closeServer, listen, readBody } from './http.js';

export interface SqsServer {
  /** For any client: multi-message long polls answer as soon as a message is there. */
  endpoint: string;
  /** The embedded server itself, one hop shorter, for the pipeline's own calls (none of which is such a poll). */
  innerEndpoint: string;
  close: () => Promise<void>;
}

/** Sends one request to the embedded server and returns its status, headers and body. */
function forward(port: number, method: string, path: string, headers: IncomingMessage['headers'], body: Buffer) {
  return new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>((resolve, reject) => {
    const out = request({ host: '127.0.0.1', port, method, path, headers: { ...headers, 'content-length': String(body.length) } }, async (res) => {
      resolve({ status: res.statusCode ?? 500, headers: res.headers, body: (await readBody(res))! });
    });
    out.on('error', reject);
    out.end(body);
  });
}

type Received = { Messages?: { ReceiptHandle?: string }[] };

/**
 * The embedded SQS server (local-aws-sqs, bound to 127.0.0.1), behind a thin front that fixes one
 * gap: asked for several messages with long polling, it waits until the batch is full or the wait
 * ends, where SQS answers as soon as any message is there. The front asks for the first message with
 * the wait, then for the rest without one. And when a client hangs up during its long poll (Ctrl-C
 * of `send --wait`), what the poll received is handed back at once instead of staying hidden for its
 * visibility timeout from every other consumer. Everything else passes through unchanged.
 */
export async function startSqsServer(): Promise<SqsServer> {
  const inner = await createSqsServer({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
  const innerPort = (inner.address() as { port: number }).port;
  const front = createServer(async (req, res) => {
    let hungUp = false;
    res.on('close', () => (hungUp = !res.writableEnded));
    /** What a poll received for a client that has hung up goes back to the queue. */
    const releaseIfHungUp = async (queueUrl: string | undefined, received: Received) => {
      const handles = (received.Messages ?? []).map((m) => m.ReceiptHandle).filter((h): h is string => !!h);
      if (!hungUp || !handles.length) return;
      const entries = handles.map((ReceiptHandle, i) => ({ Id: String(i), ReceiptHandle, VisibilityTimeout: 0 }));
      await forward(innerPort, 'POST', '/', { ...req.headers, 'x-amz-target': 'AmazonSQS.ChangeMessageVisibilityBatch' }, Buffer.from(JSON.stringify({ QueueUrl: queueUrl, Entries: entries })));
    };
    try {
      const body = (await readBody(req))!;
      const target = req.headers['x-amz-target'];
      const parsed = target === 'AmazonSQS.ReceiveMessage' ? JSON.parse(body.toString('utf8')) as { QueueUrl?: string; MaxNumberOfMessages?: number; WaitTimeSeconds?: number } : undefined;
      if (parsed && (parsed.MaxNumberOfMessages ?? 1) > 1 && (parsed.WaitTimeSeconds ?? 0) > 0) {
        const first = await forward(innerPort, req.method!, req.url!, req.headers, Buffer.from(JSON.stringify({ ...parsed, MaxNumberOfMessages: 1 })));
        const firstBody = JSON.parse(first.body.toString('utf8') || '{}') as { Messages?: unknown[] };
        if (first.status === 200 && firstBody.Messages?.length) {
          const rest = await forward(innerPort, req.method!, req.url!, req.headers, Buffer.from(JSON.stringify({ ...parsed, MaxNumberOfMessages: parsed.MaxNumberOfMessages! - 1, WaitTimeSeconds: 0 })));
          const restBody = JSON.parse(rest.body.toString('utf8') || '{}') as { Messages?: unknown[] };
          const all = { ...firstBody, Messages: [...firstBody.Messages, ...(restBody.Messages ?? [])] };
          await releaseIfHungUp(parsed.QueueUrl, all as Received);
          const merged = Buffer.from(JSON.stringify(all));
          res.writeHead(200, { 'content-type': first.headers['content-type'] ?? 'application/x-amz-json-1.0', 'content-length': String(merged.length) });
          return res.end(merged);
        }
        res.writeHead(first.status, { 'content-type': first.headers['content-type'] ?? 'application/x-amz-json-1.0' });
        return res.end(first.body);
      }
      const answer = await forward(innerPort, req.method!, req.url!, req.headers, body);
      if (parsed && hungUp && answer.status === 200) await releaseIfHungUp(parsed.QueueUrl, JSON.parse(answer.body.toString('utf8') || '{}') as Received);
      const headers = { ...answer.headers };
      delete headers['transfer-encoding'];
      res.writeHead(answer.status, { ...headers, 'content-length': String(answer.body.length) });
      res.end(answer.body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ __type: 'InternalFailure', message: (err as Error).message }));
    }
  });
  front.keepAliveTimeout = 65_000;
  const port = await listen(front);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    innerEndpoint: `http://127.0.0.1:${innerPort}`,
    close: async () => {
      await Promise.all([closeServer(front), closeServer(inner)]);
    },
  };
}
