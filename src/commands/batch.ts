import type { ArgumentsCamelCase, Argv } from 'yargs';
import { defineCommand } from './command.js';
import { CliError, InterruptedError, UsageError } from '../errors.js';
import { formatSeconds, plural, type Output } from '../output.js';
import { parsePrice, type Price } from '../governor/budget.js';
import { badLineSaid, listDiscountJobs, runDiscountBatch } from './batch-discount.js';
import { duration, integerIn } from '../flag-values.js';
import { checkReadable, waitTimeout, type GlobalArgs } from './options.js';
import { interruptSignal, openTarget } from './session.js';

interface BatchArgs extends GlobalArgs {
  file?: string;
  out?: string;
  parallel: number;
  timeout: number;
  retryFor: number;
  resume: boolean;
  discount: boolean;
  price?: Price;
  status: boolean;
  skipModelCheck: boolean;
}

function builder(yargs: Argv<GlobalArgs>) {
  return yargs
    .positional('file', { type: 'string', describe: 'One request a line: a JSON request object, or a prompt (as send --file)' })
    .option('out', { type: 'string', requiresArg: true, describe: 'Where to write one JSON line per input line: {"line": n, "id": ..., ...result}' })
    .option('parallel', { type: 'string', requiresArg: true, default: 32, describe: 'Requests in flight while sending', coerce: integerIn('parallel', 1, 256) })
    .option('timeout', { type: 'string', requiresArg: true, default: '1h', describe: 'How long the run may take; what is still pending then is collected by --resume', coerce: waitTimeout })
    .option('retry-for', { type: 'string', requiresArg: true, default: '1h', describe: 'How long a line is retried while the API throttles (429) or fails (5xx)', coerce: duration('retry-for') })
    .option('resume', { type: 'boolean', default: false, describe: 'Continue an interrupted run: send only the lines never sent, collect the rest' })
    .option('discount', { type: 'boolean', default: false, describe: 'Through Bedrock batch inference, at about half the token price: answers within hours (needs up --discount; at least 100 lines)' })
    .option('price', { type: 'string', requiresArg: true, describe: 'With --discount: the model\'s on-demand dollars per million tokens (in=3,out=15), for the cost line', coerce: priceFlag })
    .option('status', { type: 'boolean', default: false, describe: 'With --discount: list the stack\'s batch inference jobs that have not ended (no file)' })
    .option('skip-model-check', { type: 'boolean', default: false, describe: 'With --discount: plan by Bedrock\'s documented quotas without reading the model\'s in Service Quotas; Bedrock decides on the model at the first job' })
    .example('$0 batch prompts.jsonl --out answers.jsonl', 'Send every line, wait for every answer, write them all')
    .example('$0 batch prompts.jsonl --out answers.jsonl --resume', 'After Ctrl-C or a crash: no line is sent twice, none is lost')
    .example('$0 batch prompts.jsonl --out answers.jsonl --discount', 'The same output, from Bedrock batch inference jobs at the batch price')
    .example('$0 batch --discount --status', 'The stack\'s batch inference jobs still running');
}

function priceFlag(value: unknown): Price | undefined {
  if (value === undefined) return undefined;
  const price = parsePrice(String(value));
  if (typeof price === 'string') throw new UsageError(price);
  return price;
}

/** --out names a file in a directory that exists: found before anything is sent. */
async function checkWritableDirectory(path: string) {
  const { stat } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const directory = dirname(path);
  const info = await stat(directory).catch(() => undefined);
  if (!info?.isDirectory()) throw new UsageError(`--out ${path}: the directory ${directory} does not exist; create it first.`);
}

async function run(argv: ArgumentsCamelCase<BatchArgs>, out: Output) {
  if (argv.status) {
    if (!argv.discount || argv.file) throw new UsageError('--status goes with --discount and no file: "bedrock-queue batch --discount --status".');
    return listDiscountJobs(argv.name, await openTarget(argv), out);
  }
  if (!argv.file) throw new UsageError('Name the file of requests: "bedrock-queue batch FILE --out RESULTS.jsonl".');
  if (!argv.out) throw new UsageError('Name the results file with --out.');
  await checkReadable(argv.file, 'the file');
  await checkWritableDirectory(argv.out);
  const withFiles = { ...argv, file: argv.file, out: argv.out };
  if (argv.discount) return runDiscountBatch(withFiles, await openTarget(argv), out);
  if (argv.price) throw new UsageError('--price goes with --discount, for its cost line.');
  if (argv.skipModelCheck) throw new UsageError('--skip-model-check goes with --discount: the real-time route reads no batch quota.');
  const target = await openTarget(argv, true);
  const targetName = target.kind === 'local' ? `the local stack ${argv.name}` : `stack ${argv.name}`;
  let notSentSaid = 0;
  const [api, ctx, { runBatch }] = await Promise.all([target.api(), target.context(), import('../client/batch.js')]);
  // Progress: on a terminal one line kept up to date, elsewhere a line every 5 s.
  const progress = out.progressLine(5_000);
  const outcome = await runBatch(api, { dynamodb: ctx.clients.dynamodb, table: ctx.names.resultsTable }, {
    file: argv.file, out: argv.out, parallel: argv.parallel, retryForMs: argv.retryFor, timeoutMs: argv.timeout, resume: argv.resume, signal: interruptSignal(), target: targetName,
    onBadLine: (line, reason) => progress.say(badLineSaid(line, reason)),
    // The first few, then a count: a stack that stopped answering fails every line the same way.
    onNotSent: (line, reason) => {
      if (++notSentSaid <= 3) progress.say(`line ${line} not sent to ${targetName}: ${reason}`);
    },
  }, (p) => {
    const rate = p.collected / Math.max(0.001, p.elapsedMs / 1000);
    const eta = p.sendingDone && rate > 0 && p.pending ? `, about ${formatSeconds((p.pending / rate) * 1000)} left` : '';
    const text = `${p.sent} sent, ${p.ok} ok, ${p.error} error, ${p.pending} pending (${rate.toFixed(0)}/s${eta}); tokens ${p.tokensIn} in, ${p.tokensOut} out`;
    progress.show(text);
  });
  progress.end();
  const resume = `"bedrock-queue batch ${argv.file} --out ${argv.out} --resume"`;
  const summary = `${outcome.ok} ok, ${outcome.error} error, ${outcome.badLines} bad lines, ${outcome.notSent} not sent, ${outcome.pending} pending; tokens ${outcome.tokensIn} in, ${outcome.tokensOut} out; results in ${argv.out}.`;
  out.result({ out: argv.out, ...outcome }, () => `Batch: ${summary}`);
  if (outcome.interrupted) throw new InterruptedError(`Interrupted: ${plural(outcome.pending, 'result')} not collected yet. Continue with ${resume}.`);
  if (outcome.timedOut) throw new CliError(`${plural(outcome.pending, 'result')} still pending after ${formatSeconds(argv.timeout)}. Collect them later with ${resume}.`);
  if (outcome.notSent) throw new CliError(`${plural(outcome.notSent, 'line')} could not be sent to ${targetName} within --retry-for (${formatSeconds(argv.retryFor)}); ${resume} sends them again.`);
  if (outcome.error || outcome.badLines) out.fail();
}

export const batchCommand = defineCommand<BatchArgs>({
  command: 'batch [file]',
  describe: 'Send a file of prompts and write a file of answers, one line each (resumable)',
  builder,
  run,
});
