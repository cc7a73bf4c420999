import { closeSync, existsSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { CliError } from '../errors.js';

/** A line sent (its id confirmed by the API), or about to be: a line's id is chosen and written before its first send. */
type Entry = { line: number; id: string; sending?: true };
type Written = { line: number; status?: string; error?: { code?: string }; usage?: { inputTokens?: number; outputTokens?: number } };

const isLineEntry = (entry: object): entry is Entry => typeof (entry as Entry).line === 'number' && typeof (entry as Entry).id === 'string';

/** The error code of an output line for a line of the file that is not a request. */
export const BAD_LINE = 'InvalidLine';

/** The output record of such a line (written with its line number, as every output line is). */
export const badLineRecord = (reason: string) => JSON.stringify({ status: 'error', error: { code: BAD_LINE, message: reason } });

/** Lines of a JSON-lines file, the last one skipped when a crash cut it short. */
function jsonLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').flatMap((text) => {
    try {
      return text ? [JSON.parse(text) as T] : [];
    } catch {
      return [];
    }
  });
}

/**
 * What `batch` has done, kept beside its output so that `--resume` after Ctrl-C, a crash or
 * `kill -9` sends only the lines never sent and collects the rest. The journal holds the request id
 * of every line, written before its first send and again once the API took it: a line whose send
 * was cut off goes again with the same id, which the pipeline answers once (README, "Idempotency").
 * The output holds every line whose result was written. Both are appended with a write straight to
 * the file, which a killed process cannot lose.
 */
export class BatchJournal {
  /** Request ids of lines sent, by line. */
  readonly sent = new Map<number, string>();
  /** Lines whose send started but was never confirmed, with the id they were sent with: they go again with it. */
  readonly interrupted = new Map<number, string>();
  /** Lines with a result (or a bad-line record) in the output. */
  readonly written = new Set<number>();
  /** Entries that are not about one line: the discount route's jobs (`batch --discount`), in order. */
  readonly notes: Record<string, unknown>[] = [];
  /** What the output held already: counted in the summary of the run that resumes it. */
  readonly earlier = { ok: 0, error: 0, badLines: 0, tokensIn: 0, tokensOut: 0 };
  private readonly journalFd: number;
  private readonly outFd: number;

  constructor(readonly journalPath: string, readonly outPath: string, resume: boolean) {
    const exists = existsSync(journalPath) || existsSync(outPath);
    if (exists && !resume) throw new CliError(`${existsSync(journalPath) ? journalPath : outPath} is there from an earlier run: pass --resume to continue it, or remove it (and ${outPath}) to start over.`);
    if (resume && !existsSync(journalPath)) throw new CliError(`Nothing to resume: there is no ${journalPath} beside ${outPath}.`);
    for (const entry of jsonLines<Entry | Record<string, unknown>>(journalPath)) {
      if (!isLineEntry(entry)) this.notes.push(entry);
      else if (!entry.sending) {
        this.sent.set(entry.line, entry.id);
        this.interrupted.delete(entry.line);
      } else if (!this.sent.has(entry.line)) this.interrupted.set(entry.line, entry.id);
    }
    for (const written of jsonLines<Written>(outPath)) {
      this.written.add(written.line);
      if (written.error?.code === BAD_LINE) this.earlier.badLines++;
      else if (written.status === 'ok') this.earlier.ok++;
      else this.earlier.error++;
      this.earlier.tokensIn += written.usage?.inputTokens ?? 0;
      this.earlier.tokensOut += written.usage?.outputTokens ?? 0;
    }
    this.journalFd = openSync(journalPath, 'a', 0o600);
    this.outFd = openSync(outPath, 'a', 0o600);
  }

  /** Lines that need nothing more from the sender: sent, or already in the output. */
  handled(line: number): boolean {
    return this.sent.has(line) || this.written.has(line);
  }

  /** The id a line was sent with before an interruption: it must go again with the same one. */
  idOf(line: number): string | undefined {
    return this.interrupted.get(line);
  }

  sending(line: number, id: string) {
    writeSync(this.journalFd, `${JSON.stringify({ line, id, sending: true })}\n`);
  }

  recordSent(line: number, id: string) {
    this.sent.set(line, id);
    this.interrupted.delete(line);
    writeSync(this.journalFd, `${JSON.stringify({ line, id })}\n`);
  }

  /** Appends an entry that is not about one line. */
  note(entry: Record<string, unknown>) {
    this.notes.push(entry);
    writeSync(this.journalFd, `${JSON.stringify(entry)}\n`);
  }

  /** Appends one output line: `{"line": n, ...}`. */
  write(line: number, record: string) {
    this.written.add(line);
    writeSync(this.outFd, `{"line":${line},${record.slice(1)}\n`);
  }

  /** On disk for good (a power cut too), then closed; a run that left nothing to resume removes the journal. */
  close(complete: boolean) {
    for (const fd of [this.journalFd, this.outFd]) {
      fsyncSync(fd);
      closeSync(fd);
    }
    if (complete) rmSync(this.journalPath, { force: true });
  }
}
