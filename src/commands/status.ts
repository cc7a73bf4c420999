import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { invokeUrl as invokeUrlOf } from '../contract.js';
import { formatValue, Output, table } from '../output.js';
import type { LocalStatus } from '../local/stack.js';
import type { GlobalArgs } from './options.js';
import { callStats, openStack, resourceTable } from './session.js';

const STATE_LABELS = {
  create: { text: 'missing', colour: '31' },
  update: { text: 'drifted', colour: '33' },
  unchanged: { text: 'present', colour: '32' },
  foreign: { text: 'not ours', colour: '31' },
} as const;

export function builder(yargs: Argv) {
  return yargs
    .example('$0 status', 'Resources, queue depths, concurrency and the invoke URL')
    .example('$0 status --name demo --json', 'The same as one JSON object, for scripts')
    .example('$0 status --local', 'The local target: queues, concurrency, whether it is paused');
}

async function statusLocal(argv: GlobalArgs, out: Output) {
  // The running stack answers over its control endpoint: no SDK to load.
  const { readState, removeState, control } = await import('../local/state.js');
  const found = await readState(argv.name);
  if (!found || !found.alive) {
    if (found) await removeState(argv.name);
    const why = found ? `its process ${found.state.pid} is gone (stale state file removed)` : 'it was never started or has been stopped';
    out.result({ stack: argv.name, local: true, deployed: false, stale: !!found }, () => `The local stack ${argv.name} is not running: ${why}. Start it with: bedrock-queue up --local --name ${argv.name}`);
    return;
  }
  const status = await control<LocalStatus>(found.state, 'GET', 'status');
  out.result({ ...status, local: true, deployed: true }, () => [
    `Local stack ${argv.name}: running (pid ${status.pid})`,
    '',
    table([['Queue', 'waiting', 'in flight', 'delayed'], ...status.queues.map((q) => [q.name, String(q.visible), String(q.inFlight), String(q.delayed)])]),
    '',
    table([
      ['Model', status.model],
      ['Concurrency', `${status.mapping.concurrency} at most (mapping ${status.mapping.state}${status.mapping.state === 'Disabled' ? ', paused' : ''}; ${status.mapping.inFlight} invocations in flight)`],
      ['Invoke URL', status.invokeUrl],
    ], ''),
  ].join('\n'));
}

export async function handler(argv: ArgumentsCamelCase<GlobalArgs>) {
  const out = new Output(argv);
  if (argv.local) return statusLocal(argv, out);
  const { session, observed, items } = await openStack(argv, out);
  const { ctx } = session;
  const engine = await import('../provision/engine.js');
  const resources = items.map((i) => ({ kind: i.kind, name: i.name, state: STATE_LABELS[i.action].text, changes: i.changes }));
  const queues = engine.queueReports(ctx, observed);
  const mappingLive = observed.find((o) => o.resource.key === 'event-source-mapping' && o.live)?.live as
    { config: { State?: string; ScalingConfig?: { MaximumConcurrency?: number }; BatchSize?: number } } | undefined;
  const mapping = mappingLive && {
    state: mappingLive.config.State,
    paused: mappingLive.config.State === 'Disabled' || mappingLive.config.State === 'Disabling',
    maximumConcurrency: mappingLive.config.ScalingConfig?.MaximumConcurrency,
    batchSize: mappingLive.config.BatchSize,
  };
  const deployed = items.every((i) => i.action === 'unchanged' || i.action === 'update');
  const invokeUrl = ctx.ids.restApiId ? invokeUrlOf(ctx.account.region, ctx.ids.restApiId, ctx.emulatorEndpoint) : undefined;
  const anyPresent = items.some((i) => i.action !== 'create');

  out.result(
    { stack: argv.name, region: ctx.account.region, deployed, model: anyPresent ? ctx.settings.model : undefined, invokeUrl, resources, queues, mapping, calls: callStats(session) },
    () => {
      if (!anyPresent) return `Stack ${argv.name} is not deployed in ${ctx.account.region}. Create it with: bedrock-queue up --name ${argv.name}`;
      const lines = [`Stack ${argv.name} in ${ctx.account.region}: ${deployed ? 'deployed' : 'incomplete (run bedrock-queue up to repair)'}`, '', resourceTable(out, items, STATE_LABELS, (c) => `${c.field}: ${formatValue(c.live)} (expected ${formatValue(c.desired)})`), ''];
      if (queues.length) {
        lines.push(table([['Queue', 'waiting', 'in flight', 'delayed'], ...queues.map((q) => [q.name, String(q.visible), String(q.inFlight), String(q.delayed)])]), '');
      }
      lines.push(table([
        ['Model', ctx.settings.model],
        ['Concurrency', mapping ? `${mapping.maximumConcurrency ?? '?'} at most (mapping ${mapping.state}${mapping.paused ? ', paused' : ''})` : 'no mapping'],
        ['Invoke URL', invokeUrl ?? '(no API)'],
      ], ''));
      return lines.join('\n');
    },
  );
}

export const statusCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'status',
  describe: 'Show each resource (present, missing, drifted), queue depths, concurrency and the invoke URL',
  builder: builder as unknown as CommandModule<GlobalArgs, GlobalArgs>['builder'],
  handler,
};
