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

type Frame = { type?: string; id?: string; text?: string; part?: number; parts?: number; data?: string; message?: string; location?: string };

/** The record's own bytes in a result frame: the frame is built around them (stream-contract's resultFrames). */
function recordText(frame: string, id: string): string | undefined {
  const prefix = `{"type":"result","id":"${id}","record":`;
  return frame.startsWith(prefix) && frame.endsWith('}') ? frame.slice(prefix.length, -1) : undefined;
}

/**
 * One request over the WebSocket API: `invoke` sends it (or `subscribe` follows one sent before), and
 * the events come until its record. A socket that cannot open (403, nothing listening) throws
 * before the first event, so that a caller can fall back to polling. `signal` (Ctrl-C) closes it.
 */
export async function* requestStream(target: SocketTarget, send: { invoke: InvokeRequest } | { subscribe: string }, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
  const { default: WebSocket } = await import('ws');
  const socket = new WebSocket(target.websocketUrl, { headers: target.apiKey ? { 'x-api-key': target.apiKey } : {} });
  const frames: string[] = [];
  let wake: () => void = () => undefined;
  let ended: Error | undefined;
  socket.on('message', (data) => {
    frames.push(data.toString());
    wake();
  });
  const end = (err: Error) => {
    ended ??= err;
    wake();
  };
  socket.on('close', (code) => end(new CliError(`The WebSocket closed (${code}) before the result came.`)));
  socket.on('error', (err) => end(err));
  socket.on('unexpected-response', (_req, res) => end(new CliError(`The WebSocket API refused the connection (${res.statusCode}${res.statusCode === 403 ? ': the API key is missing or wrong' : ''}).`)));
  const stop = () => socket.terminate();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      wake = () => ended && reject(ended);
    });
    let id = 'subscribe' in send ? send.subscribe.toLowerCase() : undefined;
    socket.send(JSON.stringify('invoke' in send ? { action: ACTIONS.invoke, ...send.invoke } : { action: ACTIONS.subscribe, id }));
    const parts: { part: number; parts: number; data: string }[] = [];
    for (;;) {
      const text = frames.shift();
      if (text === undefined) {
        if (ended) throw ended;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const frame = JSON.parse(text) as Frame;
      if (frame.message !== undefined) throw new CliError(`The WebSocket API refused the request: ${frame.message}`);
      if (frame.type === 'accepted') {
        id = frame.id!;
        yield { type: 'accepted', id };
      } else if (frame.id !== id) continue;
      else if (frame.type === 'delta') yield { type: 'delta', text: frame.text ?? '' };
      else if (frame.type === 'restart') yield { type: 'restart' };
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
    signal?.removeEventListener('abort', stop);
    socket.close();
  }
}
