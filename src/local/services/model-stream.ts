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

/** OpenAI's finish_reason as a Converse stopReason. */
export const STOP_REASONS: Record<string, string> = { stop: 'end_turn', length: 'max_tokens', content_filter: 'content_filtered', tool_calls: 'tool_use' };

interface ChatChunk {
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

/**
 * Relays an OpenAI-compatible server's streamed completion (server-sent events, `data: {...}` lines
 * ending with `data: [DONE]`) as ConverseStream events, each piece as soon as it comes.
 */
export async function relayStream(res: ServerResponse, response: Response, started: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
  res.write(event('messageStart', { role: 'assistant' }));
  let stopReason = 'end_turn';
  let usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  let pending = '';
  const decoder = new TextDecoder();
  const take = (line: string) => {
    const data = line.replace(/^data:\s*/, '');
    if (!line.startsWith('data:') || data === '[DONE]') return;
    const chunk = JSON.parse(data) as ChatChunk;
    const choice = chunk.choices?.[0];
    if (choice?.delta?.content) res.write(event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: choice.delta.content } }));
    if (choice?.finish_reason) stopReason = STOP_REASONS[choice.finish_reason] ?? 'end_turn';
    if (chunk.usage) {
      const inputTokens = chunk.usage.prompt_tokens ?? 0;
      const outputTokens = chunk.usage.completion_tokens ?? 0;
      usage = { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
    }
  };
  for await (const bytes of response.body ?? []) {
    if (res.destroyed) return;
    pending += decoder.decode(bytes as Uint8Array, { stream: true });
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) take(line.trim());
  }
  take(pending.trim());
  res.write(event('contentBlockStop', { contentBlockIndex: 0 }));
  res.write(event('messageStop', { stopReason }));
  res.end(event('metadata', { usage, metrics: { latencyMs: Date.now() - started } }));
}
