import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { WORKER_ENV, WORKER_RESERVE_MS, type ResultRecord } from '../contract.js';
import { readConfig, type WorkerConfig } from './config.js';
import { claimsToGiveBack, endBatch, planBatch, toPublish } from './decide.js';
import { claimRequest, readListeners, releaseClaim } from './claim.js';
import { delayRetries, publishResults, queueUrlOf, requeue } from './publish.js';
import { emfDocument, requestMetrics, writeLogLine } from './metrics.js';
import { storeResults } from './store.js';
import { pushResults, type Delivery } from './push.js';
import { deltaPoster } from './stream.js';
import { connectionOf, processRecord, queuedAtOf, requestIdOf, throttlesOf, type Outcome } from './record.js';
import { isGovernorEvent, type GovernorEvent } from '../governor/config.js';
import type { GovernorClients } from './governor.js';

const keepAlive = new HttpAgent({ keepAlive: true });
const keepAliveTls = new HttpsAgent({ keepAlive: true });
let clients: { bedrock: BedrockRuntimeClient; sqs: SQSClient; dynamo: DynamoDBClient } | undefined;
let connections: ApiGatewayManagementApiClient | undefined;

/**
 * One set of clients per container; region and endpoints come from the standard AWS environment.
 * - The SDK retries no Bedrock call: the worker pauses and retries throttled ones, the queue the rest.
 * - Converse goes over HTTP/1.1 with keep-alive: the SDK's default HTTP/2 handler opened a new
 *   connection for every call, which tripled the worker's CPU per request (BENCHMARKS.md).
 * - The SQS client is given an emulator's endpoint explicitly, or it sends calls to the host in QueueUrl.
 */
function getClients() {
  const sqsEndpoint = process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL;
  clients ??= {
    bedrock: new BedrockRuntimeClient({ maxAttempts: 1, requestHandler: new NodeHttpHandler({ httpAgent: keepAlive, httpsAgent: keepAliveTls }) }),
    sqs: new SQSClient(sqsEndpoint ? { endpoint: sqsEndpoint } : {}),
    dynamo: new DynamoDBClient({ requestHandler: new NodeHttpHandler({ httpAgent: keepAlive, httpsAgent: keepAliveTls }) }),
  };
  return clients;
}

async function mapWithLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** The request's log line, with its metrics: `ended` is the result published for it, if any; `retried`, whether SQS tries it again. */
function logOutcome(outcome: Outcome, config: WorkerConfig, ended: ResultRecord | undefined, requeued: boolean, retried: boolean) {
  const line: Record<string, unknown> = { level: 'info', message: 'request', id: requestIdOf(outcome.record) };
  const throttledCalls = outcome.kind === 'stored' ? 0 : outcome.throttledCalls ?? 0;
  if (ended) {
    Object.assign(line, {
      status: ended.status,
      attempt: ended.attempt,
      latencyMs: ended.latencyMs,
      inputTokens: ended.usage?.inputTokens,
      outputTokens: ended.usage?.outputTokens,
      errorCode: ended.error?.code,
      ...(ended.final ? { final: true } : {}),
    });
  } else if (outcome.kind === 'stored') {
    // Answered before (a duplicate delivery, or a publish tried again): published, not counted again.
    Object.assign(line, retried ? { status: 'retry', errorCode: 'ResultNotPublished' } : { status: 'duplicate' });
  } else if (outcome.kind === 'result') {
    Object.assign(line, { status: 'retry', attempt: outcome.result.attempt, latencyMs: outcome.result.latencyMs, errorCode: 'ResultNotPublished' });
  } else {
    Object.assign(line, { status: requeued ? 'requeued' : 'retry', attempt: outcome.attempt, latencyMs: outcome.latencyMs, errorCode: outcome.code, error: outcome.message });
  }
  if (throttledCalls) line.throttledCalls = throttledCalls;
  if (config.logText && outcome.kind === 'result') Object.assign(line, { prompt: outcome.request?.prompt, output: outcome.result.output });
  const values = requestMetrics(ended, throttledCalls, outcome.modelCalled);
  writeLogLine(config.stack ? emfDocument(line, config.stack, values, ended?.error?.code) : line);
}

/** The management API client of the WebSocket API's stage, one per container. */
function connectionsClient(endpoint: string) {
  connections ??= new ApiGatewayManagementApiClient({ endpoint, requestHandler: new NodeHttpHandler({ httpAgent: keepAlive, httpsAgent: keepAliveTls }) });
  return connections;
}

/** A record stored by this batch and the connections it goes to, gathered as the batch ends. */
type Waiting = Delivery & { connections: Set<string> };

/**
 * Posts the records stored by this batch to the connections subscribed to them, and to the socket
 * each request came from (the `invoke` route); a duplicate delivery posts the stored answer to its own.
 */
async function pushToListeners(endpoint: string, outcomes: Outcome[], deliveries: Map<string, Waiting>) {
  for (const o of outcomes) {
    const connection = connectionOf(o.record);
    if (!connection) continue;
    const id = requestIdOf(o.record);
    // A duplicate delivery found the answer stored before this batch: it goes to its own socket too.
    if (o.kind === 'stored' && !deliveries.has(id)) deliveries.set(id, { id, stored: o.text, connections: new Set() });
    deliveries.get(id)?.connections.add(connection);
  }
  const waiting = [...deliveries.values()].filter((d) => d.connections.size);
  if (!waiting.length) return;
  const tally = await pushResults(connectionsClient(endpoint), waiting);
  if (tally.gone || tally.failed) writeLogLine({ level: tally.failed ? 'warn' : 'info', message: 'push', ...tally });
}

