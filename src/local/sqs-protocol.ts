import { Agent, request } from 'node:http';
import { readBody } from './http.js';

export type SqsCall = <T = Record<string, unknown>>(action: string, params: Record<string, unknown>) => Promise<T>;

/**
 * The SQS JSON protocol spoken directly, as AWS's own services speak it for us in the cloud (API
 * Gateway's integration, Lambda's pollers): no SDK and no signing, which the embedded server does not
 * check. The function itself keeps the real SDK, as in Lambda.
 */
export function sqsProtocol(endpoint: string): SqsCall {
  const agent = new Agent({ keepAlive: true });
  const { hostname, port } = new URL(endpoint);
  return <T>(action: string, params: Record<string, unknown>) => new Promise<T>((resolve, reject) => {
    const body = Buffer.from(JSON.stringify(params));
    const req = request({
      host: hostname, port, path: '/', method: 'POST', agent,
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${action}`, 'content-length': body.length },
    }, (res) => {
      readBody(res).then((raw) => {
        const text = raw!.toString('utf8');
        const parsed = (text ? JSON.parse(text) : {}) as { __type?: string; message?: string };
        const status = res.statusCode ?? 500;
        // An SQS error, by its short name (QueueDoesNotExist, ...).
        if (status >= 300) reject(new Error(`${(parsed.__type ?? `HTTP${status}`).split('#').pop()}: ${parsed.message ?? text}`));
        else resolve(parsed as T);
      }).catch(reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
