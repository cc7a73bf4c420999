import type { Action, Observed, PlanItem, Session } from '../provision/engine.js';
import type { Change, StackOptions } from '../provision/types.js';
import { table, type Output } from '../output.js';
import { awsTarget, type GlobalArgs } from './options.js';

export interface OpenedStack {
  session: Session;
  observed: Observed[];
  items: PlanItem[];
}

/** Loads the SDK (only commands that call AWS pay for it), reads the stack and diffs it against the settings. */
export async function openStack(argv: GlobalArgs, out: Output, options: StackOptions = {}): Promise<OpenedStack> {
  const engine = await import('../provision/engine.js');
  return out.step(`Reading stack ${argv.name}`, async () => {
    const session = await engine.openSession({ stack: argv.name, target: awsTarget(argv), options, note: (m) => out.note(m) });
    const observed = await engine.observe(session.ctx);
    const items = await engine.plan(session.ctx, observed);
    return { session, observed, items };
  });
}

/** How many AWS calls the command made: reads and mutations, and the reads per service. */
export function callStats(session: Session) {
  const readsByService: Record<string, number> = {};
  for (const call of session.calls.reads) {
    const service = call.split(':')[0]!;
    readsByService[service] = (readsByService[service] ?? 0) + 1;
  }
  return { reads: session.calls.reads.length, mutations: session.calls.mutations.length, readsByService };
}

/** Loads the SDK and opens a session for commands that operate on a deployed stack without reading all of it. */
export async function openLocator(argv: GlobalArgs) {
  const [engine, { StackLocator }] = await Promise.all([import('../provision/engine.js'), import('../provision/locate.js')]);
  const session = await engine.openSession({ stack: argv.name, target: awsTarget(argv) });
  return { session, ctx: session.ctx, locator: new StackLocator(session.ctx) };
}

/** An AbortSignal that Ctrl-C (SIGINT) fires, so long-running commands stop cleanly. */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  return controller.signal;
}

/** One row per resource, labelled and coloured by its plan action, with the fields that differ under it. */
export function resourceTable(out: Output, items: PlanItem[], labels: Record<Action, { text: string; colour: string }>, describe: (c: Change) => string): string {
  const rows: string[][] = [];
  for (const item of items) {
    const label = labels[item.action];
    rows.push([out.paint(label.colour, label.text), item.kind, item.name]);
    for (const c of item.changes) rows.push(['', '', out.dim(`  ${describe(c)}`)]);
  }
  return table(rows);
}
