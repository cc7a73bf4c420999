import { LOCAL_ACCOUNT, REQUEUE_ATTRIBUTES, RESULT_ITEM, type ResourceNames } from '../../contract.js';
import { Journal, readJournal, type JournalOptions } from './journal.js';
import { ResultsStore } from '../services/results-store.js';
import type { StoredMessage } from '../services/sqs-message.js';
import { startSqsServer, type SqsServer } from '../services/sqs-dynamodb-server.js';
import { SqsService, type JournalRecord } from '../services/sqs-service.js';

export interface Recovered {
  requests: number;
  results: number;
  deadLetters: number;
  /** Requests whose result the journal already held: not answered a second time. */
  alreadyAnswered: number;
  /** Journal lines that could not be read (a write torn by the crash). */
  unreadable: number;
}

export interface JournaledAws {
  /** SQS and the results table (DynamoDB's JSON protocol) on one local endpoint. */
  sqs: SqsServer;
  store: ResultsStore;
  journal: Journal;
  /** Undefined when there was no journal to resume. */
  recovered?: Recovered;
}

type QueueNames = Pick<ResourceNames, 'requestsQueue' | 'resultsQueue' | 'deadLetterQueue' | 'resultsTable'>;

/** The request a requests-queue message stands for: re-queued copies carry the original id. */
function requestIdOf(message: StoredMessage): string {
  return message.attributes?.[REQUEUE_ATTRIBUTES.requestId]?.StringValue ?? message.id;
}

const ANSWERED = 'answered';

/** The requests a journal record shows answered: a result sent to the results queue, or the note that carries them through compaction. */
function answeredBy(record: JournalRecord, names: QueueNames): string[] {
  if (record.op === 'note' && record.kind === ANSWERED) return record.data as string[];
  if (record.op !== 'send' || record.q !== names.resultsQueue) return [];
  try {
    const id = (JSON.parse(record.m.body) as { id?: unknown }).id;
    return typeof id === 'string' ? [id] : [];
  } catch {
    return [];
  }
}

/**
 * The local AWS endpoint (SQS and the results table) with everything journaled: a restart after a
 * crash, `kill -9` or Ctrl-C finds the same messages with the same ids and receive counts, and the
 * same stored results. A request whose result was sent to the results queue is dropped rather
 * than answered twice; results sent since the last compaction are remembered in
 * the journal for as long as their request is still queued.
 */
export async function startJournaledAws(journalPath: string, names: QueueNames, options: JournalOptions & { sqsPort?: number } = {}): Promise<JournaledAws> {
  let journal: Journal | undefined;
  let answeredSinceCompaction = new Set<string>();
  /** Answered requests still queued at the last compaction: their note must survive the next one too. */
  let carried = new Set<string>();
  const sink = {
    write(record: JournalRecord, durable: boolean) {
      for (const id of answeredBy(record, names)) answeredSinceCompaction.add(id);
      return journal?.write(record, durable);
    },
  };
  let recovered: Recovered | undefined;
  const store = new ResultsStore(names.resultsTable, RESULT_ITEM.key, sink);
  const sqs = await startSqsServer({
    ...(options.sqsPort ? { preferredPort: options.sqsPort } : {}),
    journal: sink,
    dynamodb: store.actions(),
    prepare: async (service) => {
      recovered = await recover(service, store, journalPath, names);
    },
  });
  const snapshot = (): JournalRecord[] => {
    const stillQueued = new Set(sqs.service.queues.get(names.requestsQueue)?.stored().map(requestIdOf));
    const answered = [...carried, ...answeredSinceCompaction].filter((id) => stillQueued.has(id));
    carried = new Set(answered);
    answeredSinceCompaction = new Set();
    store.expire(RESULT_ITEM.expiresAt);
    return [
      ...sqs.service.snapshot(),
      ...store.all().map((item): JournalRecord => ({ op: 'item', table: names.resultsTable, item })),
      ...(answered.length ? [{ op: 'note' as const, kind: ANSWERED, data: answered }] : []),
    ];
  };
  try {
    journal = await Journal.start(journalPath, snapshot, options);
  } catch (err) {
    await sqs.close();
    throw err;
  }
  return { sqs, store, journal, ...(recovered ? { recovered } : {}) };
}

function dropAnswered(service: SqsService, names: QueueNames, answered: Set<string>): Omit<Recovered, 'unreadable'> {
  const requests = service.queues.get(names.requestsQueue);
  let alreadyAnswered = 0;
  for (const message of requests?.stored() ?? []) {
    if (!answered.has(requestIdOf(message))) continue;
    requests!.remove(message.id);
    alreadyAnswered++;
  }
  const count = (name: string) => service.queues.get(name)?.stored().length ?? 0;
  return { requests: count(names.requestsQueue), results: count(names.resultsQueue), deadLetters: count(names.deadLetterQueue), alreadyAnswered };
}

/** What a stopped stack's journal still holds, read without starting anything; undefined without a journal. */
export function journalContents(journalPath: string, names: QueueNames): Promise<Recovered | undefined> {
  return recover(new SqsService({ region: LOCAL_ACCOUNT.region, accountId: LOCAL_ACCOUNT.accountId, endpoint: () => '' }), new ResultsStore(names.resultsTable, RESULT_ITEM.key), journalPath, names);
}

/** Replays a journal into `service` and `store` and drops the requests it shows answered; undefined when there was none. */
async function recover(service: SqsService, store: ResultsStore, journalPath: string, names: QueueNames): Promise<Recovered | undefined> {
  const answered = new Set<string>();
  const replayed = await readJournal(journalPath, (record) => {
    service.apply(record);
    if (record.op === 'item' && record.table === names.resultsTable) store.restore(record.item);
    for (const id of answeredBy(record, names)) answered.add(id);
  });
  if (replayed.records + replayed.unreadable === 0) return undefined;
  // Only a result on the results queue answers its request: one stored but not yet published is
  // published when its request comes back (the worker finds it stored and calls no model).
  return { ...dropAnswered(service, names, answered), unreadable: replayed.unreadable };
}
