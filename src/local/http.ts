import type { IncomingMessage, Server } from 'node:http';

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
