import { BatchGetItemCommand } from '@aws-sdk/client-dynamodb';
import { isExpired, RESULT_ITEM, type ResultRecord } from '../contract.js';
import { CliError, describeError, errorMessage, isThrottling, isTransient } from '../errors.js';
import type { ApiTarget } from './api.js';
import { badLineRecord, BatchJournal } from './batch-journal.js';
import { sendFile } from './bulk.js';
import { pause as sleep } from './pause.js';
import type { ResultsStoreSource } from './store.js';

/** BatchGetItem reads at most 100 keys a call; a round reads this many calls at once. */
const KEYS_PER_CALL = 100;
const CALLS_PER_ROUND = 8;
/**
 * Rounds start at least a second apart, and further apart (doubling to 5 s) while all is pending or
 * DynamoDB holds reads back: eventually consistent reads of at most 800 keys a second cost a new
 * on-demand table (about 12,000 reads a second at first) little, and leave its capacity to the workers.
 */
const ROUND_MS = 1_000;
const MOST_PAUSE_MS = 5_000;

export interface BatchOptions {
  file: string;
  out: string;
  parallel: number;
  retryForMs: number;
  timeoutMs: number;
  resume: boolean;
  signal?: AbortSignal;
  /** What the errors name as unreachable: "the local stack demo", "stack demo in us-east-1". */
  target: string;
  /** A line of the file that is not a request (it gets an InvalidLine output line). */
  onBadLine?: (line: number, reason: string) => void;
  /** A line that could not be sent within --retry-for (resume sends it again). */
  onNotSent?: (line: number, reason: string) => void;
  /** Waits between rounds of reads (a test's clock). */
  pause?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface BatchProgress {
  sent: number;
  ok: number;
  error: number;
  /** Sent, no result yet. */
  pending: number;
  badLines: number;
  notSent: number;
  tokensIn: number;
  tokensOut: number;
  /** The file is read to its end and every line has been sent (or refused). */
  sendingDone: boolean;
  elapsedMs: number;
  /** Of this run, for the rate: results written since it started. */
  collected: number;
}

export interface BatchOutcome extends BatchProgress {
  timedOut: boolean;
  interrupted: boolean;
}

/**
 * One round of reads: the stored records of `ids`, 100 keys a BatchGetItem call, the calls side by
 * side, and how many keys DynamoDB left unread (UnprocessedKeys, or a call it throttled): those
 * stay pending for a later round.
 */
async function readResults(store: ResultsStoreSource, ids: string[], signal?: AbortSignal) {
  const chunks = Array.from({ length: Math.ceil(ids.length / KEYS_PER_CALL) }, (_, i) => ids.slice(i * KEYS_PER_CALL, (i + 1) * KEYS_PER_CALL));
  const answers = await Promise.all(chunks.map(async (chunk) => {
    try {
      const answer = await store.dynamodb.send(new BatchGetItemCommand({ RequestItems: { [store.table]: {
        Keys: chunk.map((id) => ({ [RESULT_ITEM.key]: { S: id } })),
        ProjectionExpression: '#id, #record, #expires',
        ExpressionAttributeNames: { '#id': RESULT_ITEM.key, '#record': RESULT_ITEM.record, '#expires': RESULT_ITEM.expiresAt },
        // Half the price of a strong read; a record not seen yet is read on a later round.
        ConsistentRead: false,
      } } }), { abortSignal: signal });
      return { items: answer.Responses?.[store.table] ?? [], unread: answer.UnprocessedKeys?.[store.table]?.Keys?.length ?? 0 };
    } catch (err) {
      if (signal?.aborted) return { items: [], unread: 0 };
      if (isThrottling(err)) return { items: [], unread: chunk.length };
      throw err;
    }
  }));
  return { found: answers.flatMap((a) => a.items), unread: answers.reduce((sum, a) => sum + a.unread, 0) };
}

/**
 * `batch`: sends every line of a file (as `send --file` does) while collecting every result from the
 * results store in bulk (BatchGetItem, 100 ids a call, a round a second at most), and
 * writes one output line per input line. The journal makes a rerun with `resume` send only what was
 * never sent and collect the rest.
 */
export async function runBatch(api: ApiTarget, store: ResultsStoreSource, options: BatchOptions, onProgress: (p: BatchProgress) => void): Promise<BatchOutcome> {
  const journal = new BatchJournal(`${options.out}.journal`, options.out, options.resume);
  const started = Date.now();
  const pending = new Map<string, number>();
  for (const [line, id] of journal.sent) if (!journal.written.has(line)) pending.set(id, line);
  const counts = { sent: journal.sent.size, ...journal.earlier, notSent: 0, collected: 0 };
  let sendingDone = false;
  const progress = (): BatchProgress => ({ ...counts, pending: pending.size, sendingDone, elapsedMs: Date.now() - started });
  const deadline = started + options.timeoutMs;
  const stopped = () => options.signal?.aborted || Date.now() >= deadline;

  const record = (line: number, text: string) => {
    journal.write(line, text);
    counts.collected++;
    const result = JSON.parse(text) as ResultRecord;
    if (result.status === 'ok') counts.ok++;
    else counts.error++;
    counts.tokensIn += result.usage?.inputTokens ?? 0;
    counts.tokensOut += result.usage?.outputTokens ?? 0;
  };

  const pause = options.pause ?? sleep;
  const collector = (async () => {
    let wait = ROUND_MS;
    /** Since when the results store has not answered: a restarting local stack, a network blip; given up after --retry-for. */
    let failingSince: number | undefined;
    while (!stopped() && (!sendingDone || pending.size)) {
      const roundStarted = Date.now();
      const ids = [...pending.keys()].slice(0, KEYS_PER_CALL * CALLS_PER_ROUND);
      let round;
      try {
        round = await readResults(store, ids, options.signal);
        failingSince = undefined;
      } catch (err) {
        failingSince ??= Date.now();
        const left = `what was collected is in ${options.out}, and --resume collects the rest`;
        if (!isTransient(err)) throw new CliError(`Reading results from ${options.target} failed: ${describeError(err)} Meanwhile, ${left}.`);
        if (Date.now() - failingSince > options.retryForMs) throw new CliError(`${options.target} is not answering (its results store: ${errorMessage(err).split('\n')[0]}): ${left}.`);
        wait = Math.min(wait * 2, MOST_PAUSE_MS);
        await pause(Math.min(wait, Math.max(0, deadline - Date.now())), options.signal);
        continue;
      }
      let collected = 0;
      for (const item of round.found) {
        const id = item[RESULT_ITEM.key]?.S;
        const line = id === undefined ? undefined : pending.get(id);
        const text = item[RESULT_ITEM.record]?.S;
        // A request claimed by a worker has an item but no record yet: pending. An expired one is gone.
        if (line === undefined || text === undefined || isExpired(item[RESULT_ITEM.expiresAt]?.N)) continue;
        pending.delete(id!);
        record(line, text);
        collected++;
      }
      if (sendingDone && !pending.size) break;
      // Held back by DynamoDB, or nothing new once all is sent: back off. Else: the next round a second after this one began.
      const idle = !collected && sendingDone;
      wait = round.unread || idle ? Math.min(wait * 2, MOST_PAUSE_MS) : ROUND_MS;
      await pause(Math.min(Math.max(0, roundStarted + wait - Date.now()), Math.max(0, deadline - Date.now())), options.signal);
    }
  })();

  // Awaited after sending: until then a failure (a permission missing, say) must not count as unhandled.
  collector.catch(() => undefined);
  const ticker = setInterval(() => onProgress(progress()), 500);
  try {
    await sendFile(api, options.file, { parallel: options.parallel, retryForMs: options.retryForMs, signal: options.signal, alreadyDone: (line) => journal.handled(line), earlierId: (line) => journal.idOf(line) }, {
      sending: (line, id) => journal.sending(line, id),
      sent: (line, id) => {
        journal.recordSent(line, id);
        counts.sent++;
        pending.set(id, line);
      },
      skipped: (line, reason) => {
        counts.badLines++;
        journal.write(line, badLineRecord(reason));
        options.onBadLine?.(line, reason);
      },
      failed: (line, reason) => {
        counts.notSent++;
        options.onNotSent?.(line, reason);
      },
      progress: () => undefined,
    });
    sendingDone = !options.signal?.aborted;
    if (!sendingDone) pending.clear();
    await collector;
  } finally {
    clearInterval(ticker);
    journal.close(!options.signal?.aborted && !counts.notSent && !pending.size && sendingDone);
  }
  const done = progress();
  onProgress(done);
  return { ...done, timedOut: Date.now() >= deadline && done.pending > 0, interrupted: !!options.signal?.aborted };
}
