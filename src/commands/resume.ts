import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { Output } from '../output.js';
import { changeLiveMapping } from './mapping-change.js';
import type { GlobalArgs } from './options.js';

export function builder(yargs: Argv) {
  return yargs.example('$0 resume', 'Start consuming queued requests again');
}

export async function handler(argv: ArgumentsCamelCase<GlobalArgs>) {
  await changeLiveMapping(argv, new Output(argv), { enabled: true }, 'Resuming the worker');
}

export const resumeCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'resume',
  describe: 'Start consuming requests again after pause',
  builder: builder as unknown as CommandModule<GlobalArgs, GlobalArgs>['builder'],
  handler,
};
