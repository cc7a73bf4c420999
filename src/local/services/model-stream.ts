import type { ServerResponse } from 'node:http';
import { EventStreamCodec } from '@smithy/core/event-streams';

/** What a streamed answer carries: its text, why it stopped, and its usage. */
export interface StreamedAnswer {
  text: string;
  stopReason: string;
  usage: { inputTokens: number; outputTokens: number; totalTokens: number };
}

const codec = new EventStreamCodec((bytes) => Buffer.from(bytes).toString('utf8'), (text) => Buffer.from(text, 'utf8'));

/** One event of Bedrock's ConverseStream, in the AWS event-stream encoding its SDK reads. */
function event(type: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: Buffer.from(JSON.stringify(payload), 'utf8'),
  });
}

/** The answer's text in the pieces a model streams: a word and the space after it. */
export const pieces = (text: string) => text.match(/\s*\S+\s*/g) ?? [text];

/**
 * Answers a ConverseStream call as Bedrock does: messageStart, one contentBlockDelta per piece of
 * the text (`tokenLatencyMs` apart), contentBlockStop, messageStop, metadata. A client that hangs
 * up ends the stream.
 */
export async function writeConverseStream(res: ServerResponse, answer: StreamedAnswer, tokenLatencyMs: () => number, started: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
  res.write(event('messageStart', { role: 'assistant' }));
  for (const text of pieces(answer.text)) {
    const pause = tokenLatencyMs();
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
    if (res.destroyed) return;
    res.write(event('contentBlockDelta', { contentBlockIndex: 0, delta: { text } }));
  }
  res.write(event('contentBlockStop', { contentBlockIndex: 0 }));
  res.write(event('messageStop', { stopReason: answer.stopReason }));
  res.end(event('metadata', { usage: answer.usage, metrics: { latencyMs: Date.now() - started } }));
}
