import type { ArgumentsCamelCase, Argv } from 'yargs';
import { defineCommand } from './command.js';
import type { Output } from '../output.js';
import { duration, integerIn } from '../flag-values.js';
import { type GlobalArgs } from './options.js';
import { UsageError } from '../errors.js';
import { formatResult } from './stored-result.js';
import { interruptSignal, openTarget } from './session.js';

interface TailArgs extends GlobalArgs {
  keep?: boolean;
  count?: number;
  idle?: number;
  logs?: boolean;
}

function builder(yargs: Argv<GlobalArgs>) {
  return yargs
    // No defaults on these booleans: yargs counts a default as given when checking conflicts.
    .option('keep', { type: 'boolean', describe: 'Read without deleting: results return to other consumers' })
    .option('count', { type: 'string', requiresArg: true, describe: 'Stop after this many results', coerce: integerIn('count', 1, 1_000_000) })
    .option('idle', { type: 'string', requiresArg: true, describe: 'Stop after this long without a result (30s, 5m)', coerce: duration('idle') })
    .option('logs', { type: 'boolean', describe: 'Follow the worker\'s log lines instead of the results queue' })
    .conflicts('logs', 'keep')
    .example('$0 tail', 'Follow results as they arrive (Ctrl-C to stop)')
    .example('$0 tail --json --count 10 --idle 30s', 'Ten result records as JSON lines, for a script')
    .example('$0 tail --logs', 'The worker\'s per-request log lines');
}

async function run(argv: ArgumentsCamelCase<TailArgs>, out: Output) {
  if (argv.logs && argv.local) {
    const log = (await import('../local/lifecycle/state.js')).logPath(argv.name);
    throw new UsageError(`--logs follows the worker's CloudWatch log group, on AWS only. The local worker's log lines go to the output of "up --local", or, with --detach, to ${log}: tail -f ${log}`);
  }
  const target = await openTarget(argv);
  const ctx = await target.context();
  const signal = interruptSignal();
  let shown: number;
  if (argv.logs) {
    const { followLogGroup } = await import('../operate/logs.js');
    shown = await followLogGroup(ctx, { count: argv.count, idleMs: argv.idle, signal, onEvent: (message) => out.data(`${readableLogLine(message, out.json)}\n`) });
  } else {
    const queueUrl = await target.queueUrl('resultsQueue');
    out.log(`Following ${ctx.names.resultsQueue}${argv.keep ? ' (keeping results on the queue)' : ''}; Ctrl-C to stop.\n`);
    const { followResults } = await import('../client/results.js');
    shown = await followResults({ sqs: ctx.clients.sqs, queueUrl }, {
      keep: !!argv.keep, count: argv.count, idleMs: argv.idle, signal,
      onResult: (result, message) => {
        if (!result) out.log(`skipped a message that is not a result record: ${message.MessageId}\n`);
        else out.data(out.json ? `${JSON.stringify(result)}\n` : formatResult(out, result));
      },
    });
  }
  out.log(`${shown} ${argv.logs ? 'log lines' : 'results'} shown.\n`);
}

/** A worker log line for people, without its EMF directive (`_aws`); with --json, as CloudWatch stored it. */
export function readableLogLine(message: string, json: boolean): string {
  const line = message.trimEnd();
  if (json || !line.startsWith('{"_aws"')) return line;
  try {
    const { _aws, ...rest } = JSON.parse(line) as Record<string, unknown>;
    return JSON.stringify(rest);
  } catch {
    return line;
  }
}

export const tailCommand = defineCommand<TailArgs>({
  command: 'tail',
  describe: 'Follow results as they arrive (or the worker\'s logs with --logs)',
  builder,
  run,
});
