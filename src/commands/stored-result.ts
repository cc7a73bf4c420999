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

/**
 * Waits for a request's record in the results store, reading only its own item: any number of
 * waiters side by side. Says how to pick it up later when time runs out or Ctrl-C stops the wait.
 */
export async function waitForResultOf(argv: GlobalArgs, target: OperatorTarget, id: string, timeoutMs: number) {
  const [ctx, { waitForStoredResult }] = await Promise.all([target.context(), import('../client/store.js')]);
  const interrupted = interruptSignal();
  const result = await waitForStoredResult({ dynamodb: ctx.clients.dynamodb, table: ctx.names.resultsTable }, id, { timeoutMs, signal: interrupted });
  const later = `"bedrock-queue result ${id} --name ${argv.name}${argv.local ? ' --local' : ''}"`;
  if (interrupted.aborted) throw new InterruptedError(`Interrupted: stopped waiting; the request ${id} is still queued. Read its result later with ${later}.`);
  if (!result) throw new CliError(`No result for ${id} after ${formatSeconds(timeoutMs)}: the request is still queued. Read its result later with ${later}.`);
  return result;
}
