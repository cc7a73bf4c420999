import { randomUUID } from 'node:crypto';

/**
 * The contract shared by the CLI, the provisioner, the worker, the local stack and the tests:
 * resource names, tags, the request body schema and the worker's environment.
 */

export const STACK_NAME_PATTERN = /^[a-z][a-z0-9-]{0,30}$/;
export const DEFAULT_STACK_NAME = 'bedrock-queue';

/** The tag that marks a resource as belonging to stack N. Nothing without it is ever changed. */
export const STACK_TAG = 'bedrock-queue:stack';
/**
 * AWS's tag rules, the same for every service the stack uses (SQS, IAM, Lambda, CloudWatch Logs,
 * API Gateway): at most 50 tags a resource; keys of 1-128 and values of 0-256 Unicode letters,
 * digits, spaces and _ . : / = + - @; keys starting with aws: are reserved.
 */
export const TAG_RULES = { maxTags: 50, maxKey: 128, maxValue: 256, pattern: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u, reservedPrefix: /^aws:/i } as const;
export const IAM_PATH = '/bedrock-queue/';
export const STAGE_NAME = 'prod';

/** The partition a Region belongs to: aws-cn and aws-us-gov have their own ARNs. */
export function partitionOf(region: string): string {
  const partitions: [RegExp, string][] = [[/^cn-/, 'aws-cn'], [/^us-gov-/, 'aws-us-gov'], [/^us-iso-/, 'aws-iso'], [/^us-isob-/, 'aws-iso-b'],
    [/^eu-isoe-/, 'aws-iso-e'], [/^us-isof-/, 'aws-iso-f'], [/^eusc-/, 'aws-eusc']];
  return partitions.find(([prefix]) => prefix.test(region))?.[1] ?? 'aws';
}
export const RESOURCE_PATH = 'invokeModel';
/** GET /results/{id}: one result by request id, from the results store (`Location` of the POST's 202). */
export const RESULTS_PATH = 'results';
/** How long a client is told to wait before asking again while a result is pending (Retry-After). */
export const RESULT_RETRY_AFTER_SECONDS = 2;
/** What GET /results/{id} says when it has no record to give, on AWS (mapping templates) and locally alike. */
export const RESULT_MESSAGES = {
  notAnId: 'Not a request id: ids are UUIDs, as POST /invokeModel answers them',
  busy: 'The results store is busy; try again',
  unavailable: 'The results store is unavailable; try again',
} as const;
/** The body of GET /results/{id} while a result is pending (202, with Retry-After). */
export const pendingBody = (id: string) => `{"id": "${id}", "status": "pending"}`;
/** A request id as the API answers it: a UUID in lower case (the client's own, or one the API chose). */
export const REQUEST_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The `id` a client may put in a request body (its idempotency key): a UUID in either case, which the API lowers. */
export const CLIENT_ID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
/** A request's id: the client's own (`id`, lowered), else a new UUID, as the API (POST and invoke) chooses it. */
export const requestIdFor = (body: { id?: string }) => (body.id ?? randomUUID()).toLowerCase();
/**
 * The URL that invokes the API. Under an emulator (--endpoint-url) it is the emulator's own path
 * for it (moto's and LocalStack's `_user_request_`), so that nothing is ever sent to a real
 * execute-api host while the control plane is emulated.
 */
export function invokeUrl(region: string, restApiId: string, emulatorEndpoint?: string) {
  if (emulatorEndpoint) return `${emulatorEndpoint.replace(/\/+$/, '')}/restapis/${restApiId}/${STAGE_NAME}/_user_request_/${RESOURCE_PATH}`;
  return `https://${restApiId}.execute-api.${region}.amazonaws.com/${STAGE_NAME}/${RESOURCE_PATH}`;
}

/**
 * The WebSocket API's URL, and the management endpoint its connections are posted to. Under an
 * emulator there is none: moto does not serve WebSockets, and nothing may go to a real AWS host.
 */
