import { availableParallelism } from 'node:os';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';
import { BATCH_SIZE, LOCAL_ACCOUNT, RESULT_ITEM, WORKER_ENV, isExpired, resourceNames } from '../../contract.js';
import { subscribeUpdate } from '../../stream-contract.js';
import { queueArn } from '../../provision/arns.js';
import type { QueueReport } from '../../operate/busy-queues.js';
import { createOrAdopt, openSession } from '../../provision/engine.js';
import { workerEnvironment } from '../../provision/function.js';
import { deadLetterQueue, queueDepth, requestsQueue, resultsQueue } from '../../provision/queue.js';
import type { Ctx, Settings } from '../../provision/types.js';
import type { LocalSettings } from './settings.js';
import { workerBundle } from '../../provision/zip.js';
import { queueRequest, startApiServer } from '../services/api-server.js';
import { LocalSockets, startManagementServer } from '../services/socket-server.js';
import { CliError } from '../../errors.js';
import { MappingEmulator, type MappingStatus } from '../services/mapping.js';
import { FunctionSandbox } from '../services/sandbox.js';
import { controlRoutes } from './control-routes.js';
import { humanLogLine } from './log-lines.js';
import { MetricsRecorder } from '../services/metrics-recorder.js';
import { MAX_METRICS_WINDOW_SECONDS, type MetricsReading } from '../../metrics-contract.js';
import { startJournaledAws, type Recovered } from '../durability/journaled-aws.js';
import { batchPath, journalPath } from './state.js';
import { DISCOUNT_DELAY_MS, startBatchServer } from '../services/batch-jobs.js';
import { LOCAL_MODEL_ID, startModelServer, type ModelStats } from '../services/model-server.js';
import { LocalGovernor } from './governor.js';
import type { GovernorReport } from '../../governor/report.js';
import type { RunningJob } from '../../status-contract.js';

/** The local target's account and credentials: cosmetic, as the embedded SQS server checks none. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
/** `--model aws:<id>` calls real Bedrock (with your credentials) from the local pipeline. */
export const AWS_MODEL_PREFIX = 'aws:';

/** A session on the local target: the same names, resource modules and clients, local endpoints. */
export async function localContext(stack: string, sqsEndpoint: string, settings?: Partial<Settings>): Promise<Ctx> {
  const { ctx } = await openSession({
    stack,
    target: { region: LOCAL_ACCOUNT.region, endpointUrl: sqsEndpoint, credentials: LOCAL_CREDENTIALS },
    account: LOCAL_ACCOUNT,
    options: settings,
  });
  return ctx;
}

export interface LocalStackOptions {
  stack: string;
  port?: number;
  settings: LocalSettings;
  /** Sent to the model endpoint (--model-endpoint) as a bearer token; never stored. */
  modelEndpointKey?: string;
  /** Told of each change that set-concurrency, pause and resume make, so that a restart keeps it. */
  settingsChanged?: (settings: LocalSettings) => Promise<void>;
}

/** What the runner decides before the stack starts: its control token, and an earlier run's key and port to keep. */
export interface StartOptions extends LocalStackOptions {
  controlToken: string;
  apiKey?: string;
  /** The port is the earlier run's: another free one will do when it is taken. */
  portIsPreference?: boolean;
  /** The SQS endpoint's port of an earlier run, kept when free. */
  sqsPort?: number;
}

export interface LocalStatus {
  stack: string;
  pid: number;
  model: string;
  invokeUrl: string;
  mapping: MappingStatus;
  queues: QueueReport[];
  modelStats?: ModelStats;
  /** With ?window=N: the metrics of the last N seconds. */
  metrics?: MetricsReading;
  governor: GovernorReport;
  /** The batch inference jobs of `batch --discount --local` that have not ended (absent with a Bedrock model: no local batch inference). */
  discountJobs?: RunningJob[];
}

export interface LocalStack {
  apiUrl: string;
  invokeUrl: string;
  websocketUrl: string;
  apiKey?: string;
  sqsEndpoint: string;
  modelEndpoint?: string;
  batchEndpoint?: string;
  controlToken: string;
  status: () => Promise<LocalStatus>;
  /** What a journal left by an earlier run brought back. */
  recovered?: Recovered;
  /** Stops polling, lets calls in flight finish, and says what is still queued and whether the journal keeps it (unless discarded). */
  stop: (options: { discard: boolean }) => Promise<{ left: QueueReport[]; kept: boolean }>;
  /** Resolves when a control call asks the process to stop (`down --force` discards what is queued). */
  stopRequested: Promise<{ discard: boolean }>;
}

