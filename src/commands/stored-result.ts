import type { ResultRecord } from '../contract.js';
import { CliError, InterruptedError } from '../errors.js';
import { formatSeconds, formatTimestamp, type Output } from '../output.js';
import type { GlobalArgs } from './options.js';
import { interruptSignal, type OperatorTarget } from './session.js';

/** A result for people: when (date and time, UTC), id, status, latency, tokens and attempt on one line, then the answer (or the error) indented. */
export function formatResult(out: Output, r: ResultRecord): string {
  // The date too: results are kept for days (--results-ttl), and a time alone says nothing of which day.
  const time = formatTimestamp(r.completedAt);
  const tokens = r.usage ? `${r.usage.inputTokens}+${r.usage.outputTokens} tokens` : '';
  const status = r.status === 'ok' ? out.paint('32', 'ok') : out.paint('31', 'error');
  const head = [time, r.id, status, `${r.latencyMs} ms`, tokens, r.attempt > 1 ? `attempt ${r.attempt}` : ''].filter(Boolean).join('  ');
  const body = r.status === 'ok' ? r.output ?? '' : `${r.error?.code}: ${r.error?.message}`;
  return `${head}\n${body.split('\n').map((l) => `  ${l}`).join('\n')}\n`;
}

/** How to read a request's result later, for the messages of a wait that ended without it. */
export const readLater = (argv: GlobalArgs, id: string) => `"bedrock-queue result ${id} --name ${argv.name}${argv.local ? ' --local' : ''}"`;

/**
 * Waits for a request's record: pushed over the stack's WebSocket API where it has one, else (or
 * if the socket cannot open, said once on stderr) polled from the results store, reading only its
 * own item. Any number of waiters side by side. Says how to pick it up later when time runs out or
 * Ctrl-C stops the wait.
 */
export async function waitForResultOf(argv: GlobalArgs, target: OperatorTarget, id: string, timeoutMs: number, out: Output) {
  const interrupted = interruptSignal();
  const stop = AbortSignal.any([interrupted, AbortSignal.timeout(timeoutMs)]);
  const pushed = await pushedResult(target, id, stop, out);
  const result = pushed === NO_SOCKET ? await polledResult(target, id, timeoutMs, interrupted) : pushed;
  if (interrupted.aborted) throw new InterruptedError(`Interrupted: stopped waiting; the request ${id} is still queued. Read its result later with ${readLater(argv, id)}.`);
  if (!result) throw new CliError(`No result for ${id} after ${formatSeconds(timeoutMs)}: the request is still queued. Read its result later with ${readLater(argv, id)}.`);
  return result;
}

const NO_SOCKET = Symbol('no socket');

/** The record pushed when it is stored (undefined if the wait stopped first), or NO_SOCKET when there is none to wait on (said). */
async function pushedResult(target: OperatorTarget, id: string, stop: AbortSignal, out: Output): Promise<{ record: ResultRecord; text: string } | undefined | typeof NO_SOCKET> {
  const socket = await target.websocket();
  if (!socket) return NO_SOCKET;
  const { requestStream } = await import('../client/socket.js');
  try {
    for await (const event of requestStream(socket, { subscribe: id }, stop)) {
      if (event.type === 'result') return { record: JSON.parse(event.record) as ResultRecord, text: event.record };
      // Too large for the socket's reply: it is stored, and the store gives it at once.
      if (event.type === 'stored') return NO_SOCKET;
    }
  } catch (err) {
    if (stop.aborted) return undefined;
    out.log(`The WebSocket API did not answer (${(err as Error).message}): reading the results store instead.\n`);
  }
  return NO_SOCKET;
}

async function polledResult(target: OperatorTarget, id: string, timeoutMs: number, interrupted: AbortSignal) {
  if (interrupted.aborted) return undefined;
  const [ctx, { waitForStoredResult }] = await Promise.all([target.context(), import('../client/store.js')]);
  return waitForStoredResult({ dynamodb: ctx.clients.dynamodb, table: ctx.names.resultsTable }, id, { timeoutMs, signal: interrupted });
}
