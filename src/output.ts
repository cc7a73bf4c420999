import type { Ora } from 'ora';

export interface OutputFlags {
  json?: boolean;
}

/** Colours unless the user turned them off (NO_COLOR) or the terminal cannot show them. */
export const colourWanted = () => !process.env.NO_COLOR && process.env.TERM !== 'dumb';

/** Back to the start of the line, and erase it: a shorter progress line leaves nothing of the longer one. */
const CLEAR_LINE = '\r\x1b[K';

type Stream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
type InputStream = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/**
 * Everything a command says goes through here: human output on a terminal, JSON with --json;
 * progress always on stderr, data always on stdout; and the exit code it ends with. One is built
 * in main() and handed to each command, so a command never touches the process's streams itself.
 */
export class Output {
  json: boolean;
  readonly interactive: boolean;
  readonly color: boolean;
  /** Set by a command whose outcome is a failure it has already reported (exit 1). */
  exitCode: number | undefined;
  private spinner: Ora | undefined;
  /** Off a terminal: the step whose line is still open, to be ended by its outcome. */
  private openLine = false;

  constructor(
    flags: OutputFlags = {},
    readonly stdout: Stream = process.stdout,
    readonly stderr: Stream = process.stderr,
    readonly stdin: InputStream = process.stdin,
  ) {
    this.json = !!flags.json;
    this.interactive = !!stderr.isTTY && !process.env.CI;
    this.color = !!stderr.isTTY && colourWanted();
  }

  /** Takes the parsed flags (--json), once the command line is parsed. */
  configure(flags: OutputFlags) {
    this.json = !!flags.json;
  }

  /** Data, as it is: stdout. */
  data(text: string) {
    this.stdout.write(text);
  }

  /** Progress and logs, as they are: stderr. */
  log(text: string) {
    this.stderr.write(text);
  }

  /** The command failed in a way it has said (a request that ended in an error, say): exit 1. */
  fail() {
    this.exitCode = 1;
  }

  /** Runs one step behind a spinner on a terminal, or as one line of progress elsewhere. */
  async step<T>(title: string, run: () => Promise<T>): Promise<T> {
    const started = Date.now();
    if (this.interactive) {
      const { default: ora } = await import('ora');
      this.spinner = ora({ text: title, stream: this.stderr, color: this.color ? 'cyan' : false, isEnabled: true }).start();
    } else {
      this.stderr.write(`${title} ... `);
      this.openLine = true;
    }
    try {
      const result = await run();
      const took = `${((Date.now() - started) / 1000).toFixed(1)} s`;
      if (this.spinner) this.spinner.succeed(`${title} ${this.dim(`(${took})`)}`);
      else this.endLine(title, `done (${took})`);
      return result;
    } catch (err) {
      if (this.spinner) this.spinner.fail(title);
      else this.endLine(title, 'failed');
      throw err;
    } finally {
      this.spinner = undefined;
    }
  }

  /** One line a step: its outcome ends the step's line, or a line of its own when notes came between. */
  private endLine(title: string, outcome: string) {
    this.stderr.write(this.openLine ? `${outcome}\n` : `${title}: ${outcome}\n`);
    this.openLine = false;
  }

  /**
   * A progress line: on a terminal one line, kept up to date; elsewhere a line at most every
   * `everyMs`. `say` prints a line of its own above it; `end` closes it.
   */
  progressLine(everyMs: number) {
    let last = 0;
    return {
      show: (text: string) => {
        if (!this.interactive && Date.now() - last < everyMs) return;
        last = Date.now();
        this.stderr.write(this.interactive ? `${CLEAR_LINE}${text}` : `${text}\n`);
      },
      say: (text: string) => this.stderr.write(`${this.interactive ? CLEAR_LINE : ''}${text}\n`),
      end: () => {
        if (this.interactive) this.stderr.write('\n');
      },
    };
  }

  /** Progress worth seeing (a retry, a wait): beside the spinner, or as a line on stderr. */
  note(message: string) {
    if (this.spinner) {
      this.spinner.text = `${this.spinner.text.split(' — ')[0]} — ${message}`;
      return;
    }
    this.stderr.write(`${this.openLine ? '\n' : ''}  ${message}\n`);
    this.openLine = false;
  }

  warn(message: string) {
    this.stderr.write(`${this.paint('33', 'warning:')} ${message}\n`);
  }

  /** The command's result: JSON with --json, else the human text. */
  result(value: unknown, human: () => string) {
    this.stdout.write(this.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
  }

  paint(code: string, text: string) {
    return this.color ? `\u001b[${code}m${text}\u001b[0m` : text;
  }

  dim(text: string) {
    return this.paint('2', text);
  }

  bold(text: string) {
    return this.paint('1', text);
  }
}

/** Aligns columns with two spaces between them. */
export function table(rows: string[][], indent = '  '): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))));
  return rows
    .map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - visibleLength(cell)))).join('  '))
    .join('\n');
}

function visibleLength(text: string) {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

export function formatValue(value: unknown): string {
  if (value === undefined) return '(none)';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** A duration for people: "45 s", or "3 min 20 s". */
export function formatSeconds(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** "1 request", "3 requests": a count and its noun, which takes an s unless the count is one. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** 2026-12-03 09:12:05 UTC: an ISO timestamp (or epoch ms) for people, to the second. */
export function formatTimestamp(at: string | number): string {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? String(at) : `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