export function websocketUrl(region: string, apiId: string, emulatorEndpoint?: string) {
  return emulatorEndpoint ? undefined : `wss://${apiId}.execute-api.${region}.amazonaws.com/${STAGE_NAME}`;
}
export function connectionsEndpoint(region: string, apiId: string, emulatorEndpoint?: string) {
  return emulatorEndpoint ? emulatorEndpoint.replace(/\/+$/, '') : `https://${apiId}.execute-api.${region}.amazonaws.com/${STAGE_NAME}`;
}

export const REQUEST_MODEL_NAME = 'InvokeModelRequest';
export const REQUEST_VALIDATOR_NAME = 'body-only';

/** A current Claude model through the global cross-Region inference profile (any commercial source Region). */
export const DEFAULT_MODEL_ID = 'global.anthropic.claude-sonnet-4-6';

/** What the worker keeps back from each invocation for publishing results and shortening visibilities. */
export const WORKER_RESERVE_MS = 2_000;
/** The shortest worker timeout that leaves a model call a second after the reserve (Lambda allows 1 s). */
export const MIN_TIMEOUT_SECONDS = Math.ceil((WORKER_RESERVE_MS + 1_000) / 1_000);

/** One record per model call: the event source mapping hands the worker one message at a time. */
export const BATCH_SIZE = 1;
export const VISIBILITY_TIMEOUT_FACTOR = 6;
export const DLQ_RETENTION_SECONDS = 14 * 24 * 3600;
export const RESULTS_RETENTION_SECONDS = 4 * 24 * 3600;
export const REQUESTS_RETENTION_SECONDS = 4 * 24 * 3600;
export const LAMBDA_RUNTIME = 'nodejs22.x' as const;
export const LAMBDA_HANDLER = 'index.handler';

export function resourceNames(stack: string) {
  return {
    requestsQueue: `${stack}-requests`,
    deadLetterQueue: `${stack}-requests-dlq`,
    resultsQueue: `${stack}-results`,
    apiRole: `${stack}-api`,
    workerRole: `${stack}-worker`,
    workerFunction: `${stack}-worker`,
    logGroup: `/aws/lambda/${stack}-worker`,
    restApi: stack,
    websocketApi: `${stack}-ws`,
    apiKey: stack,
    usagePlan: stack,
    resultsTable: `${stack}-results`,
    /** The governor's (--autopilot, --budget): its schedule's group, the schedule, and the role that invokes the worker. */
    scheduleGroup: `${stack}-governor`,
    schedule: 'governor',
    schedulerRole: `${stack}-scheduler`,
    /** `batch --discount`: the role Bedrock assumes for the jobs, and the start of the bucket's name (arns.ts). */
    batchRole: `${stack}-batch`,
    batchBucketStem: `${stack}-bq`,
  };
}

export type ResourceNames = ReturnType<typeof resourceNames>;

/** The stack's three queues, by their role. */
export type QueueRole = 'requestsQueue' | 'deadLetterQueue' | 'resultsQueue';

/** The account and Region the local target answers as: its queue URLs and ARNs carry them. */
export const LOCAL_ACCOUNT = { region: 'us-east-1', accountId: '123456789012', partition: 'aws' } as const;

/**
 * The results store (a DynamoDB table per stack): one item per request id, holding the exact JSON
 * the results queue got (`record`), its status (for the conditional write: an `ok` is never
 * replaced by an error) and when DynamoDB's TTL may delete it (epoch seconds); until the record is
 * there, the WebSocket connections waiting for it (`listeners`, a string set).
 */
export const RESULT_ITEM = { key: 'id', record: 'record', status: 'status', expiresAt: 'expiresAt', leaseUntil: 'leaseUntil', leaseToken: 'leaseToken', listeners: 'listeners' } as const;
/**
 * The status of an item whose request a worker has claimed (`leaseUntil`, epoch ms; `leaseToken`,
 * the claim's own): it has no record yet, so every reader sees it as pending.
 */
