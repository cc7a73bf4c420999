import type { ApiTarget } from '../client/api.js';
import type { SocketTarget } from '../client/socket.js';
import type { Action, Observed, PlanItem, Session } from '../provision/engine.js';
import type { MappingChange, MappingChanged } from '../operate/mapping.js';
import type { Change, Ctx, StackOptions } from '../provision/types.js';
import { resourceNames, type QueueRole } from '../contract.js';
import { CliError, describeError } from '../errors.js';
import { table, type Output } from '../output.js';
import { awsTarget, type GlobalArgs } from './options.js';

export interface OpenedStack {
  session: Session;
  observed: Observed[];
  items: PlanItem[];
}

/**
 * Loads the SDK (only commands that call AWS pay for it), reads the stack, runs the model
 * preflight when asked (`up`), and diffs the stack against the settings.
 */
export async function openStack(argv: GlobalArgs, out: Output, options: StackOptions = {}, checkModel = false): Promise<OpenedStack> {
  const engine = await import('../provision/engine.js');
  const { session, observed } = await out.step(`Reading stack ${argv.name}`, async () => {
    const session = await engine.openSession({ stack: argv.name, target: awsTarget(argv), options, note: (m) => out.note(m) });
    return { session, observed: await engine.observe(session.ctx) };
  });
  const { ctx } = session;
  if (checkModel) {
    const { checkModelAccess } = await import('../provision/model-access.js');
    ctx.modelAccess = await out.step(`Checking access to model ${ctx.settings.model}`, () => checkModelAccess(ctx, ctx.settings.model).catch((err: unknown) => {
      if (argv.endpointUrl && !(err instanceof CliError)) {
        throw new CliError(`The model check could not reach the Bedrock control plane at ${argv.endpointUrl} (${describeError(err)}): pass --skip-model-check for an emulator without it.`);
      }
      throw err;
    }));
  }
  return { session, observed, items: await engine.plan(ctx, observed) };
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

/** What the operator commands act on: a deployed stack or the local target, found by name. */
export interface OperatorTarget {
  kind: 'aws' | 'local';
  /** The stack's clients and names; loads the SDK on first use (`send --local` without --wait never does). */
  context: () => Promise<Ctx>;
  api: () => Promise<ApiTarget>;
  /** The stack's WebSocket API, where it has one this command can reach (none under an emulator). */
  websocket: () => Promise<SocketTarget | undefined>;
  queueUrl: (role: QueueRole) => Promise<string>;
  changeMapping: (change: MappingChange) => Promise<MappingChanged>;
}

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

/**
 * Finds the stack's parts, on AWS or (with --local) in the running local target, loading only what
 * is used. `byNameOnly` (send) skips the account lookup: its calls find everything by name.
 */
export async function openTarget(argv: GlobalArgs, byNameOnly = false): Promise<OperatorTarget> {
  if (argv.local) {
    const { requireRunning, control } = await import('../local/lifecycle/state.js');
    const state = await requireRunning(argv.name);
    const context = once(async () => (await import('../local/lifecycle/stack.js')).localContext(argv.name, state.sqsEndpoint));
    const locator = once(async () => new (await import('../operate/locate.js')).StackLocator(await context()));
    return {
      kind: 'local',
      context,
      api: async () => ({ invokeUrl: state.invokeUrl, apiKey: state.apiKey }),
      websocket: async () => (state.websocketUrl ? { websocketUrl: state.websocketUrl, apiKey: state.apiKey } : undefined),
      queueUrl: async (role) => (await locator()).queueUrl(role),
      changeMapping: (change) => control(state, 'POST', 'mapping', change),
    };
  }
  const [engine, { changeMapping }, { StackLocator }] = await Promise.all([import('../provision/engine.js'), import('../operate/mapping.js'), import('../operate/locate.js')]);
  const { ctx } = await engine.openSession({ stack: argv.name, target: awsTarget(argv), identify: !byNameOnly });
  const locator = new StackLocator(ctx);
  // Read once: `send --wait` needs the key to post and again to open the socket.
  const api = once(() => locator.api());
  const websocket = async () => {
    const [url, { apiKey }] = await Promise.all([locator.websocketUrl(), api()]);
    return url ? { websocketUrl: url, ...(apiKey ? { apiKey } : {}) } : undefined;
  };
  return { kind: 'aws', context: async () => ctx, api, websocket, queueUrl: (role) => locator.queueUrl(role), changeMapping: (change) => changeMapping(ctx, change) };
}

/** Queues in the order of the README: requests, DLQ, results. */
export function orderedQueues<T extends { name: string }>(stack: string, queues: T[]): T[] {
  const names = resourceNames(stack);
  const rank = [names.requestsQueue, names.deadLetterQueue, names.resultsQueue];
  return [...queues].sort((a, b) => rank.indexOf(a.name) - rank.indexOf(b.name));
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