/** The function's environment, as `up` would configure it, pointed at the local endpoints. */
function functionEnvironment(ctx: Ctx, sqsEndpoint: string, modelEndpoint: string | undefined, connectionsEndpoint: string): Record<string, string | undefined> {
  // One local endpoint answers SQS and the results table (DynamoDB), as AWS's two endpoints do.
  const env: Record<string, string | undefined> = {
    ...process.env, ...workerEnvironment(ctx), [WORKER_ENV.connectionsEndpoint]: connectionsEndpoint,
    AWS_REGION: LOCAL_ACCOUNT.region, AWS_ENDPOINT_URL_SQS: sqsEndpoint, AWS_ENDPOINT_URL_DYNAMODB: sqsEndpoint,
  };
  if (modelEndpoint) {
    Object.assign(env, { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: modelEndpoint, AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey });
    delete env.AWS_PROFILE;
    delete env.AWS_SESSION_TOKEN;
  }
  return env;
}

/** Starts the local stack; if a part fails to start (a port in use, say), closes those already started. `opened` lists what `stop` closes, last opened first. */
export async function startLocalStack(options: StartOptions): Promise<LocalStack> {
  const opened: (() => Promise<unknown>)[] = [];
  try {
    return await assembleLocalStack(options, opened);
  } catch (err) {
    for (const close of opened.reverse()) await close().catch(() => undefined);
    throw err;
  }
}

