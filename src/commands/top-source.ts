import { summarize } from '../client/metrics.js';
import { CliError } from '../errors.js';
import type { LocalStatus } from '../local/lifecycle/stack.js';
import type { PipelineMetrics } from '../metrics-contract.js';
import type { GlobalArgs } from './options.js';
import { openTarget, orderedQueues } from './session.js';
import type { TopSnapshot } from './top-screen.js';
import type { GovernorReport } from '../governor/report.js';

/** CloudWatch has one-minute data: reading it more often costs money and shows nothing new. */
const CLOUDWATCH_EVERY_MS = 60_000;

/** Reads one snapshot a call: the local stack in one control call, AWS in a few cheap reads. */
export type SnapshotSource = () => Promise<TopSnapshot>;

async function localSource(argv: GlobalArgs, windowSeconds: number): Promise<SnapshotSource> {
  const { requireRunning, statusOf } = await import('../local/lifecycle/state.js');
  const state = await requireRunning(argv.name);
  return async () => {
    const status = await statusOf<LocalStatus>(state, `?window=${windowSeconds}`);
    if (!status?.metrics) throw new CliError(`The local stack ${argv.name} does not answer any more (stopped?).`);
    const at = Date.now();
    return {
      stack: argv.name, target: 'local', at, model: status.model,
      queues: orderedQueues(argv.name, status.queues),
      mapping: { state: status.mapping.state, limit: status.mapping.concurrency, inFlight: status.mapping.inFlight },
      metrics: summarize(status.metrics, windowSeconds, status.mapping.concurrency),
      metricsAt: at,
      governor: status.governor,
    };
  };
}

/**
 * On AWS: finds the queues and the mapping once, then each refresh reads the three queues'
 * attributes and the mapping (four calls), and CloudWatch once a minute (one GetMetricData).
 */
async function awsSource(argv: GlobalArgs, windowSeconds: number): Promise<SnapshotSource> {
  const [{ GetQueueAttributesCommand }, { GetEventSourceMappingCommand }, { findMapping, mappingTags }, { queueDepth }, { readCloudWatch }, { readGovernor }] = await Promise.all([
    import('@aws-sdk/client-sqs'), import('@aws-sdk/client-lambda'), import('../provision/event-source-mapping.js'), import('../provision/queue.js'), import('../client/cloudwatch-metrics.js'),
    import('../operate/governor.js'),
  ]);
  const target = await openTarget(argv);
  const ctx = await target.context();
  const roles = ['requestsQueue', 'deadLetterQueue', 'resultsQueue'] as const;
  const urls = await Promise.all(roles.map((role) => target.queueUrl(role)));
  const found = await findMapping(ctx);
  const mappingId = found?.UUID;
  let metrics: PipelineMetrics | undefined;
  let governor: GovernorReport | undefined;
  let metricsAt = 0;
  return async () => {
    const [queues, mapping] = await Promise.all([
      Promise.all(urls.map(async (QueueUrl, i) => {
        const { Attributes = {} } = await ctx.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }));
        return { name: ctx.names[roles[i]!], ...queueDepth(Attributes) };
      })),
      mappingId ? ctx.clients.lambda.send(new GetEventSourceMappingCommand({ UUID: mappingId })) : undefined,
    ]);
    const limit = mapping?.ScalingConfig?.MaximumConcurrency;
    const at = Date.now();
    if (!metrics || at - metricsAt >= CLOUDWATCH_EVERY_MS) {
      metrics = summarize(await readCloudWatch(ctx.clients.cloudwatch, argv.name, windowSeconds, at), windowSeconds, limit);
      metricsAt = at;
      // The governor's settings and marks (the mapping's tags) and the day's spending, as often as the metrics.
      const tags = found && await mappingTags(ctx, found);
      governor = tags ? await readGovernor(ctx, { tags, concurrency: limit }, at) : undefined;
    }
    return {
      stack: argv.name, target: 'aws', at, model: ctx.settings.model, queues,
      ...(mapping ? { mapping: { state: mapping.State, limit, inFlight: metrics.concurrency.invocationsInFlight } } : {}),
      metrics,
      metricsAt,
      ...(governor ? { governor } : {}),
    };
  };
}

export function openSnapshotSource(argv: GlobalArgs, windowSeconds: number): Promise<SnapshotSource> {
  return argv.local ? localSource(argv, windowSeconds) : awsSource(argv, windowSeconds);
}
