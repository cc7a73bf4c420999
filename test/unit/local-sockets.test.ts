/**
 * The local WebSocket endpoint's limits, as API Gateway's: a message over 128 KB closes the socket
 * (1009), an idle connection closes, and so does one that reaches its maximum duration; traffic
 * keeps a connection from idling out. The limits are shortened here; the stack runs with AWS's.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { closeServer, listen } from '../../src/local/services/http.js';
import { LocalSockets } from '../../src/local/services/socket-server.js';
import { INLINE_RECORD_MAX_CHARS, MAX_MESSAGE_BYTES } from '../../src/stream-contract.js';
import { BedrockQueueClient } from '../../src/client/bedrock-queue-client.js';
import { requestStream } from '../../src/client/socket.js';

const ID = '2c9de0d2-25c7-4397-99d4-5b9d4d70fcfe';
const LARGE_ID = '7f1b3c2a-0d4e-4f5a-8b6c-9d0e1f2a3b4c';

let server: Server | undefined;
let sockets: LocalSockets | undefined;
afterEach(async () => {
  sockets?.close();
  if (server) await closeServer(server);
});

async function serve(limits: { idleMs: number; maxMs: number }, stored: Record<string, string> = {}) {
  sockets = new LocalSockets({ apiKey: 'k', invoke: async () => 'id', subscribe: async (id) => stored[id], limits });
  // GET /prod/results/{id}, as the API answers it.
  server = createServer((req, res) => res.end(stored[String(req.url).split('/').pop()!] ?? ''));
  sockets.attach(server);
  return `ws://127.0.0.1:${await listen(server)}/prod`;
}

function connect(url: string): Promise<{ socket: WebSocket; closed: Promise<{ code: number; at: number }> }> {
  const socket = new WebSocket(url, { headers: { 'x-api-key': 'k' } });
  const closed = new Promise<{ code: number; at: number }>((resolve) => socket.on('close', (code) => resolve({ code, at: Date.now() })));
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

describe('subscribe to a stored record', () => {
  const small = JSON.stringify({ id: ID, status: 'ok', output: 'short' });
  const large = JSON.stringify({ id: LARGE_ID, status: 'ok', output: 'é'.repeat(INLINE_RECORD_MAX_CHARS) });

  it('answers inline what surely fits in a message, else where to GET it, as API Gateway\'s template does; the client reads it there', async () => {
    const url = await serve({ idleMs: 60_000, maxMs: 60_000 }, { [ID]: small, [LARGE_ID]: large });
    const events = async (id: string) => {
      const seen = [];
      for await (const event of requestStream({ websocketUrl: url, apiKey: 'k' }, { subscribe: id })) seen.push(event);
      return seen;
    };
    expect(await events(ID)).toEqual([{ type: 'result', record: small }]);
    expect(await events(LARGE_ID)).toEqual([{ type: 'stored', location: `results/${LARGE_ID}` }]);
    const client = new BedrockQueueClient({ invokeUrl: url.replace(/^ws/, 'http').replace(/\/prod$/, '/prod/invokeModel'), websocketUrl: url, apiKey: 'k' });
    expect(await client.wait(LARGE_ID)).toEqual(JSON.parse(large));
  });
});

describe('the client over a long wait', () => {
  it('keeps a quiet connection from idling out by subscribing again, and at its maximum duration opens a new one that subscribes', async () => {
    const record = JSON.stringify({ id: ID, status: 'ok', output: 'late' });
    const readyAt = Date.now() + 1_800;
    const connections = new Set<string>();
    sockets = new LocalSockets({
      apiKey: 'k', invoke: async () => 'id', limits: { idleMs: 300, maxMs: 1_000 },
      subscribe: async (_id, connectionId) => {
        connections.add(connectionId);
        return Date.now() >= readyAt ? record : undefined;
      },
    });
    server = createServer((_req, res) => res.end());
    sockets.attach(server);
    const url = `ws://127.0.0.1:${await listen(server)}/prod`;
    const seen = [];
    for await (const event of requestStream({ websocketUrl: url, apiKey: 'k' }, { subscribe: ID }, undefined, { keepAliveMs: 100, reconnects: 3 })) seen.push(event);
    expect(seen).toEqual([{ type: 'result', record }]);
    // Idle for 300 ms would have ended a connection six times over: kept alive, only the 1 s limit ended one.
    expect(connections.size).toBe(2);
  });
});

describe('the local WebSocket endpoint\'s limits', () => {
  it('closes the socket on a message over 128 KB (1009), and takes one of exactly 128 KB', async () => {
    const url = await serve({ idleMs: 60_000, maxMs: 60_000 });
    const fits = await connect(url);
    fits.socket.send('x'.repeat(MAX_MESSAGE_BYTES));
    const answer = await new Promise<string>((resolve) => fits.socket.once('message', (d) => resolve(d.toString())));
    expect(JSON.parse(answer)).toMatchObject({ message: 'Forbidden' });
    const big = await connect(url);
    big.socket.send('x'.repeat(MAX_MESSAGE_BYTES + 1));
    expect((await big.closed).code).toBe(1009);
    fits.socket.close();
  });

  it('closes an idle connection (1001) but not one with traffic, and any connection at its maximum duration', async () => {
    const url = await serve({ idleMs: 300, maxMs: 1_200 });
    const opened = Date.now();
    const idle = await connect(url);
    const busy = await connect(url);
    const ticker = setInterval(() => busy.socket.ping(), 100);
    const idleClosed = await idle.closed;
    expect(idleClosed.code).toBe(1001);
    expect(idleClosed.at - opened).toBeGreaterThanOrEqual(250);
    expect(busy.socket.readyState).toBe(WebSocket.OPEN);
    const busyClosed = await busy.closed;
    clearInterval(ticker);
    expect(busyClosed.code).toBe(1001);
    expect(busyClosed.at - opened).toBeGreaterThanOrEqual(1_100);
  });
});
