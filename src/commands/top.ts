import type { ArgumentsCamelCase, Argv } from 'yargs';
import { defineCommand } from './command.js';
import { UsageError, describeError } from '../errors.js';
import { colourWanted, type Output } from '../output.js';
import { pause } from '../client/pause.js';
import { duration } from '../flag-values.js';
import { type GlobalArgs } from './options.js';
import { sinceOption } from './metrics-format.js';
import { renderTop, type TopSnapshot } from './top-screen.js';

interface TopArgs extends GlobalArgs {
  interval?: number;
  since: number;
  once?: boolean;
}

const DEFAULT_INTERVAL_MS = { local: 2_000, aws: 5_000 };

function builder(yargs: Argv<GlobalArgs>) {
  return yargs
    .option('interval', {
      type: 'string', requiresArg: true, describe: 'Time between refreshes (default 2s locally, 5s on AWS; at least 1s)',
      coerce: (value: unknown) => {
        const ms = duration('interval')(value);
        if (ms !== undefined && ms < 1000) throw new UsageError(`--interval must be at least 1s (got ${String(value)})`);
        return ms;
      },
    })
    .option('since', { ...sinceOption, default: '15m', describe: 'The minutes the rates, percentiles and sparklines cover (1m to 24h or 1d)' })
    .option('once', { type: 'boolean', describe: 'Print one frame and exit (with --json: one snapshot)' })
    .example('$0 top', 'A live view of the stack: queues, rates, latency, tokens and errors; q quits')
    .example('$0 top --local --interval 1s', 'The local target, refreshed every second')
    .example('$0 top --json | jq .metrics.resultsPerMinute', 'One JSON snapshot per refresh, for scripts');
}

/** The full-screen view: the terminal's alternate screen, redrawn in place, restored however it ends. */
async function fullScreen(out: Output, next: () => Promise<TopSnapshot>, intervalMs: number, stopped: AbortSignal, stop: () => void) {
  const { default: ansi } = await import('ansi-escapes');
  const { stdout, stdin } = out;
  let last: TopSnapshot | undefined;
  let problem = '';
  const draw = () => {
    const height = stdout.rows || 24;
    const lines = last ? renderTop(last, { width: stdout.columns || 80, height: height - 1, color: colourWanted(), intervalMs, keys: true }) : ['Reading the stack...'];
    if (problem) lines.push(`${problem} (trying again)`.slice(0, stdout.columns || 80));
    stdout.write(ansi.cursorTo(0, 0) + lines.map((l) => l + ansi.eraseEndLine).join('\n') + ansi.eraseDown);
  };
  const restore = () => {
    stdout.off('resize', draw);
    if (stdin.isTTY) stdin.setRawMode?.(false);
    stdin.pause();
    stdout.write(ansi.cursorShow + ansi.exitAlternativeScreen);
  };
  stdout.write(ansi.enterAlternativeScreen + ansi.cursorHide);
  process.once('exit', restore);
  try {
    if (stdin.isTTY) stdin.setRawMode?.(true);
    // In raw mode Ctrl-C arrives as a byte, not as SIGINT.
    stdin.on('data', (key: Buffer) => {
      if (['q', 'Q', '\u0003'].includes(key.toString())) stop();
    });
    stdin.resume();
    stdout.on('resize', draw);
    draw();
    while (!stopped.aborted) {
      try {
        last = await next();
        problem = '';
      } catch (err) {
        problem = describeError(err);
      }
      draw();
      await pause(intervalMs, stopped);
    }
  } finally {
    process.off('exit', restore);
    restore();
  }
}

async function run(argv: ArgumentsCamelCase<TopArgs>, out: Output) {
  const intervalMs = argv.interval ?? DEFAULT_INTERVAL_MS[argv.local ? 'local' : 'aws'];
  const { openSnapshotSource } = await import('./top-source.js');
  const next = await openSnapshotSource(argv, argv.since);
  const controller = new AbortController();
  const stop = () => controller.abort();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, stop);

  if (out.stdout.isTTY && !argv.json && !argv.once) return fullScreen(out, next, intervalMs, controller.signal, stop);
  // Off a terminal (or with --json, or --once): a plain summary a refresh, data only on stdout.
  while (!controller.signal.aborted) {
    const snapshot = await next();
    if (argv.json) out.data(`${JSON.stringify(snapshot)}\n`);
    else out.data(`${renderTop(snapshot, { width: 200, height: 100, color: false, ...(argv.once ? {} : { intervalMs }) }).join('\n')}\n\n`);
    if (argv.once) break;
    await pause(intervalMs, controller.signal);
  }
}

export const topCommand = defineCommand<TopArgs>({
  command: 'top',
  describe: 'A live view of the pipeline: queue depths, results, latency, tokens and errors per minute',
  builder,
  run,
});
