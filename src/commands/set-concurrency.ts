import type { ArgumentsCamelCase, Argv } from 'yargs';
import { defineCommand } from './command.js';
import type { Output } from '../output.js';
import { changeLiveMapping } from './mapping-change.js';
import { integerIn } from '../flag-values.js';
import { type GlobalArgs } from './options.js';

interface SetConcurrencyArgs extends GlobalArgs {
  concurrency: number;
}

function builder(yargs: Argv<GlobalArgs>) {
  return yargs
    .positional('concurrency', { type: 'string', describe: 'Most model calls in flight, 2 to 1000', coerce: integerIn('concurrency', 2, 1000, 'The concurrency') })
    .example('$0 set-concurrency 25', 'Allow 25 model calls at once, without a redeploy')
    .example('$0 set-concurrency 2 --name demo', 'Slow stack "demo" down to the minimum AWS allows');
}

async function run(argv: ArgumentsCamelCase<SetConcurrencyArgs>, out: Output) {
  await changeLiveMapping(argv, out, { concurrency: argv.concurrency }, `Setting the maximum concurrency to ${argv.concurrency}`);
}

export const setConcurrencyCommand = defineCommand<SetConcurrencyArgs>({
  command: 'set-concurrency <concurrency>',
  describe: 'Change how many model calls may be in flight, live (no redeploy)',
  builder,
  run,
});