let governorClients: GovernorClients | undefined;

/**
 * The schedule's tick (--autopilot, --budget), loaded only by the invocations that need it. A tick
 * that fails is logged, not thrown: Lambda would retry an asynchronous invocation that throws, and
 * stack late ticks behind the next minute's.
 */
async function govern(event: GovernorEvent): Promise<void> {
  try {
    const [{ governMapping }, { LambdaClient }, { CloudWatchClient }] = await Promise.all([import('./governor.js'), import('@aws-sdk/client-lambda'), import('@aws-sdk/client-cloudwatch')]);
    const { stack } = readConfig();
    if (!stack) throw new Error(`${WORKER_ENV.stackName} is not set: the governor cannot name its stack's metrics`);
    governorClients ??= { lambda: new LambdaClient({}), cloudwatch: new CloudWatchClient({}), sqs: getClients().sqs };
    await governMapping(event, stack, governorClients);
  } catch (err) {
    writeLogLine({ level: 'error', message: 'governor', error: `${(err as Error).name}: ${(err as Error).message}`, next: 'the next tick, in a minute' });
  }
}

/**
 * The Lambda handler: each record ends in a published result, or is reported in batchItemFailures
 * (with a shortened visibility) to be tried again. It never throws: the return value is the only signal.
 * The governor's event (from its schedule) is the one exception: a tick that fails throws, and is logged.
 */
export async function handler(event: SQSEvent | GovernorEvent, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SQSBatchResponse> {
  if (isGovernorEvent(event)) {
    await govern(event);
    return { batchItemFailures: [] };

  }
  const records = event.Records ?? [];
  let config: WorkerConfig;
  try {
    config = readConfig();
  } catch (err) {
    writeLogLine({ level: 'error', message: (err as Error).message });
    return { batchItemFailures: records.map((r) => ({ itemIdentifier: r.messageId })) };
  }
  const { bedrock, sqs, dynamo } = getClients();
  const deadline = Date.now() + context.getRemainingTimeInMillis() - WORKER_RESERVE_MS;

  // A claim lasts until this invocation ends: one that crashes leaves it to expire.
  const claimUntil = Date.now() + context.getRemainingTimeInMillis();
  const claim = (id: string) => claimRequest(dynamo, config.resultsTable, id, claimUntil, config.resultsTtlSeconds);
  const endpoint = config.connectionsEndpoint;
  const listen = endpoint
    ? (id: string, to: string[]) => deltaPoster(connectionsClient(endpoint), id, to, { listeners: () => readListeners(dynamo, config.resultsTable, id) })
    : undefined;
  const outcomes = await mapWithLimit(records, config.recordConcurrency, (record) =>
    processRecord(record, { bedrock, config, deadline, claim, listen }).catch((err: unknown): Outcome => ({
      kind: 'retry', record, attempt: 1, code: 'WorkerError', message: String(err), latencyMs: 0, modelCalled: false,
    })));

  const plan = planBatch(outcomes, config, Date.now());
  // The store first: the results queue gets what the store holds. A final error the store did not
  // take is published all the same, so that it is not lost as its request moves to the DLQ.
  const deliveries = new Map<string, Waiting>();
  const heard = (id: string, stored: string, listeners: string[]) => deliveries.set(id, { id, stored, connections: new Set(listeners) });
  const stored = plan.results.length ? await storeResults(dynamo, config.resultsTable, config.resultsTtlSeconds, plan.results, heard) : new Map<string, string>();
  const bodies = toPublish(outcomes, plan, stored);
  const notQueued = bodies.length ? await publishResults(sqs, config.resultsQueueUrl, bodies) : new Set<string>();
  const unpublished = new Set([...plan.results.filter((r) => !stored.has(r.id)).map((r) => r.id), ...notQueued]);
  const notRequeued = plan.requeue.length ? await requeue(sqs, plan.requeue.map((o) => ({
    queueUrl: queueUrlOf(o.record.eventSourceARN),
    body: o.record.body,
    requestId: requestIdOf(o.record),
    queuedAt: queuedAtOf(o.record),
    throttles: throttlesOf(o.record) + (o.throttledCalls ?? 1),
  }))) : new Set<string>();
  const { retries, requeued, ended } = endBatch(outcomes, plan, notRequeued, unpublished);
  await Promise.all(claimsToGiveBack(outcomes, stored).map(({ id, claim }) => releaseClaim(dynamo, config.resultsTable, id, claim)));
  await delayRetries(sqs, retries.map(({ outcome, seconds }) => ({ queueUrl: queueUrlOf(outcome.record.eventSourceARN), receiptHandle: outcome.record.receiptHandle, seconds })));
  const retried = new Set(retries.map((r) => r.outcome));
  if (config.connectionsEndpoint) await pushToListeners(config.connectionsEndpoint, outcomes, deliveries);
  for (const o of outcomes) logOutcome(o, config, ended.get(requestIdOf(o.record)), requeued.has(o), retried.has(o));
  return { batchItemFailures: retries.map(({ outcome }) => ({ itemIdentifier: outcome.record.messageId })) };
}
