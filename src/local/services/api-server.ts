import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { REQUEST_ID_PATTERN, REQUEUE_ATTRIBUTES, RESOURCE_PATH, RESULT_MESSAGES, RESULT_RETRY_AFTER_SECONDS, RESULTS_PATH, STAGE_NAME, pendingBody, requestIdFor, validateInvokeRequest, type InvokeRequest } from '../../contract.js';
import { CliError } from '../../errors.js';
import { closeServer, listen, listenToKeep, readBody } from './http.js';
import { CONNECTION_ATTRIBUTE } from '../../stream-contract.js';
import type { LocalSockets } from './socket-server.js';
import type { SqsCall } from './sqs-dynamodb-server.js';

/** Above this the body could not be one SQS message (1 MiB): API Gateway would pass it and SQS refuse it. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface ApiServerOptions {
  port?: number;
  /** Undefined opens the API, as --no-api-key does. */
  apiKey?: string;
  rateLimit: number;
  burstLimit: number;
  corsOrigin: string;
  /** How the integration speaks to SQS: the protocol itself, as API Gateway's is. */
  sqs: SqsCall;
  requestsQueueUrl: string;
  /** The stored record of a request (the results store's GetItem), undefined while pending. */
  storedResult: (id: string) => string | undefined;
  /** Extra routes (the local control API), tried before the public one. */
  extra?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  /** The WebSocket API, served on the same port at ws://127.0.0.1:PORT/prod. */
  sockets?: LocalSockets;
}

export interface ApiServer {
  url: string;
  invokeUrl: string;
  websocketUrl: string;
  close: () => Promise<void>;
}

/**
 * Queues a request as the deployed integrations do (POST and the WebSocket `invoke` alike): the
 * body as sent, its id (the client's, lowered, else a new one) in `bq-request-id`, and, from a
 * socket, the connection its answer goes to. Resolves with the id.
 */
export async function queueRequest(sqs: SqsCall, queueUrl: string, text: string, body: { id?: string }, connectionId?: string): Promise<string> {
  const id = requestIdFor(body);
  const attribute = (value: string) => ({ DataType: 'String', StringValue: value });
  await sqs('SendMessage', {
    QueueUrl: queueUrl, MessageBody: text,
    MessageAttributes: { [REQUEUE_ATTRIBUTES.requestId]: attribute(id), ...(connectionId ? { [CONNECTION_ATTRIBUTE]: attribute(connectionId) } : {}) },
  });
  return id;
}

/** The usage plan's throttle: a token bucket refilled at `rate` per second, holding at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();
  constructor(private readonly rate: number, private readonly burst: number) {
    this.tokens = burst;
  }
  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * The deployed API's contract: POST /prod/invokeModel (key, throttle, content type, size, schema,
 * then SQS; 202 with Location) and GET /prod/results/{id} (key, throttle, then the results store:
 * 200 with the record, 202 with Retry-After while pending, 400 for what is not an id).
 */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const bucket = new TokenBucket(options.rateLimit, options.burstLimit);
  const path = `/${STAGE_NAME}/${RESOURCE_PATH}`;
  const resultsPrefix = `/${STAGE_NAME}/${RESULTS_PATH}/`;
  const cors = { 'access-control-allow-origin': options.corsOrigin };

  const server: Server = createServer(async (req, res) => {
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...cors, ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      if (options.extra && (await options.extra(req, res))) return;
      const url = new URL(req.url ?? '/', 'http://localhost');
      // Like API Gateway's /results/{id}: one non-empty path segment, else no such resource.
      const segment = url.pathname.startsWith(resultsPrefix) ? url.pathname.slice(resultsPrefix.length) : '';
      const resultId = segment && !segment.includes('/') ? decodeURIComponent(segment) : undefined;
      const method = resultId ? 'GET' : url.pathname === path ? 'POST' : undefined;
      if (!method) return answer(403, { message: 'Missing Authentication Token' });
      if (req.method === 'OPTIONS') {
        res.writeHead(200, { ...cors, 'access-control-allow-methods': `${method},OPTIONS`, 'access-control-allow-headers': 'Content-Type,X-Api-Key' });
        return res.end();
      }
      if (req.method !== method) return answer(403, { message: 'Missing Authentication Token' });
      if (options.apiKey !== undefined && req.headers['x-api-key'] !== options.apiKey) {
        req.resume();
        return answer(403, { message: 'Forbidden' });
      }
      if (!bucket.take()) {
        req.resume();
        return answer(429, { message: 'Too Many Requests' });
      }
      if (resultId !== undefined) {
        req.resume();
        if (!REQUEST_ID_PATTERN.test(resultId)) return answer(400, { message: RESULT_MESSAGES.notAnId, requestId: randomUUID() });
        const record = options.storedResult(resultId);
        if (record === undefined) {
          res.writeHead(202, { 'content-type': 'application/json', ...cors, 'retry-after': String(RESULT_RETRY_AFTER_SECONDS), 'access-control-expose-headers': 'Retry-After' });
          return res.end(pendingBody(resultId));
        }
        res.writeHead(200, { 'content-type': 'application/json', ...cors, 'access-control-expose-headers': 'Retry-After' });
        return res.end(record);
      }
      // API Gateway selects the template and the model by MIME type (its docs key requestTemplates by
      // "MIME type"): parameters such as charset=utf-8 are not part of it.
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') {
        req.resume();
        return answer(415, { message: `Unsupported Media Type: send the body as application/json (got ${type || 'no content type'})` });
      }
      const raw = await readBody(req, MAX_BODY_BYTES);
      if (!raw) return answer(413, { message: `Request Entity Too Large: the body must be at most ${MAX_BODY_BYTES} bytes` });
      const text = raw.toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (err) {
        return answer(400, { message: `Invalid request body: not JSON (${(err as Error).message})` });
      }
      const problems = validateInvokeRequest(body);
      if (problems.length) return answer(400, { message: `Invalid request body: ${problems.join('; ')}` });
      const id = await queueRequest(options.sqs, options.requestsQueueUrl, text, body as InvokeRequest);
      return answer(202, { id }, { location: `${RESULTS_PATH}/${id}`, 'access-control-expose-headers': 'Location' });
    } catch (err) {
      if (!res.headersSent) answer(500, { message: `The queue is unavailable; try again (${(err as Error).message})` });
    }
  });
  server.keepAliveTimeout = 65_000;
  options.sockets?.attach(server);
  const port = await (options.port === undefined ? listenToKeep(server) : listen(server, options.port)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw new CliError(`Port ${options.port} on 127.0.0.1 is in use: choose another --port, or leave --port out and the system picks an unused port.`);
    throw err;
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    invokeUrl: `${url}${path}`,
    websocketUrl: `ws://127.0.0.1:${port}/${STAGE_NAME}`,
    // Open sockets would keep the server from closing: they end first.
    close: () => {
      options.sockets?.close();
      return closeServer(server);
    },
  };
}
