import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { ConverseStreamCommand, type BedrockRuntimeClient, type ConverseStreamCommandInput, type StopReason, type TokenUsage } from '@aws-sdk/client-bedrock-runtime';
import { postFrame } from './push.js';

/** Deltas of one request are posted at most this often: about ten frames a second. */
export const DELTA_INTERVAL_MS = 100;
/** While an answer streams, the store is asked this often for listeners who subscribed since. */
export const LISTENERS_REFRESH_MS = 1_000;

/** Where a request's answer streams to while the model writes it. */
export interface DeltaSink {
  /** Text the model just wrote. */
  write: (text: string) => void;
  /** The answer starts again (a new attempt): listeners drop what they showed. */
  restart: () => void;
  /** Posts what is still buffered; resolves once every post has ended. */
  flush: () => Promise<void>;
}

export interface PosterOptions {
  intervalMs?: number;
  /** The request's listeners as the store has them now: those new since are caught up and then streamed to. */
  listeners?: () => Promise<string[]>;
  refreshMs?: number;
}

/**
 * Streams deltas to connections as `{"type": "delta", "id", "text"}` frames, in order: text is
 * posted at once when nothing was posted in the last DELTA_INTERVAL_MS (so the first words are not
 * held back), else buffered and posted when that interval ends. A listener that subscribes while
 * the answer streams first gets the text so far in one delta. A connection that is gone is
 * dropped; a failed post is not tried again (the final record is, by pushResults).
 */
export function deltaPoster(client: ApiGatewayManagementApiClient, id: string, connections: Iterable<string>, options: PosterOptions = {}): DeltaSink {
  const intervalMs = options.intervalMs ?? DELTA_INTERVAL_MS;
  const live = new Set(connections);
  const dropped = new Set<string>();
  let buffered = '';
  /** The text posted so far in this attempt: what a late listener is caught up with. */
  let posted = '';
  let timer: NodeJS.Timeout | undefined;
  let lastPost = -Infinity;
  let chain = Promise.resolve();
  // Recipients are fixed when a frame is queued: a listener who joins later gets the text so far in
  // its catch-up frame, and the frames queued before it must not reach it too.
  const post = (frame: string, to: string[] = [...live]) => {
    // One try each: a delta that missed is superseded by the next, and the record is posted by pushResults.
    chain = chain.then(() => Promise.all(to.filter((c) => !dropped.has(c)).map(async (connection) => {
      if ((await postFrame(client, connection, frame, 1)) !== 'gone') return;
      live.delete(connection);
      dropped.add(connection);
    }))).then(() => undefined);
  };
  const send = () => {
    timer = undefined;
    if (!buffered) return;
    lastPost = Date.now();
    post(JSON.stringify({ type: 'delta', id, text: buffered }));
    posted += buffered;
    buffered = '';
  };
  const join = (connection: string) => {
    live.add(connection);
    if (posted) post(JSON.stringify({ type: 'delta', id, text: posted }), [connection]);
  };
  const refresher = options.listeners && setInterval(() => {
    void options.listeners!().then((all) => all.filter((c) => !live.has(c) && !dropped.has(c)).forEach(join), () => undefined);
  }, options.refreshMs ?? LISTENERS_REFRESH_MS);
  return {
    write: (text) => {
      buffered += text;
      if (timer) return;
      const wait = lastPost + intervalMs - Date.now();
      if (wait <= 0) send();
      else timer = setTimeout(send, wait);
    },
    restart: () => {
      clearTimeout(timer);
      timer = undefined;
      buffered = '';
      posted = '';
      lastPost = -Infinity;
      post(JSON.stringify({ type: 'restart', id }));
    },
    flush: async () => {
      clearTimeout(timer);
      clearInterval(refresher);
      send();
      await chain;
    },
  };
}

/** What a streamed call answered, in the fields a Converse answer has. */
export interface StreamedAnswer {
  text: string;
  stopReason?: StopReason;
  usage?: TokenUsage;
}

/** One ConverseStream call: its text goes to `sink` as it comes; an error event of the stream is thrown by name, as Converse's would be. */
export async function converseStreaming(bedrock: BedrockRuntimeClient, input: ConverseStreamCommandInput, sink: DeltaSink, signal: AbortSignal): Promise<StreamedAnswer> {
  const response = await bedrock.send(new ConverseStreamCommand(input), { abortSignal: signal });
  const answer: StreamedAnswer = { text: '' };
  for await (const event of response.stream ?? []) {
    const text = event.contentBlockDelta?.delta?.text;
    if (text) {
      answer.text += text;
      sink.write(text);
    }
    if (event.messageStop) answer.stopReason = event.messageStop.stopReason;
    if (event.metadata) answer.usage = event.metadata.usage;
    const failure = event.internalServerException ?? event.modelStreamErrorException ?? event.validationException ?? event.throttlingException ?? event.serviceUnavailableException;
    if (failure) throw failure;
  }
  return answer;
}
