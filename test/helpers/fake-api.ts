import { randomUUID } from 'node:crypto';
import { closeServer, listen } from '../../src/local/services/http.js';
import { createServer, type Server } from 'node:http';
import { validateInvokeRequest } from '../../src/contract.js';

export interface FakeApi {
  invokeUrl: string;
  apiKey: string;
  /** The bodies accepted, in order of arrival. */
  accepted: { id: string; body: string }[];
  /** Statuses to answer before accepting, one per request (e.g. [429, 503]). */
  failNext: number[];
  /** The body's own id of each request answered with one of those statuses. */
  refusedIds: (string | undefined)[];
  /** Sent as Retry-After with the scripted failures, when set. */
  retryAfter?: string;
  /** A usage plan's throttle: a token bucket refilled at `perSecond`, holding `burst`; 429 when empty. */
  limit?: { perSecond: number; burst: number };
  /** Requests answered 429 by `limit`. */
  throttled: number;
  /** Requests answered 403 even with the right key, as a new key is for a few seconds on AWS. */
  keyNotYetActive: number;
  mostInFlight: number;
  close: () => Promise<void>;
}

/** An HTTP stand-in for POST /prod/invokeModel with the deployed API's answers (403, 400, 202). */
export async function startFakeApi(latencyMs = 0): Promise<FakeApi> {
  let inFlight = 0;
  let tokens = Infinity;
  let refilled = Date.now();
  const takeToken = () => {
    if (!api.limit) return true;
    const now = Date.now();
    tokens = Math.min(api.limit.burst, (tokens === Infinity ? api.limit.burst : tokens) + ((now - refilled) / 1000) * api.limit.perSecond);
    refilled = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
  const api: FakeApi = { invokeUrl: '', apiKey: 'test-key', accepted: [], failNext: [], refusedIds: [], throttled: 0, keyNotYetActive: 0, mostInFlight: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    inFlight++;
    api.mostInFlight = Math.max(api.mostInFlight, inFlight);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const answer = (status: number, payload: unknown, headers: Record<string, string> = {}) => setTimeout(() => {
        inFlight--;
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(payload));
      }, latencyMs);
      if (req.headers['x-api-key'] !== api.apiKey) return answer(403, { message: 'Forbidden' });
      if (api.keyNotYetActive > 0 && api.keyNotYetActive--) return answer(403, { message: 'Forbidden' });
      const scripted = api.failNext.shift();
      if (scripted) api.refusedIds.push((JSON.parse(body) as { id?: string }).id);
      if (scripted) return answer(scripted, { message: scripted === 429 ? 'Too Many Requests' : 'Internal server error' }, api.retryAfter ? { 'retry-after': api.retryAfter } : {});
      if (!takeToken()) {
        api.throttled++;
        return answer(429, { message: 'Too Many Requests' });
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return answer(400, { message: 'Invalid request body: not JSON' });
      }
      const problems = validateInvokeRequest(parsed);
      if (problems.length) return answer(400, { message: `Invalid request body: ${problems.join('; ')}` });
      // As the deployed API: the body's own id, lowered, else one of its own.
      const id = (parsed as { id?: string }).id?.toLowerCase() ?? randomUUID();
      api.accepted.push({ id, body });
      answer(202, { id });
    });
  });
  api.invokeUrl = `http://127.0.0.1:${await listen(server)}/prod/invokeModel`;
  api.close = () => closeServer(server);
  return api;
}
