import type { ArgumentsCamelCase, Argv } from 'yargs';
import { defineCommand } from './command.js';
import { REQUEST_ID_PATTERN } from '../contract.js';
import { UsageError } from '../errors.js';
import type { Output } from '../output.js';
import { waitTimeout, type GlobalArgs } from './options.js';
import { openTarget } from './session.js';
import { formatResult, waitForResultOf } from './stored-result.js';

interface ResultArgs extends GlobalArgs {
  id: string;
  wait?: boolean;
  timeout: number;
}

function builder(yargs: Argv<GlobalArgs>) {
  return yargs
    .positional('id', { type: 'string', describe: 'The request id that send (or POST /invokeModel) answered with' })
    .option('wait', { type: 'boolean', describe: 'Wait until the result is there' })
    .option('timeout', { type: 'string', requiresArg: true, default: '5m', describe: 'How long --wait waits (30s, 5m, 1h)', coerce: waitTimeout })
    .example('$0 result 2c9de0d2-25c7-4397-99d4-5b9d4d70fcfe', 'The result of one request, or "pending"')
    .example('$0 result 2c9de0d2-25c7-4397-99d4-5b9d4d70fcfe --wait --json', 'Wait for it, then print the stored record as JSON');
}

async function run(argv: ArgumentsCamelCase<ResultArgs>, out: Output) {
  const { readResult } = await import('../client/store.js');
  if (!REQUEST_ID_PATTERN.test(argv.id)) throw new UsageError(`"${argv.id}" is not a request id: ids are UUIDs such as 2c9de0d2-25c7-4397-99d4-5b9d4d70fcfe, as send answers.`);
  const target = await openTarget(argv, true);
  const ctx = await target.context();
  const found = argv.wait ? await waitForResultOf(argv, target, argv.id, argv.timeout, out) : await readResult({ dynamodb: ctx.clients.dynamodb, table: ctx.names.resultsTable }, argv.id);
  if (!found) {
    out.result({ id: argv.id, status: 'pending' }, () => `${argv.id}: pending (no result yet; results stay readable for the stack's --results-ttl after they arrive)`);
    return;
  }
  // The stored record byte for byte with --json, as GET /results/{id} answers it.
  if (out.json) out.data(`${found.text}\n`);
  else out.data(formatResult(out, found.record));
  // As send --wait: a request that ended in an error exits 1.
  if (found.record.status !== 'ok') out.fail();
}

export const resultCommand = defineCommand<ResultArgs>({
  command: 'result <id>',
  describe: 'Print the result of one request from the results store (or pending); --wait waits for it',
  builder,
  run,
});
