import type { MappingChange, MappingState } from '../provision/event-source-mapping.js';
import type { Output } from '../output.js';
import type { GlobalArgs } from './options.js';
import { openLocator } from './session.js';

/** Applies a change to the live mapping (set-concurrency, pause, resume) and prints old -> new. */
export async function changeLiveMapping(argv: GlobalArgs, out: Output, change: MappingChange, title: string) {
  const { ctx } = await openLocator(argv);
  const { changeMapping } = await import('../provision/event-source-mapping.js');
  const { before, after } = await out.step(title, () => changeMapping(ctx, change));
  const describe = (s: MappingState) => `${s.concurrency ?? '?'} at most, ${s.state === 'Disabled' ? 'paused' : s.state}`;
  out.result({ stack: argv.name, before, after }, () => `${ctx.names.requestsQueue} -> ${ctx.names.workerFunction}: ${describe(before)} -> ${describe(after)}`);
}
