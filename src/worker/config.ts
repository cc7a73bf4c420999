import { DEFAULT_RESULTS_TTL_SECONDS, WORKER_ENV, resourceNames } from '../contract.js';

export interface WorkerConfig {
  resultsQueueUrl: string;
  resultsTable: string;
  resultsTtlSeconds: number;
  modelId: string;
  defaultMaxTokens: number;
  defaultTemperature?: number;
  logText: boolean;
  recordConcurrency: number;
  /** The receive on which a failing request gets its final error result (absent: never). */
  maxReceiveCount?: number;
  deadLetterQueue?: string;
  /** The Stack dimension of the worker's metrics (absent: the log lines carry none). */
  stack?: string;
  /** The WebSocket API's management endpoint, where results are posted to their listeners (absent: none are). */
  connectionsEndpoint?: string;
}

/** Reads the worker's configuration from the environment `up` sets; throws naming what is missing. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const required = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`the worker's environment lacks ${name} (run bedrock-queue up to repair the function)`);
    return value;
  };
  const temperature = env[WORKER_ENV.defaultTemperature];
  return {
    resultsQueueUrl: required(WORKER_ENV.resultsQueueUrl),
    resultsTable: required(WORKER_ENV.resultsTable),
    resultsTtlSeconds: Number(env[WORKER_ENV.resultsTtlSeconds]) > 0 ? Number(env[WORKER_ENV.resultsTtlSeconds]) : DEFAULT_RESULTS_TTL_SECONDS,
    modelId: required(WORKER_ENV.modelId),
    defaultMaxTokens: Number(env[WORKER_ENV.defaultMaxTokens] ?? 1024),
    defaultTemperature: temperature ? Number(temperature) : undefined,
    logText: env[WORKER_ENV.logText] === 'true',
    recordConcurrency: Math.max(1, Number(env[WORKER_ENV.recordConcurrency] ?? 4) || 4),
    ...(Number(env[WORKER_ENV.maxReceiveCount]) >= 1 ? { maxReceiveCount: Number(env[WORKER_ENV.maxReceiveCount]) } : {}),
    ...(env[WORKER_ENV.connectionsEndpoint] ? { connectionsEndpoint: env[WORKER_ENV.connectionsEndpoint] } : {}),
    ...(env[WORKER_ENV.stackName] ? { stack: env[WORKER_ENV.stackName], deadLetterQueue: resourceNames(env[WORKER_ENV.stackName]!).deadLetterQueue } : {}),
  };
}
