import type WebSocket from 'ws';
import type { InvokeRequest } from '../contract.js';
import { CliError } from '../errors.js';
import { ACTIONS, joinParts } from '../stream-contract.js';

/** Where a stack's WebSocket API is, and its key. */
export interface SocketTarget {
  websocketUrl: string;
  apiKey?: string;
}

/** What a request's stream brings: its id, text as it is written, a new start, and the stored record's exact text. */
export type StreamEvent =
  | { type: 'accepted'; id: string }
  | { type: 'delta'; text: string }
  | { type: 'restart' }
  | { type: 'result'; record: string }
  /** The record is stored, too large for the reply to `subscribe`: read it where `location` says (GET, or the store). */
  | { type: 'stored'; location: string };

export interface StreamOptions {
  /** How often a quiet connection subscribes again, which keeps it from idling out (API Gateway: after 10 minutes). */
  keepAliveMs?: number;
  /** Connections opened again, one after another, when one ends before the result (API Gateway ends each at 2 hours). */
  reconnects?: number;
}

const KEEP_ALIVE_MS = 5 * 60_000;
const RECONNECTS = 3;

type Frame = { type?: string; id?: string; text?: string; part?: number; parts?: number; data?: string; message?: string; location?: string };

/** The record's own bytes in a result frame: the frame is built around them (stream-contract's resultFrames). */
function recordText(frame: string, id: string): string | undefined {
  const prefix = `{"type":"result","id":"${id}","record":`;
  return frame.startsWith(prefix) && frame.endsWith('}') ? frame.slice(prefix.length, -1) : undefined;
}

/** One open socket: its frames in order, and the error that ended it. */
class Connection {
  private readonly frames: string[] = [];
  private ended: Error | undefined;
  private wake: () => void = () => undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.frames.push(data.toString());
      this.wake();
    });
    socket.on('close', (code) => this.end(new ClosedError(`The WebSocket closed (${code}) before the result came.`)));
    socket.on('error', (err) => this.end(err));
    socket.on('unexpected-response', (_req, res) => this.end(new CliError(`The WebSocket API refused the connection (${res.statusCode}${res.statusCode === 403 ? ': the API key is missing or wrong' : ''}).`)));
  }

  /** Opens a socket, or throws why it could not (403, nothing listening). */
  static async open(target: SocketTarget, signal?: AbortSignal): Promise<Connection> {
    const { default: WebSocketClient } = await import('ws');
    const connection = new Connection(new WebSocketClient(target.websocketUrl, { headers: target.apiKey ? { 'x-api-key': target.apiKey } : {} }));
    const stop = () => connection.socket.terminate();
    signal?.addEventListener('abort', stop, { once: true });
    connection.socket.once('close', () => signal?.removeEventListener('abort', stop));
    await new Promise<void>((resolve, reject) => {
      connection.socket.once('open', () => resolve());
      connection.wake = () => connection.ended && reject(connection.ended);
    });
    return connection;
  }

  private end(err: Error) {
    this.ended ??= err;
    this.wake();
  }

  send(frame: unknown) {
    this.socket.send(JSON.stringify(frame));
  }

  /** The next frame; undefined after `quietMs` without one; throws once the socket has ended. */
  async next(quietMs: number): Promise<string | undefined> {
    for (;;) {
      const text = this.frames.shift();
      if (text !== undefined) return text;
      if (this.ended) throw this.ended;
      const quiet = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), quietMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve(false);
        };
      });
      if (quiet) return undefined;
    }
  }

  close() {
    this.socket.close();
  }
}

/** The socket ended before the result (API Gateway's 2 hours, a network change): the stream goes on over a new one. */
class ClosedError extends CliError {}

/**
 * One request over the WebSocket API: `invoke` sends it (or `subscribe` follows one sent before), and
 * the events come until its record. A socket that cannot open (403, nothing listening) throws
 * before the first event, so that a caller can fall back to polling. A quiet socket subscribes
 * again now and then, which keeps it open; one that ends once the request is queued is opened
 * again and subscribes. The worker sends a new listener the text so far in one delta: of it, only
 * what was not yielded yet is yielded (or, if the answer started again meanwhile, a `restart` and
 * all of it). `signal` (Ctrl-C) closes it.
 */
export async function* requestStream(target: SocketTarget, send: { invoke: InvokeRequest } | { subscribe: string }, signal?: AbortSignal, options: StreamOptions = {}): AsyncGenerator<StreamEvent> {
  const keepAliveMs = options.keepAliveMs ?? KEEP_ALIVE_MS;
  let id = ('subscribe' in send ? send.subscribe : send.invoke.id)?.toLowerCase();
  let reconnects = options.reconnects ?? RECONNECTS;
  let connection = await Connection.open(target, signal);
  connection.send('invoke' in send ? { action: ACTIONS.invoke, ...send.invoke } : { action: ACTIONS.subscribe, id });
  // Once the request is known to be queued, a new socket need only subscribe to it.
  let following = 'subscribe' in send;
  let answered = false;
  // The text yielded since the answer's last start, and whether a new socket's first delta (the text so far) is awaited.
  let written = '';
  let catchingUp = false;
  const parts: { part: number; parts: number; data: string }[] = [];
  try {
    for (;;) {
      let text: string | undefined;
      try {
        text = await connection.next(keepAliveMs);
      } catch (err) {
        if (!(err instanceof ClosedError) || signal?.aborted || !following || reconnects-- <= 0) throw err;
        connection = await Connection.open(target, signal);
        connection.send({ action: ACTIONS.subscribe, id });
        catchingUp = written !== '';
        parts.length = 0;
        continue;
      }
      if (text === undefined) {
        if (following) connection.send({ action: ACTIONS.subscribe, id });
        continue;
      }
      const frame = JSON.parse(text) as Frame;
      if (frame.id !== undefined && frame.id === id) answered = true;
      // Refused: the request, or else only a keep-alive (its stream goes on).
      if (frame.message !== undefined && !answered) throw new CliError(`The WebSocket API refused the request: ${frame.message}`);
      if (frame.type === 'accepted') {
        id = frame.id!;
        following = answered = true;
        yield { type: 'accepted', id };
      } else if (frame.id !== id) continue;
      else if (frame.type === 'delta') {
        let delta = frame.text ?? '';
        if (catchingUp) {
          catchingUp = false;
          if (delta.startsWith(written)) delta = delta.slice(written.length);
          else {
            written = '';
            yield { type: 'restart' };
          }
        }
        written += delta;
        if (delta) yield { type: 'delta', text: delta };
      } else if (frame.type === 'restart') {
        written = '';
        yield { type: 'restart' };
      }
      else if (frame.type === 'result' && frame.location !== undefined) {
        yield { type: 'stored', location: frame.location };
        return;
      } else if (frame.type === 'result' && frame.parts === undefined) {
        yield { type: 'result', record: recordText(text, id!) ?? JSON.stringify((JSON.parse(text) as { record: unknown }).record) };
        return;
      } else if (frame.type === 'result') {
        parts.push({ part: frame.part!, parts: frame.parts!, data: frame.data! });
        const record = joinParts(parts);
        if (record !== undefined) {
          yield { type: 'result', record };
          return;
        }
      }
    }
  } finally {
    connection.close();
  }
}
