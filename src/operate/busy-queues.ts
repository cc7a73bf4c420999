import { CliError } from '../errors.js';
import { deadLetterQueue, queueDepth, requestsQueue, resultsQueue, type QueueLive } from '../provision/queue.js';
import type { Observed } from '../provision/engine.js';
import type { Ctx, Resource } from '../provision/types.js';

export interface QueueReport {
  name: string;
  visible: number;
  inFlight: number;
  delayed: number;
}

/** Message counts of the stack's own queues. */
export function queueReports(ctx: Ctx, observed: Observed[]): QueueReport[] {
  const queues = new Set<Resource<any>>([requestsQueue, deadLetterQueue, resultsQueue]);
  return observed
    .filter((o) => queues.has(o.resource) && o.live && o.owned)
    .map((o) => ({ name: o.resource.name(ctx), ...queueDepth((o.live as QueueLive).attributes) }));
}

const held = (q: QueueReport) => q.visible + q.inFlight + q.delayed;

/** How many messages the named queue holds, in every state. */
export function messagesIn(reports: QueueReport[], queue: string): number {
  return reports.filter((q) => q.name === queue).reduce((sum, q) => sum + held(q), 0);
}

/**
 * Refuses to delete queues while they hold work that would be lost: requests not yet answered and
 * dead letters. Unread results are answers already given and stored, so they do not hold it back:
 * the command says how many it deletes.
 */
export function refuseBusyQueues(reports: QueueReport[], resultsQueue: string, consequence: string) {
  const busy = reports.filter((q) => q.name !== resultsQueue && held(q) > 0);
  if (!busy.length) return;
  const counts = busy.map((q) => `${q.name}: ${q.visible} waiting, ${q.inFlight} in flight, ${q.delayed} delayed`).join('; ');
  throw new CliError(`Queues still hold unprocessed work (${counts}). Let it finish (redrive the DLQ first if you want its requests answered), or pass --force to ${consequence}.`);
}
