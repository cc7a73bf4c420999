import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { Output } from '../output.js';
import { changeLiveMapping } from './mapping-change.js';
import { integerIn } from '../flag-values.js';
import { type GlobalArgs } from './options.js';

interface SetConcurrencyArgs extends GlobalArgs {
  concurrency: number;
}

export function builder(yargs: Argv) {
  return yargs
    .positional('concurrency', { type: 'string', describe: 'Most model calls in flight, 2 to 1000', coerce: integerIn('concurrency', 2, 1000, 'The concurrency') })
    .example('$0 set-concurrency 25', 'Allow 25 model calls at once, without a redeploy')
    .example('$0 set-concurrency 2 --name demo', 'Slow stack "demo" down to the minimum AWS allows');
}

export async function handler(argv: ArgumentsCamelCase<SetConcurrencyArgs>) {
  const out = new Output(argv);
  await changeLiveMapping(argv, out, { concurrency: argv.concurrency }, `Setting the maximum concurrency to ${argv.concurrency}`);
}

export const setConcurrencyCommand: CommandModule<GlobalArgs, SetConcurrencyArgs> = {
  command: 'set-concurrency <concurrency>',
  describe: 'Change how many model calls may be in flight, live (no redeploy)',
  builder: builder as unknown as CommandModule<GlobalArgs, SetConcurrencyArgs>['builder'],
  handler,
};