async function assembleLocalStack(options: StartOptions, opened: (() => Promise<unknown>)[]): Promise<LocalStack> {
  const durable = await startJournaledAws(journalPath(options.stack), resourceNames(options.stack), { ...(options.sqsPort ? { sqsPort: options.sqsPort } : {}) });
  const { sqs: sqsServer, journal } = durable;
  opened.push(() => sqsServer.close().then(() => journal.close()));
  const sqsEndpoint = sqsServer.endpoint;
  const awsModel = options.settings.model.startsWith(AWS_MODEL_PREFIX);
  const { localModel } = options.settings;
  // The worker names the model it calls: a Bedrock id, the forwarding endpoint's model, or the local echo.
  const model = awsModel ? options.settings.model.slice(AWS_MODEL_PREFIX.length) : localModel.forwardTo ? options.settings.model : LOCAL_MODEL_ID;
  const settings = { ...options.settings, model };
  const ctx = await localContext(options.stack, sqsEndpoint, settings);
  ctx.settings = settings;
  for (const queue of [deadLetterQueue, resultsQueue, requestsQueue]) await createOrAdopt(ctx, queue);
  const requestsUrl = ctx.ids.queueUrls[ctx.names.requestsQueue]!;

  const modelServer = awsModel ? undefined : await startModelServer({ ...localModel, ...(options.modelEndpointKey ? { forwardKey: options.modelEndpointKey } : {}) });
  if (modelServer) opened.push(() => modelServer.close());
  // Batch inference answers through the local model: with a real Bedrock model (aws:<id>) there is none.
  const batch = modelServer && await startBatchServer({ directory: batchPath(options.stack), modelEndpoint: modelServer.endpoint, modelId: model, delayMs: settings.discountDelayMs ?? DISCOUNT_DELAY_MS });
  if (batch) opened.push(() => batch.close());
  const apiKey = settings.apiKeyRequired ? options.apiKey ?? randomBytes(20).toString('base64url') : undefined;
  const sockets = new LocalSockets({
    apiKey,
    invoke: (text, frame, connectionId) => queueRequest(sqsServer.call, requestsUrl, text, frame, connectionId),
    subscribe: async (id, connectionId) => {
      const update = subscribeUpdate(ctx.names.resultsTable, id, connectionId, Math.floor(Date.now() / 1000) + settings.resultsTtl);
      const { Attributes } = await durable.store.actions().UpdateItem!(update) as { Attributes?: Record<string, { S?: string; N?: string }> };
      return isExpired(Attributes?.[RESULT_ITEM.expiresAt]?.N) ? undefined : Attributes?.[RESULT_ITEM.record]?.S;
    },
  });
  const management = await startManagementServer(sockets);
  opened.push(() => management.close());
  // Lambda runs each concurrent invocation in a container of its own: here, up to one thread per core.
  const metrics = new MetricsRecorder(options.stack);
  // At a terminal, a line a request for people; in a log file (--detach) or a pipe, the JSON as CloudWatch would store it.
  const sandbox = new FunctionSandbox(workerBundle(), functionEnvironment(ctx, sqsEndpoint, modelServer?.endpoint, management.endpoint), Math.min(settings.concurrency, availableParallelism()),
    (line) => metrics.ingest(line), process.stderr.isTTY ? humanLogLine : undefined);
  opened.push(() => sandbox.close());
  await sandbox.start();

  const mapping = new MappingEmulator({
    sqs: sqsServer.call,
    queueUrl: requestsUrl,
    queueArn: queueArn(ctx, ctx.names.requestsQueue),
    region: LOCAL_ACCOUNT.region,
    batchSize: options.settings.batchSize ?? BATCH_SIZE,
    // With autopilot, where it had got to (the settings' concurrency is its ceiling).
    concurrency: settings.autopilot ? Math.min(settings.governor?.concurrency ?? settings.concurrency, settings.concurrency) : settings.concurrency,
    enabled: !options.settings.paused,
    timeoutMs: settings.timeout * 1000,
    handler: sandbox.handler,
  });

  const queueCounts = async (): Promise<QueueReport[]> => Promise.all([ctx.names.requestsQueue, ctx.names.deadLetterQueue, ctx.names.resultsQueue].map(async (name) => {
    const { Attributes = {} } = await ctx.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: ctx.ids.queueUrls[name], AttributeNames: ['All'] }));
    return { name, ...queueDepth(Attributes) };
  }));

  const { controlToken } = options;
  let requestStop!: (how: { discard: boolean }) => void;
  const stopRequested = new Promise<{ discard: boolean }>((resolve) => (requestStop = resolve));
  let invokeUrl = '';
  let current = options.settings;
  const keep = async (change: (now: LocalSettings) => Partial<LocalSettings>) => {
    current = { ...current, ...change(current) };
    await options.settingsChanged?.(current);
  };
  const governor = new LocalGovernor({
    mapping, metrics, settings: () => current, keep, stack: options.stack, log: (line) => process.stderr.write(`${line}\n`),
    backlog: () => sqsServer.service.queues.get(ctx.names.requestsQueue)?.counts().visible ?? 0,
  });

  const status = async (): Promise<LocalStatus> => ({
    stack: options.stack, pid: process.pid, model: settings.model, invokeUrl, mapping: mapping.status(), queues: await queueCounts(), ...(modelServer ? { modelStats: modelServer.stats() } : {}),
    governor: governor.report(),
    ...(batch ? { discountJobs: batch.running() } : {}),
  });

  const readMetrics = (windowSeconds: number): MetricsReading => ({
    ...metrics.read(windowSeconds),
    oldestRequestAgeSeconds: sqsServer.service.queues.get(ctx.names.requestsQueue)?.oldestAgeSeconds() ?? null,
    invocationsInFlight: mapping.status().inFlight,
  });

  const extra = controlRoutes({
    token: controlToken, mapping, modelServer, requestStop, keep, settings: () => current,
    status: async (windowSeconds) => ({ ...(await status()), ...(windowSeconds > 0 ? { metrics: readMetrics(Math.min(windowSeconds, MAX_METRICS_WINDOW_SECONDS)) } : {}) }),
  });

  const startApi = (port: number | undefined) => startApiServer({
    port,
    apiKey,
    rateLimit: settings.rateLimit,
    burstLimit: settings.burstLimit,
    corsOrigin: settings.corsOrigin,
    sqs: sqsServer.call,
    requestsQueueUrl: requestsUrl,
    // As API Gateway's integration reads the table: the stored record, or nothing yet.
    storedResult: (id) => (durable.store.expired(id, RESULT_ITEM.expiresAt) ? undefined : durable.store.text(id, RESULT_ITEM.record)),
    extra,
    sockets,
  });
  const api = await startApi(options.port).catch((err: unknown) => {
    if (options.portIsPreference && err instanceof CliError) return startApi(undefined);
    throw err;
  });
  opened.push(() => api.close());
  invokeUrl = api.invokeUrl;
  mapping.start();
  governor.start();
  opened.push(() => governor.stop());

  return {
    apiUrl: api.url,
    invokeUrl: api.invokeUrl,
    websocketUrl: api.websocketUrl,
    apiKey,
    sqsEndpoint,
    modelEndpoint: modelServer?.endpoint,
    ...(batch ? { batchEndpoint: batch.endpoint } : {}),
    controlToken,
    status,
    stopRequested,
    ...(durable.recovered ? { recovered: durable.recovered } : {}),
    stop: async ({ discard }) => {
      const stopped = mapping.stop();
      // Long polls waiting for messages end now, not when their wait runs out.
      sqsServer.service.close();
      await stopped;
      const left = await queueCounts();
      for (const close of opened.reverse()) await close();
      const kept = !discard && left.some((q) => q.visible + q.inFlight + q.delayed > 0);
      if (!kept) await journal.remove();
      return { left, kept };
    },
  };
}
