import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { STAGE_NAME } from '../../contract.js';
import { ACTIONS, IDLE_TIMEOUT_MS, MAX_CONNECTION_MS, MAX_MESSAGE_BYTES, subscribeReply, validateFrame } from '../../stream-contract.js';
import { closeServer, listen, readBody } from './http.js';

export interface SocketRoutes {
  /** Undefined opens the API, as --no-api-key does. */
  apiKey?: string;
  /** Queues an `invoke` frame (its text as sent) for the connection; resolves with the request id. */
  invoke: (text: string, frame: { id?: string }, connectionId: string) => Promise<string>;
  /** Adds the connection to the request's listeners; resolves with the stored record, if there is one. */
  subscribe: (id: string, connectionId: string) => Promise<string | undefined>;
  /** API Gateway's limits unless given (tests shorten them). */
  limits?: { idleMs: number; maxMs: number };
}

interface Connection {
  socket: WebSocket;
  idle: NodeJS.Timeout;
  end: NodeJS.Timeout;
}

/** API Gateway's connection ids: 12 bytes of base64 (`L0SM9cOFvHcCIhw=`); URL-safe here, as the ids are path segments. */
const connectionId = () => randomBytes(12).toString('base64url');

/**
 * The WebSocket API of the local target, as API Gateway's: `ws://127.0.0.1:PORT/prod`, the key on
 * the upgrade (403 without it), routes on the frame's `action` with the same validation answers,
 * 128 KB messages (a larger one closes the socket, 1009), 10 minutes idle and 2 hours at most.
 */
export class LocalSockets {
  private readonly connections = new Map<string, Connection>();
  private readonly server = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly limits: { idleMs: number; maxMs: number };

  constructor(private readonly routes: SocketRoutes) {
    this.limits = routes.limits ?? { idleMs: IDLE_TIMEOUT_MS, maxMs: MAX_CONNECTION_MS };
  }

  /** Takes the WebSocket upgrades of `server` (the API's), at the stage path. */
  attach(server: Server) {
    server.on('upgrade', (req: IncomingMessage, raw: Duplex) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '');
      const refuse = (status: number, message: string) => {
        raw.end(`HTTP/1.1 ${status} ${message}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ message })}`);
      };
      if (path !== `/${STAGE_NAME}`) return refuse(403, 'Forbidden');
      if (this.routes.apiKey !== undefined && req.headers['x-api-key'] !== this.routes.apiKey) return refuse(403, 'Forbidden');
      this.server.handleUpgrade(req, raw, Buffer.alloc(0), (socket) => this.open(socket));
    });
  }

  private open(socket: WebSocket) {
    const id = connectionId();
    const close = (code: number, reason: string) => socket.close(code, reason);
    const connection: Connection = {
      socket,
      idle: setTimeout(() => close(1001, 'Going away'), this.limits.idleMs),
      end: setTimeout(() => close(1001, 'Going away'), this.limits.maxMs),
    };
    this.connections.set(id, connection);
    const active = () => connection.idle.refresh();
    // A frame over the limit, a broken connection: ws closes the socket (1009 for the size); the stack goes on.
    socket.on('error', () => undefined);
    socket.on('ping', active);
    socket.on('message', (data, binary) => {
      active();
      void this.route(id, socket, binary ? '' : data.toString());
    });
    socket.on('close', () => {
      clearTimeout(connection.idle);
      clearTimeout(connection.end);
      this.connections.delete(id);
    });
  }

  /** API Gateway's answers to a frame it cannot route or that fails its route's model. */
  private async route(id: string, socket: WebSocket, text: string) {
    const refuse = (message: string) => socket.send(JSON.stringify({ message, connectionId: id, requestId: randomUUID() }));
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return refuse('Forbidden');
    }
    const action = frame && typeof frame === 'object' ? frame.action : undefined;
    if (action !== ACTIONS.invoke && action !== ACTIONS.subscribe) return refuse('Forbidden');
    if (validateFrame(action, frame).length) return refuse('Invalid request body');
    try {
      if (action === ACTIONS.invoke) {
        const requestId = await this.routes.invoke(text, frame, id);
        socket.send(JSON.stringify({ type: 'accepted', id: requestId }));
        return;
      }
      const requestId = String(frame.id).toLowerCase();
      const stored = await this.routes.subscribe(requestId, id);
      socket.send(stored === undefined ? JSON.stringify({ type: 'subscribed', id: requestId }) : subscribeReply(requestId, stored));
    } catch {
      refuse('Internal server error');
    }
  }

  /** PostToConnection: 'gone' for a connection that is not open, 'too large' above a message's size. */
  post(id: string, data: Buffer): 'sent' | 'gone' | 'too large' {
    const connection = this.connections.get(id);
    if (!connection || connection.socket.readyState !== connection.socket.OPEN) return 'gone';
    if (data.length > MAX_MESSAGE_BYTES) return 'too large';
    connection.socket.send(data.toString('utf8'));
    return 'sent';
  }

  close() {
    for (const { socket } of this.connections.values()) socket.terminate();
    this.server.close();
  }
}

/**
 * The management API the worker posts results through (ApiGatewayManagementApi PostToConnection,
 * `POST /prod/@connections/{id}`), with its error names: GoneException (410) for a closed
 * connection, PayloadTooLargeException (413). On 127.0.0.1 only, as every local service.
 */
export async function startManagementServer(sockets: LocalSockets): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const prefix = `/${STAGE_NAME}/@connections/`;
  const server = createServer(async (req, res) => {
    const answer = (status: number, type?: string, message?: string) => {
      res.writeHead(status, { 'content-type': 'application/json', ...(type ? { 'x-amzn-errortype': type } : {}) });
      res.end(type ? JSON.stringify({ message }) : '');
    };
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'POST' || !path.startsWith(prefix)) return answer(404, 'NotFoundException', 'No such operation');
    const body = await readBody(req, MAX_MESSAGE_BYTES + 1);
    const sent = body ? sockets.post(decodeURIComponent(path.slice(prefix.length)), body) : 'too large';
    if (sent === 'gone') return answer(410, 'GoneException', 'The connection is gone');
    if (sent === 'too large') return answer(413, 'PayloadTooLargeException', `Message too long: at most ${MAX_MESSAGE_BYTES} bytes`);
    answer(200);
  });
  const port = await listen(server);
  return { endpoint: `http://127.0.0.1:${port}/${STAGE_NAME}`, close: () => closeServer(server) };
}
