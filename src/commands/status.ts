import type { ArgumentsCamelCase, Argv } from 'yargs';
import { defineCommand } from './command.js';
import { invokeUrl as invokeUrlOf, resourceNames, websocketUrl as websocketUrlOf } from '../contract.js';
import type { StatusReport } from '../status-contract.js';
import { formatValue, table, type Output } from '../output.js';
import type { PipelineMetrics } from '../metrics-contract.js';
import { summarize } from '../client/metrics.js';
import { describeError } from '../errors.js';
import { metricsRows, sinceOption } from './metrics-format.js';
import { governorRows } from './governor-format.js';
import { jobStates } from './batch-discount.js';
import type { LocalStatus } from '../local/lifecycle/stack.js';
import type { GlobalArgs } from './options.js';
import { callStats, openStack, orderedQueues, resourceTable } from './session.js';

const STATE_LABELS = {
  create: { text: 'missing', colour: '31' },
  update: { text: 'drifted', colour: '33' },
  unchanged: { text: 'present', colour: '32' },
  foreign: { text: 'not ours', colour: '31' },
  remove: { text: 'left over', colour: '33' },
} as const;

interface StatusArgs extends GlobalArgs {
  since: number;
}

function builder(yargs: Argv<GlobalArgs>) {
  return yargs
    .option('since', sinceOption)
    .example('$0 status', 'Resources, queue depths, concurrency, the invoke URL, and the last 5 minutes: results, latency, tokens, errors')
    .example('$0 status --since 1h', 'The same figures over the last hour')
    .example('$0 status --name demo --json', 'The same as one JSON object, for scripts')
    .example('$0 status --local', 'The local target: queues, concurrency, whether it is paused');
}

function humanQueues(report: StatusReport): string[] {
  if (!report.queues.length) return [];
  return [table([['Queue', 'waiting', 'in flight', 'delayed'], ...report.queues.map((q) => [q.name, String(q.visible), String(q.inFlight), String(q.delayed)])]), ''];
}

function concurrencyLine(report: StatusReport): string {
  const { mapping, metrics } = report;
  if (!mapping) return 'no mapping';
  const live = mapping.invocationsInFlight;
  // On AWS, CloudWatch's ConcurrentExecutions: the most in flight during the last minute it has.
  const recent = metrics?.concurrency.invocationsInFlight;
  const inFlight = live !== undefined ? `; ${live} invocations in flight` : recent !== null && recent !== undefined ? `; up to ${recent} in flight lately` : '';
  return `${mapping.maximumConcurrency ?? '?'} at most (mapping ${mapping.state}${mapping.paused ? ', paused' : ''}${inFlight})`;
}

/** The local target's own parts, each present while its process runs. */
const LOCAL_PARTS = (stack: string) => {
  const names = resourceNames(stack);
  return [
    ['SQS queue (embedded)', names.requestsQueue], ['SQS queue (DLQ, embedded)', names.deadLetterQueue], ['SQS queue (embedded)', names.resultsQueue],
    ['Worker (local sandbox)', names.workerFunction], ['Event source mapping (emulated)', `${names.requestsQueue} -> ${names.workerFunction}`], ['Local API', stack],
  ] as const;
};

/** The discount route's running jobs in one table row, while there are any: "2 running (1 InProgress, 1 Scheduled)". */
function discountJobsRows(report: StatusReport): string[][] {
  if (report.discountJobsError) return [['Batch jobs', `unknown: ${report.discountJobsError}`]];
  const jobs = report.discountJobs ?? [];
  if (!jobs.length) return [];
  return [['Batch jobs', `${jobs.length} running (${jobStates(jobs)}): batch --discount --status lists them`]];
}

/** The window's figures under the queues; where CloudWatch could not be read, why. */
function humanMetrics(report: StatusReport): string[] {
  if (report.metricsError) return [`  Metrics unavailable: ${report.metricsError}`, ''];
  return report.metrics ? [table(metricsRows(report.metrics)), ''] : [];
}

async function statusLocal(argv: StatusArgs, out: Output) {
  // The running stack answers over its control endpoint: no SDK to load.
  const { readState, statusOf } = await import('../local/lifecycle/state.js');
  // One status call decides whether the stack runs and gives its figures.
  const found = await readState(argv.name, true);
  const status = found?.state && (await statusOf<LocalStatus>(found.state, `?window=${argv.since}`));
  const base = { stack: argv.name, target: 'local' as const, region: 'local' };
  if (!status) {
    const { whyNotRunning } = await import('../local/lifecycle/run.js');
    const why = await whyNotRunning(argv.name, found);
    const report: StatusReport = { ...base, deployed: false, resources: [], queues: [], stale: !!found };
    out.result(report, () => `The local stack ${argv.name} is not running: ${why} Start it with: bedrock-queue up --local --name ${argv.name}`);
    // A stack that was started and no longer runs (stopped, crashed, unreadable) is a failure to report; one never started is not.
    if (found) out.fail();
    return;
  }
  const report: StatusReport = {
    ...base,
    deployed: true,
    model: status.model,
    invokeUrl: status.invokeUrl,
    ...(found.state.websocketUrl ? { websocketUrl: found.state.websocketUrl } : {}),
    resources: LOCAL_PARTS(argv.name).map(([kind, name]) => ({ kind, name, state: 'present', changes: [] })),
    queues: orderedQueues(argv.name, status.queues),
    mapping: {
      state: status.mapping.state,
      paused: status.mapping.state === 'Disabled',
      maximumConcurrency: status.mapping.concurrency,
      batchSize: status.mapping.batchSize,
      invocationsInFlight: status.mapping.inFlight,
    },
    pid: status.pid,
    sqsEndpoint: found.state.sqsEndpoint,
    governor: status.governor,
    ...(status.metrics ? { metrics: summarize(status.metrics, argv.since, status.mapping.concurrency) } : {}),
    ...(status.discountJobs ? { discountJobs: status.discountJobs } : {}),
  };
  out.result(report, () => [
    `Local stack ${argv.name}: running (pid ${status.pid})`,
    '',
    ...humanQueues(report),
    ...humanMetrics(report),
    table([['Model', status.model], ['Concurrency', concurrencyLine(report)], ...governorRows(report.governor), ...discountJobsRows(report), ['Invoke URL', status.invokeUrl], ...(found.state.websocketUrl ? [['WebSocket URL', found.state.websocketUrl]] : []), ['SQS endpoint', found.state.sqsEndpoint]], ''),
  ].join('\n'));
}

