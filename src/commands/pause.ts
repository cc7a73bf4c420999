import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { Output } from '../output.js';
import { changeLiveMapping } from './mapping-change.js';
import type { GlobalArgs } from './options.js';

export function builder(yargs: Argv) {
  return yargs.example('$0 pause', 'Stop calling the model; requests keep queuing until resume');
}

export async function handler(argv: ArgumentsCamelCase<GlobalArgs>) {
  await changeLiveMapping(argv, new Output(argv), { enabled: false }, 'Pausing the worker');
}

export const pauseCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'pause',
  describe: 'Stop consuming requests (they keep queuing) until resume',
  builder: builder as unknown as CommandModule<GlobalArgs, GlobalArgs>['builder'],
  handler,
};
