import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

const keepAlive = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/**
 * One HTTP call over a keep-alive connection, with node:http: lighter than fetch for thousands of
 * requests, and a short command (status, send) does not pay for loading undici.
 */
export interface HttpAnswer {
  status: number;
  text: string;
  /** The Retry-After header, as sent. */
  retryAfter?: string;
}

export function httpCall(url: string, method: string, headers: Record<string, string>, body?: string, signal?: AbortSignal): Promise<HttpAnswer> {
  const target = new URL(url);
  const tls = target.protocol === 'https:';
  const send = tls ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const sized = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    const req = send(target, { method, headers: sized, agent: tls ? keepAlive.https : keepAlive.http, signal }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      const retryAfter = res.headers['retry-after'];
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, ...(retryAfter ? { retryAfter: String(retryAfter) } : {}) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