/** The window's figures from CloudWatch; a failure (a missing cloudwatch:GetMetricData, say) is reported, not fatal. */
async function cloudWatchMetrics(session: Awaited<ReturnType<typeof openStack>>['session'], argv: StatusArgs, limit: number | undefined): Promise<{ metrics: PipelineMetrics } | { metricsError: string }> {
  const { ctx } = session;
  try {
    const { readCloudWatch } = await import('../client/cloudwatch-metrics.js');
    return { metrics: summarize(await readCloudWatch(ctx.clients.cloudwatch, argv.name, argv.since), argv.since, limit) };
  } catch (err) {
    return { metricsError: describeError(err) };
  }
}

async function run(argv: ArgumentsCamelCase<StatusArgs>, out: Output) {
  if (argv.local) return statusLocal(argv, out);
  const { session, observed, items } = await openStack(argv, out);
  const { ctx } = session;
  const { queueReports } = await import('../operate/busy-queues.js');
  const mappingLive = observed.find((o) => o.resource.key === 'event-source-mapping' && o.live)?.live as
    { tags: Record<string, string>; config: { State?: string; ScalingConfig?: { MaximumConcurrency?: number }; BatchSize?: number } } | undefined;
  const anyPresent = items.some((i) => i.action !== 'create');
  const { restApiId, websocketApiId } = ctx.ids;
  const websocketUrl = websocketApiId ? websocketUrlOf(ctx.account.region, websocketApiId, ctx.emulatorEndpoint) : undefined;
  const report: StatusReport = {
    stack: argv.name,
    target: 'aws',
    region: ctx.account.region,
    deployed: items.every((i) => i.action === 'unchanged' || i.action === 'update' || i.action === 'remove'),
    ...(anyPresent ? { model: ctx.settings.model } : {}),
    ...(restApiId ? { invokeUrl: invokeUrlOf(ctx.account.region, restApiId, ctx.emulatorEndpoint) } : {}),
    ...(websocketUrl ? { websocketUrl } : {}),
    resources: items.map((i) => ({ kind: i.kind, name: i.name, state: STATE_LABELS[i.action].text, changes: i.changes })),
    queues: orderedQueues(argv.name, queueReports(ctx, observed)),
    ...(mappingLive ? { mapping: {
      state: mappingLive.config.State,
      paused: mappingLive.config.State === 'Disabled' || mappingLive.config.State === 'Disabling',
      maximumConcurrency: mappingLive.config.ScalingConfig?.MaximumConcurrency,
      batchSize: mappingLive.config.BatchSize,
    } } : {}),
  };
  if (anyPresent) Object.assign(report, await cloudWatchMetrics(session, argv, report.mapping?.maximumConcurrency));
  if (mappingLive) {
    const { readGovernor } = await import('../operate/governor.js');
    report.governor = await readGovernor(ctx, { tags: mappingLive.tags, concurrency: mappingLive.config.ScalingConfig?.MaximumConcurrency });
  }
  const { discountJobs } = await import('../operate/discount.js');
  Object.assign(report, await discountJobs(ctx, observed));
  report.calls = callStats(session);

  out.result(report, () => {
    if (!anyPresent) return `Stack ${argv.name} is not deployed in ${ctx.account.region}. Create it with: bedrock-queue up --name ${argv.name}`;
    return [
      `Stack ${argv.name} in ${ctx.account.region}: ${report.deployed ? 'deployed' : 'incomplete (run bedrock-queue up to repair)'}`, '',
      resourceTable(out, items, STATE_LABELS, (c) => `${c.field}: ${formatValue(c.live)} (expected ${formatValue(c.desired)})`), '',
      ...humanQueues(report),
      ...humanMetrics(report),
      table([['Model', ctx.settings.model], ['Concurrency', concurrencyLine(report)], ...governorRows(report.governor), ...discountJobsRows(report), ['Invoke URL', report.invokeUrl ?? '(no API)'], ...(websocketUrl ? [['WebSocket URL', websocketUrl]] : [])], ''),
    ].join('\n');
  });
}

export const statusCommand = defineCommand<StatusArgs>({
  command: 'status',
  describe: 'Show each resource, queue depths, concurrency, the invoke URL, and throughput, latency, tokens and errors',
  builder,
  run,
});