export const CLAIMED_STATUS = 'claimed';
export const DEFAULT_RESULTS_TTL_SECONDS = 7 * 24 * 3600;

/**
 * DynamoDB's TTL deletes an expired item within days and returns it until then: every reader
 * treats a record past its `expiresAt` (epoch seconds) as absent, as if deleted on time.
 */
export function isExpired(expiresAt: string | undefined, nowMs = Date.now()): boolean {
  return expiresAt !== undefined && Number(expiresAt) < nowMs / 1000;
}
/**
 * DynamoDB items hold at most 400 KB, names and values together; a record above this keeps a cut
 * output and `"truncated": true` (the whole answer stays on the results queue).
 */
export const MAX_STORED_RECORD_BYTES = 380_000;

/** Environment variables of the worker: `up` sets all but logText and recordConcurrency, which are optional switches. */
export const WORKER_ENV = {
  stackName: 'BQ_STACK_NAME',
  resultsQueueUrl: 'BQ_RESULTS_QUEUE_URL',
  modelId: 'BQ_MODEL_ID',
  defaultMaxTokens: 'BQ_DEFAULT_MAX_TOKENS',
  defaultTemperature: 'BQ_DEFAULT_TEMPERATURE',
  /** The requests queue's maxReceiveCount: a request failing on that receive gets a final error result before SQS moves it to the DLQ. */
  maxReceiveCount: 'BQ_MAX_RECEIVE_COUNT',
  /** "true" adds prompt and output text to the per-request log line (off by default: privacy). */
  logText: 'BQ_LOG_TEXT',
  /** Records of one batch processed at once (default 4); model calls in flight <= mapping concurrency x min(batch size, this). */
  recordConcurrency: 'BQ_RECORD_CONCURRENCY',
  /** The results store's table, and how long its items live (seconds). */
  resultsTable: 'BQ_RESULTS_TABLE',
  resultsTtlSeconds: 'BQ_RESULTS_TTL_SECONDS',
  /** Where results are posted to WebSocket connections (API Gateway's management API of the stage); absent, nothing is pushed. */
  connectionsEndpoint: 'BQ_CONNECTIONS_ENDPOINT',
} as const;

/**
 * What the worker publishes on N-results for every request that ends: once per request, except
 * that at-least-once delivery can publish a second record with the same id (see README).
 */
export interface ResultRecord {
  /** The SQS message id of the request: the id the API answered with. */
  id: string;
  status: 'ok' | 'error';
  output?: string;
  /** True when the output was cut to fit the 1 MiB SQS message limit. */
  outputTruncated?: boolean;
  /** In the results store only: the output was cut to fit DynamoDB's 400 KB item (the results queue has all of it). */
  truncated?: true;
  stopReason?: string;
  usage?: { inputTokens: number; outputTokens: number; totalTokens: number };
  model: string;
  /** Duration of the model call. */
  latencyMs: number;
  /** How many times the request was received (1 on the first try). */
  attempt: number;
  metadata?: Record<string, string>;
  /** When the API queued the request, and when the worker finished it (ISO 8601). */
  queuedAt?: string;
  completedAt: string;
  error?: { code: string; message: string };
  /**
   * True on the error result of a request whose last attempt failed with an error worth retrying:
   * SQS moves it to `deadLetterQueue`, from where `redrive` can return it (a later success then
   * publishes a second result with the same id).
   */
  final?: true;
  deadLetterQueue?: string;
}

/** The retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** A Bedrock model id (anthropic.claude-3-haiku-20240307-v1:0) or inference profile id (global.anthropic.claude-sonnet-4-6). */
export const MODEL_ID_PATTERN = /^[a-z0-9-]+(\.[A-Za-z0-9-]+)+(:[A-Za-z0-9.-]+)?$/;

/**
 * Message attributes of a request: the id the API answered with (the API sets it on every request),
 * and, on a request the worker put back on the queue because the model was throttling, when it was
 * first queued and how many times it was throttled.
 */
