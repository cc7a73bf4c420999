import type { MappingChange, MappingState } from '../provision/event-source-mapping.js';
import type { Output } from '../output.js';
import type { GlobalArgs } from './options.js';
import { openTarget } from './session.js';

/** Applies a change to the live mapping (set-concurrency, pause, resume) and prints old -> new. */
export async function changeLiveMapping(argv: GlobalArgs, out: Output, change: MappingChange, title: string) {
  const target = await openTarget(argv);
  const { ctx } = target;
  const { before, after } = await out.step(title, () => target.changeMapping(change));
  const describe = (s: MappingState) => `${s.concurrency ?? '?'} at most, ${s.state === 'Disabled' ? 'paused' : s.state}`;
  out.result({ stack: argv.name, before, after }, () => `${ctx.names.requestsQueue} -> ${ctx.names.workerFunction}: ${describe(before)} -> ${describe(after)}`);
}
