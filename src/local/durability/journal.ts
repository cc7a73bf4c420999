import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { JournalRecord, JournalSink } from '../services/sqs-service.js';

/** Past this many bytes appended since the last compaction, the journal is rewritten from the live state. */
export const COMPACT_AFTER_BYTES = 64 * 1024 * 1024;

/** What the journal does with the file it appends to: write, then make it durable, then close. */
export type AppendFile = Pick<FileHandle, 'write' | 'datasync' | 'close'>;

export interface JournalOptions {
  compactAfterBytes?: number;
  /** Opens the journal for appending (tests pass a file whose sync they control). */
  openAppend?: (path: string) => Promise<AppendFile>;
}

const openAppendFile = (path: string): Promise<AppendFile> => open(path, 'a', 0o600);

export interface Replayed {
  records: number;
  /** Lines that could not be read: a torn last write after a crash, or damage. */
  unreadable: number;
}

/** Reads a journal line by line; a missing file is an empty journal. */
export async function readJournal(path: string, apply: (record: JournalRecord) => void): Promise<Replayed> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: 0, unreadable: 0 };
    throw err;
  }
  let records = 0;
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    let record: JournalRecord;
    try {
      record = JSON.parse(line) as JournalRecord;
    } catch {
      unreadable++;
      continue;
    }
    apply(record);
    records++;
  }
  return { records, unreadable };
}

async function syncDirectory(path: string) {
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * A write-ahead journal with group commit: records written in the same turn of the event loop (and
 * while a write is on its way to disk) go out in one write and one fdatasync, so a hundred
 * concurrent SendMessage calls cost one disk flush, not a hundred. A durable write resolves only
 * once its record is on disk: the local API answers 202 after that, never before.
 */
export class Journal implements JournalSink {
  private lines: string[] = [];
  private waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private bytesSinceCompaction = 0;
  private failed: Error | undefined;

  private constructor(private readonly path: string, private handle: AppendFile, private readonly snapshot: () => JournalRecord[],
    private readonly compactAfterBytes: number, private readonly openAppend: (path: string) => Promise<AppendFile>) {}

  /** Rewrites the journal as `snapshot()` (atomically) and opens it for appending. */
  static async start(path: string, snapshot: () => JournalRecord[], options: JournalOptions = {}): Promise<Journal> {
    const openAppend = options.openAppend ?? openAppendFile;
    await Journal.rewrite(path, snapshot());
    return new Journal(path, await openAppend(path), snapshot, options.compactAfterBytes ?? COMPACT_AFTER_BYTES, openAppend);
  }

  private static async rewrite(path: string, records: JournalRecord[]) {
    const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    await syncDirectory(path);
  }

  write(record: JournalRecord, durable: boolean): Promise<void> | undefined {
    if (this.failed) return durable ? Promise.reject(this.failed) : undefined;
    this.lines.push(`${JSON.stringify(record)}\n`);
    const written = durable ? new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject })) : undefined;
    this.flushing ??= this.flushAll();
    return written;
  }

  private async flushAll() {
    await new Promise((resolve) => setImmediate(resolve));
    while (this.lines.length) {
      const text = this.lines.join('');
      const waiters = this.waiters;
      this.lines = [];
      this.waiters = [];
      try {
        await this.handle.write(text);
        await this.handle.datasync();
        this.bytesSinceCompaction += Buffer.byteLength(text);
        if (this.bytesSinceCompaction > this.compactAfterBytes) await this.compact();
        for (const w of waiters) w.resolve();
      } catch (err) {
        // A journal that cannot be written accepts nothing more: refusing is better than answering 202 for what a crash would lose.
        this.failed = new Error(`the journal ${this.path} cannot be written: ${(err as Error).message}`);
        for (const w of [...waiters, ...this.waiters]) w.reject(this.failed);
        this.waiters = [];
        this.lines = [];
      }
    }
    this.flushing = undefined;
  }

  /** The live state replaces the history; records queued meanwhile are in that state already. */
  private async compact() {
    const records = this.snapshot();
    const waiting = this.waiters;
    this.lines = [];
    this.waiters = [];
    await this.handle.close();
    await Journal.rewrite(this.path, records);
    this.handle = await this.openAppend(this.path);
    this.bytesSinceCompaction = 0;
    for (const w of waiting) w.resolve();
  }

  /** Writes what is pending and closes the file. */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.handle.close();
  }

  /** Closes and deletes the journal: nothing is left to recover. */
  async remove(): Promise<void> {
    await this.close();
    await rm(this.path, { force: true });
  }
}
