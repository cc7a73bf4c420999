import { createInterface } from 'node:readline/promises';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { defineCommand } from './command.js';
import { resourceNames } from '../contract.js';
import { CliError, UsageError } from '../errors.js';
import { plural, type Output } from '../output.js';
import type { GlobalArgs } from './options.js';
import { callStats, openStack } from './session.js';

interface DownArgs extends GlobalArgs {
  force: boolean;
  keepLogs: boolean;
}

function builder(yargs: Argv<GlobalArgs>) {
  return yargs
    .option('force', { type: 'boolean', default: false, describe: 'Delete the queues even while they hold unprocessed requests or dead letters (with --local: discard the journal)' })
    .option('keep-logs', { type: 'boolean', default: false, describe: 'With --local: keep the detached stack\'s log file' })
    .example('$0 down', 'Remove the stack "bedrock-queue" (asks first)')
    .example('$0 down --name demo --yes', 'Remove stack "demo" from a script')
    .example('$0 down --yes --force', 'Remove it even though messages are still queued')
    .example('$0 down --local', 'Stop the local target (refuses while requests or dead letters are left, unless --force)');
}

async function confirm(out: Output, question: string): Promise<boolean> {
  const rl = createInterface({ input: out.stdin, output: out.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** What down says of the results nobody read: they are answers, not work, so it deletes them. */
function unreadWarning(count: number, queue: string): string {
  return `${plural(count, 'unread result')} on ${queue} ${count === 1 ? 'is' : 'are'} deleted with the stack`;
}

async function downLocal(argv: DownArgs, out: Output) {
  const { stopLocal } = await import('../local/lifecycle/run.js');
  const result = await stopLocal(argv.name, { force: argv.force, keepLogs: argv.keepLogs, progress: (title, run) => out.step(title, run) });
  if (result.unreadResults) out.warn(`${unreadWarning(result.unreadResults, resourceNames(argv.name).resultsQueue)}.`);
  out.result({ stack: argv.name, local: true, ...result }, () => {
    const discarded = result.discarded ? ` ${plural(result.discarded, 'unprocessed message')} of its journal ${result.discarded === 1 ? 'was' : 'were'} discarded.` : '';
    if (result.stopped) return `Local stack ${argv.name} stopped (pid ${result.pid}).`;
    if (result.corrupt) return `The local stack ${argv.name} was not running; its unreadable state file was removed.${discarded}`;
    if (result.stale) return `The local stack ${argv.name} was not running (process ${result.pid} is gone); its state was removed.${discarded}`;
    return `No local stack ${argv.name} is running: nothing to stop.${discarded}`;
  });
}

async function run(argv: ArgumentsCamelCase<DownArgs>, out: Output) {
  if (argv.local) return downLocal(argv, out);
  const canAsk = !!out.stdin.isTTY && !!out.stderr.isTTY;
  if (!argv.yes && !canAsk) throw new UsageError('down deletes resources: pass --yes to confirm when not running in a terminal.');
  const { session, observed } = await openStack(argv, out);
  const { ctx } = session;
  const [engine, busy] = await Promise.all([import('../provision/engine.js'), import('../operate/busy-queues.js')]);
  const ours = observed.filter((o) => o.live && o.owned).map((o) => `${o.resource.kind} ${o.resource.name(ctx)}`);
  const leftAlone = observed.filter((o) => o.live && !o.owned).map((o) => `${o.resource.kind} ${o.resource.name(ctx)}`);
  for (const name of leftAlone) out.warn(`${name} is not tagged for stack ${argv.name}: left alone.`);
  const summary = { stack: argv.name, region: ctx.account.region, removed: [] as string[], leftAlone, unreadResults: 0 };

  if (!ours.length) {
    out.result({ ...summary, calls: callStats(session) }, () => `Nothing to remove: stack ${argv.name} has no resources in ${ctx.account.region}.`);
    return;
  }

  const reports = busy.queueReports(ctx, observed);
  if (!argv.force) busy.refuseBusyQueues(reports, ctx.names.resultsQueue, 'delete them with their messages');
  summary.unreadResults = busy.messagesIn(reports, ctx.names.resultsQueue);
  if (summary.unreadResults) out.warn(`${unreadWarning(summary.unreadResults, ctx.names.resultsQueue)} (read them first with "bedrock-queue tail --name ${argv.name}").`);

  if (!argv.yes) {
    out.log(`Stack ${argv.name} in ${ctx.account.region} (account ${ctx.account.accountId}):\n${ours.map((r) => `  ${r}`).join('\n')}\n`);
    if (!(await confirm(out, `Delete ${ours.length === 1 ? 'this resource' : `these ${ours.length} resources`}? [y/N] `))) throw new CliError('Nothing was deleted.');
  }

  await engine.destroy(ctx, observed, (item, run) => out.step(`Deleting ${item.kind} ${item.name}`, async () => {
    await run();
    summary.removed.push(`${item.kind} ${item.name}`);
  }), (title, run) => out.step(title, run));
  out.result({ ...summary, calls: callStats(session) }, () => `Stack ${argv.name} removed: ${plural(summary.removed.length, 'resource')} deleted.`);
}

export const downCommand = defineCommand<DownArgs>({
  command: 'down',
  describe: 'Delete every resource tagged for the stack (asks first; --yes in scripts)',
  builder,
  run,
});
