import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Reads a request or response body; undefined when it is larger than `limit` bytes (the rest is drained, not kept). */
export async function readBody(message: IncomingMessage, limit = Infinity): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of message) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}

/** A REST JSON AWS API's answer (Bedrock's, as the local model server and batch inference give it). */
export function sendJson(res: ServerResponse, body: unknown) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Its error, which the SDK recognises by the x-amzn-errortype header, as from the service itself. */
export function sendAwsError(res: ServerResponse, status: number, type: string, message: string) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
  res.end(JSON.stringify({ message }));
}

/** Listens on 127.0.0.1 only; resolves with the port (a free one when `port` is 0). */
export function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/** Closes a server at once, keep-alive connections included. */
export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Where ports to keep are chosen: above the well-known and registered ports most services take, below the ephemeral range. */
const KEPT_PORTS_FROM = 10_000;

/** The ports the system hands to outgoing connections (Linux: ip_local_port_range; elsewhere IANA's 49152-65535). */
function ephemeralPortsFrom(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (low > 0) return low;
  } catch {
    // not Linux
  }
  return 49_152;
}

/**
 * Listens on a port that a restart can have again: one below the ephemeral range, which no client's
 * outgoing connection takes meanwhile (a port the system picked with 0 could be, when the stack
 * restarts while its own clients, batch say, reconnect). Falls back to any free port.
 */
export async function listenToKeep(server: Server): Promise<number> {
  const below = ephemeralPortsFrom();
  for (let attempt = 0; below - KEPT_PORTS_FROM > 1_000 && attempt < 20; attempt++) {
    try {
      return await listen(server, KEPT_PORTS_FROM + Math.floor(Math.random() * (below - KEPT_PORTS_FROM)));
    } catch (err) {
      if (!['EADDRINUSE', 'EACCES'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  return listen(server, 0);
}