export const REQUEUE_ATTRIBUTES = { requestId: 'bq-request-id', queuedAt: 'bq-queued-at', throttles: 'bq-throttles' } as const;

export const MAX_PROMPT_CHARS = 250_000;

/**
 * The body of POST /invokeModel, as JSON Schema draft 4 (the dialect API Gateway models use).
 * The same object is the API Gateway model, the worker's validation rules and the tests' oracle.
 */
export const REQUEST_BODY_SCHEMA = {
  $schema: 'http://json-schema.org/draft-04/schema#',
  title: REQUEST_MODEL_NAME,
  type: 'object',
  required: ['prompt'],
  additionalProperties: false,
  properties: {
    /** The client's own request id: the same id sent twice is one request (README, "Idempotency"). */
    id: { type: 'string', pattern: CLIENT_ID_PATTERN },
    prompt: { type: 'string', minLength: 1, maxLength: MAX_PROMPT_CHARS },
    system: { type: 'string', maxLength: MAX_PROMPT_CHARS },
    maxTokens: { type: 'integer', minimum: 1, maximum: 200_000 },
    temperature: { type: 'number', minimum: 0, maximum: 1 },
    metadata: {
      type: 'object',
      maxProperties: 20,
      additionalProperties: { type: 'string', maxLength: 1024 },
    },
  },
} as const;

export interface InvokeRequest {
  id?: string;
  prompt: string;
  system?: string;
  maxTokens?: number;
  temperature?: number;
  metadata?: Record<string, string>;
}

/** Returns the problems with a request body, empty when it satisfies REQUEST_BODY_SCHEMA. */
export function validateInvokeRequest(body: unknown): string[] {
  const schema = REQUEST_BODY_SCHEMA;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return ['body must be a JSON object'];
  const record = body as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(record)) {
    if (!(key in schema.properties)) problems.push(`unknown property "${key}"`);
  }
  const { id, prompt, system, maxTokens, temperature, metadata } = record;
  if (id !== undefined && (typeof id !== 'string' || !new RegExp(CLIENT_ID_PATTERN).test(id))) problems.push('"id" must be a UUID (8-4-4-4-12 hexadecimal digits)');
  if (typeof prompt !== 'string') problems.push('"prompt" is required and must be a string');
  else if (prompt.length < schema.properties.prompt.minLength) problems.push('"prompt" must not be empty');
  else if (prompt.length > schema.properties.prompt.maxLength) problems.push(`"prompt" is longer than ${MAX_PROMPT_CHARS} characters`);
  if (system !== undefined && (typeof system !== 'string' || system.length > schema.properties.system.maxLength)) {
    problems.push(`"system" must be a string of at most ${MAX_PROMPT_CHARS} characters`);
  }
  const tokens = schema.properties.maxTokens;
  if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || (maxTokens as number) < tokens.minimum || (maxTokens as number) > tokens.maximum)) {
    problems.push(`"maxTokens" must be an integer from ${tokens.minimum} to ${tokens.maximum}`);
  }
  const temp = schema.properties.temperature;
  if (temperature !== undefined && (typeof temperature !== 'number' || temperature < temp.minimum || temperature > temp.maximum)) {
    problems.push(`"temperature" must be a number from ${temp.minimum} to ${temp.maximum}`);
  }
  if (metadata !== undefined) {
    const meta = schema.properties.metadata;
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) problems.push('"metadata" must be an object of strings');
    else {
      const entries = Object.entries(metadata);
      if (entries.length > meta.maxProperties) problems.push(`"metadata" has more than ${meta.maxProperties} keys`);
      if (entries.some(([, v]) => typeof v !== 'string' || v.length > meta.additionalProperties.maxLength)) {
        problems.push(`"metadata" values must be strings of at most ${meta.additionalProperties.maxLength} characters`);
      }
    }
  }
  return problems;
}
