import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { MappingChange, MappingState } from '../provision/event-source-mapping.js';
import { resourceNames } from '../contract.js';
import { Output } from '../output.js';
import type { GlobalArgs } from './options.js';
import { openTarget } from './session.js';

/** Applies a change to the live mapping (set-concurrency, pause, resume) and prints old -> new. */
export async function changeLiveMapping(argv: GlobalArgs, out: Output, change: MappingChange, title: string) {
  const target = await openTarget(argv);
  const names = resourceNames(argv.name);
  const { before, after } = await out.step(title, () => target.changeMapping(change));
  const describe = (s: MappingState) => `${s.concurrency ?? '?'} at most, ${s.state === 'Disabled' ? 'paused' : s.state}`;
  out.result({ stack: argv.name, before, after }, () => `${names.requestsQueue} -> ${names.workerFunction}: ${describe(before)} -> ${describe(after)}`);
}

/** pause and resume: the same command, disabling or enabling the mapping. */
export function toggleCommand(spec: { command: string; enabled: boolean; describe: string; example: string; title: string }): CommandModule<GlobalArgs, GlobalArgs> {
  return {
    command: spec.command,
    describe: spec.describe,
    builder: ((yargs: Argv) => yargs.example(`$0 ${spec.command}`, spec.example)) as unknown as CommandModule<GlobalArgs, GlobalArgs>['builder'],
    handler: (argv: ArgumentsCamelCase<GlobalArgs>) => changeLiveMapping(argv, new Output(argv), { enabled: spec.enabled }, spec.title),
  };
}
