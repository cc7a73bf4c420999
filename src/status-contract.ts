import type { GovernorReport } from './governor/report.js';
import type { PipelineMetrics } from './metrics-contract.js';

/** A batch inference job of `batch --discount` that has not ended, as `status` and `batch --discount --status` list it. */
export interface RunningJob {
  name: string;
  arn: string;
  status: string;
  submitted?: string;
  message?: string;
}

/**
 * What `status --json` prints, the same on AWS and on the local target (README, "status --json").
 * Queues come in the order requests, DLQ, results; a field a target cannot know is absent.
 */
export interface StatusReport {
  stack: string;
  target: 'aws' | 'local';
  /** The AWS Region, or "local". */
  region: string;
  deployed: boolean;
  model?: string;
  invokeUrl?: string;
  /** Where clients open the WebSocket API (README, "The WebSocket API"). */
  websocketUrl?: string;
  resources: { kind: string; name: string; state: 'present' | 'missing' | 'drifted' | 'not ours' | 'left over'; changes: { field: string; live: unknown; desired: unknown }[] }[];
  queues: { name: string; visible: number; inFlight: number; delayed: number }[];
  mapping?: { state?: string; paused: boolean; maximumConcurrency?: number; batchSize?: number; invocationsInFlight?: number };
  /** Local only: the process serving the stack. */
  pid?: number;
  /** Local only: the SQS (and results table) endpoint, for the AWS CLI, boto3 or an SDK (README, "Other clients on the local target"). */
  sqsEndpoint?: string;
  /** Local only: a state file was found, but no process answers for it (gone, stopped with work kept, or unreadable); it is kept for the next start. */
  stale?: boolean;
  /** The pipeline's figures over `status --since` (README, "Metrics"). */
  metrics?: PipelineMetrics;
  /** Why the figures could not be read (AWS: CloudWatch GetMetricData failed). */
  metricsError?: string;
  /** The governor (autopilot, budget), null where off (README, "The governor"). */
  governor?: GovernorReport;
  /** The stack's batch inference jobs that have not ended (`batch --discount`), where the route exists. */
  discountJobs?: RunningJob[];
  /** Why the jobs could not be listed (AWS: the ListModelInvocationJobs error, naming a missing permission). */
  discountJobsError?: string;
  /** AWS only: the API calls the command made. */
  calls?: { reads: number; mutations: number; readsByService: Record<string, number> };
}
