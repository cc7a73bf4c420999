import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { lastMinute, tokensToday } from '../governor/cloudwatch.js';
import { configFromTags, marksFromTags, marksToTags, type GovernorEvent } from '../governor/config.js';
import { governorTick, type GovernorHost, type TickOutcome } from '../governor/tick.js';
import { queueUrlOf } from './publish.js';
import { emfDocument, writeLogLine } from './metrics.js';

export interface GovernorClients {
  lambda: LambdaClient;
  cloudwatch: CloudWatchClient;
  sqs: SQSClient;
}

/** A mapping changing state (Enabling, Updating) is on its way to, or stays, enabled. */
const RUNNING = new Set(['Enabled', 'Enabling', 'Updating', 'Creating']);

/**
 * The governor's tick on AWS: the schedule invokes the worker with the mapping's UUID; the settings
 * and the marks are the mapping's tags; the figures are CloudWatch's and the queue's. A failure is
 * logged and thrown: the next minute's tick tries again.
 */
export async function governMapping(event: GovernorEvent, stack: string, clients: GovernorClients, now = Date.now()): Promise<TickOutcome> {
  // The runtime's client (the bundle leaves it out: only this tick uses it).
  const { GetEventSourceMappingCommand, ListTagsCommand, TagResourceCommand, UntagResourceCommand, UpdateEventSourceMappingCommand } = await import('@aws-sdk/client-lambda');
  const UUID = event['bq-governor'].mapping;
  const mapping = await clients.lambda.send(new GetEventSourceMappingCommand({ UUID }));
  const arn = mapping.EventSourceMappingArn!;
  const { Tags: tags = {} } = await clients.lambda.send(new ListTagsCommand({ Resource: arn }));
  const concurrency = mapping.ScalingConfig?.MaximumConcurrency ?? 0;
  const config = configFromTags(tags, concurrency);
  const functionName = mapping.FunctionArn!.split(':')[6]!;
  const host: GovernorHost = {
    mapping: async () => ({ enabled: RUNNING.has(mapping.State ?? ''), concurrency, marks: marksFromTags(tags) }),
    lastInterval: async (at) => {
      const [minute, queue] = await Promise.all([
        lastMinute(clients.cloudwatch, stack, functionName, at),
        clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrlOf(mapping.EventSourceArn!), AttributeNames: ['ApproximateNumberOfMessages'] })),
      ]);
      return minute && { ...minute, backlog: Number(queue.Attributes?.ApproximateNumberOfMessages ?? 0) };
    },
    tokensToday: (at) => tokensToday(clients.cloudwatch, stack, at),
    apply: async (change) => {
      // The marks first: a pause is recorded as the budget's before the mapping stops.
      const marks = marksToTags(change.marks);
      const set = Object.fromEntries(Object.entries(marks.set).filter(([key, value]) => tags[key] !== value));
      const remove = marks.remove;
      if (Object.keys(set).length) await clients.lambda.send(new TagResourceCommand({ Resource: arn, Tags: set }));
      const stale = remove.filter((key) => tags[key] !== undefined);
      if (stale.length) await clients.lambda.send(new UntagResourceCommand({ Resource: arn, TagKeys: stale }));
      if (change.concurrency === undefined && change.enabled === undefined) return;
      await clients.lambda.send(new UpdateEventSourceMappingCommand({
        UUID,
        ...(change.concurrency !== undefined ? { ScalingConfig: { MaximumConcurrency: change.concurrency } } : {}),
        ...(change.enabled !== undefined ? { Enabled: change.enabled } : {}),
      }));
    },
  };
  const outcome = await governorTick(host, config, now);
  if (outcome.concurrency || outcome.changed) writeLogLine(governorLog(outcome, stack, now));
  return outcome;
}

/** The governor's log line, the same from the AWS worker and the local stack: what it did and why, with the autopilot's value as a metric. */
export function governorLog(outcome: TickOutcome, stack: string, now = Date.now()): Record<string, unknown> {
  return emfDocument({ level: 'info', message: 'governor', ...outcome }, stack, outcome.concurrency ? { autopilotConcurrency: outcome.concurrency.to } : {}, undefined, now);
}
