/**
 * An HTTP proxy in front of moto_server that behaves like real AWS where moto does not (see
 * shared/notes/aws-facts.md), on a compressed clock, and records every request it forwards.
 * Behaviours are plain functions of the parsed request: they answer in AWS's own error format,
 * or rewrite moto's answer.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { closeServer, listen } from '../../src/local/services/http.js';

export interface AwsRequest {
  /** From the SigV4 credential scope: sqs, iam, lambda, logs, apigateway, sts, bedrock. */
  service: string;
  region: string;
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  /** The operation: from X-Amz-Target (JSON protocols), Action= (query protocols), else METHOD path. */
  operation: string;
  /** The JSON or form body, parsed. */
  params: Record<string, unknown>;
  at: number;
}

export interface AwsAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface Recorded extends AwsRequest {
  answer: AwsAnswer;
}

/** A behaviour answers instead of moto (`respond`), or changes moto's answer (`rewrite`). */
export interface Behaviour {
  name: string;
  respond?: (req: AwsRequest, history: Recorded[]) => AwsAnswer | undefined;
  rewrite?: (req: AwsRequest, answer: AwsAnswer, history: Recorded[]) => AwsAnswer | undefined;
}

export interface AwsProxy {
  endpoint: string;
  recorded: Recorded[];
  /** How often each behaviour changed an answer. */
  fired: Record<string, number>;
  behaviours: Behaviour[];
  close: () => Promise<void>;
}

function parse(method: string, url: string, headers: IncomingHttpHeaders, body: string): AwsRequest {
  const scope = /Credential=[^/]+\/\d+\/([^/]+)\/([^/]+)\//.exec(String(headers.authorization ?? ''));
  const { pathname, searchParams } = new URL(url, 'http://proxy');
  const target = String(headers['x-amz-target'] ?? '');
  let params: Record<string, unknown> = {};
  if (target || /json/.test(String(headers['content-type'] ?? ''))) {
    try {
      params = body ? JSON.parse(body) as Record<string, unknown> : {};
    } catch {
      params = {};
    }
  } else if (/x-www-form-urlencoded/.test(String(headers['content-type'] ?? ''))) {
    params = Object.fromEntries(new URLSearchParams(body));
  }
  const operation = target ? target.split('.').pop()! : typeof params.Action === 'string' ? params.Action : `${method} ${pathname}`;
  return { service: scope?.[2] ?? 'unknown', region: scope?.[1] ?? 'unknown', method, path: pathname, query: searchParams, headers, body, operation, params, at: Date.now() };
}

function forward(target: URL, method: string, url: string, headers: IncomingHttpHeaders, body: string): Promise<AwsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: target.hostname, port: target.port, method, path: url, headers: { ...headers, host: target.host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && k !== 'content-length' && k !== 'transfer-encoding') out[k] = String(v);
        resolve({ status: res.statusCode ?? 500, headers: out, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function startAwsProxy(motoEndpoint: string, behaviours: Behaviour[] = []): Promise<AwsProxy> {
  const target = new URL(motoEndpoint);
  const proxy: AwsProxy = { endpoint: '', recorded: [], fired: {}, behaviours, close: async () => {} };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const parsed = parse(req.method ?? 'GET', req.url ?? '/', req.headers, body);
        let early: AwsAnswer | undefined;
        for (const b of proxy.behaviours) {
          early = b.respond?.(parsed, proxy.recorded);
          if (early) {
            proxy.fired[b.name] = (proxy.fired[b.name] ?? 0) + 1;
            break;
          }
        }
        let answer: AwsAnswer = early ?? await forward(target, req.method ?? 'GET', req.url ?? '/', req.headers, body);
        for (const b of proxy.behaviours) {
          const changed: AwsAnswer | undefined = b.rewrite?.(parsed, answer, proxy.recorded);
          if (changed) {
            proxy.fired[b.name] = (proxy.fired[b.name] ?? 0) + 1;
            answer = changed;
          }
        }
        proxy.recorded.push({ ...parsed, answer });
        res.writeHead(answer.status, { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) });
        res.end(answer.body);
      })().catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`aws-proxy: ${String(err)}`);
      });
    });
  });
  proxy.endpoint = `http://127.0.0.1:${await listen(server)}`;
  proxy.close = () => closeServer(server);
  return proxy;
}

/** Errors as each AWS protocol writes them, so the SDK names them as it would on AWS. */
export const awsError = {
  /** SQS (AWS JSON 1.0). */
  sqs: (code: string, message: string, status = 400): AwsAnswer => ({
    status,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': `AWS.SimpleQueueService.${code};Sender` },
    body: JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message }),
  }),
  /** Lambda, API Gateway and Bedrock (REST JSON). */
  rest: (code: string, message: string, status: number): AwsAnswer => ({
    status,
    headers: { 'content-type': 'application/json', 'x-amzn-errortype': code },
    body: JSON.stringify({ Type: 'User', message }),
  }),
};

export const json = (value: unknown, status = 200): AwsAnswer => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });
