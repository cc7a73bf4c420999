import type { MappingChange, MappingState } from '../operate/mapping.js';
import { resourceNames } from '../contract.js';
import type { Output } from '../output.js';
import { defineCommand } from './command.js';
import type { GlobalArgs } from './options.js';
import { openTarget } from './session.js';

/** Applies a change to the live mapping (set-concurrency, pause, resume) and prints old -> new. */
export async function changeLiveMapping(argv: GlobalArgs, out: Output, change: MappingChange, title: string) {
  const target = await openTarget(argv);
  const names = resourceNames(argv.name);
  const { before, after, note } = await out.step(title, () => target.changeMapping(change));
  const describe = (s: MappingState) => `${s.concurrency ?? '?'} at most${s.ceiling ? ` (autopilot, ceiling ${s.ceiling})` : ''}, ${s.state === 'Disabled' ? 'paused' : s.state}`;
  if (note) out.warn(`${note}.`);
  out.result({ stack: argv.name, before, after, ...(note ? { note } : {}) }, () => `${names.requestsQueue} -> ${names.workerFunction}: ${describe(before)} -> ${describe(after)}`);
}

/** pause and resume: the same command, disabling or enabling the mapping. */
export function toggleCommand(spec: { command: string; enabled: boolean; describe: string; example: string; title: string }) {
  return defineCommand<GlobalArgs>({
    command: spec.command,
    describe: spec.describe,
    builder: (yargs) => yargs.example(`$0 ${spec.command}`, spec.example),
    run: (argv, out) => changeLiveMapping(argv, out, { enabled: spec.enabled }, spec.title),
  });
}
