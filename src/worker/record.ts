import { ConverseCommand, type BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { converseBody, converseText } from '../converse.js';
import { converseStreaming, type DeltaSink } from './stream.js';
import type { SQSRecord } from 'aws-lambda';
import { REQUEUE_ATTRIBUTES, validateInvokeRequest, type InvokeRequest, type ResultRecord } from '../contract.js';
import { ACTIONS, CONNECTION_ATTRIBUTE } from '../stream-contract.js';
import type { Claim } from './claim.js';
import type { WorkerConfig } from './config.js';
import { THROTTLED_WAIT_MS } from '../governor/autopilot.js';

/**
 * A request ends with a result (ok, or an error that retrying cannot fix), finds its answer stored
 * already (a duplicate delivery, or a retry after a failed publish), or goes back to the queue.
 * `modelCalled` says whether its last attempt reached the model (its `latencyMs` is then the call's);
 * `claim` is the token of the claim this invocation holds on it in the results store.
 */
export type Outcome =
  | { kind: 'result'; record: SQSRecord; result: ResultRecord; request?: InvokeRequest; throttledCalls?: number; modelCalled: boolean; claim?: string }
  | { kind: 'stored'; record: SQSRecord; result: ResultRecord; text: string; modelCalled: false }
  | {
    kind: 'retry'; record: SQSRecord; attempt: number; code: string; message: string; latencyMs: number; throttledCalls?: number; modelCalled: boolean; claim?: string;
    /** Come back after this long: another invocation holds the request's claim until then. */
    waitSeconds?: number;
  };

/** The code of a request that another invocation is answering: it comes back when that claim ends. */
export const CLAIMED_ELSEWHERE = 'ClaimedElsewhere';

/** Bedrock errors that fail the same way every time. Everything else is worth another try. */
const TERMINAL_ERRORS = new Set(['ValidationException']);
/** Bedrock saying "too much, slow down": a sign of load, not of a bad request. */
export const THROTTLING_ERRORS = new Set(['ThrottlingException', 'ServiceQuotaExceededException']);
/** A model call is not started with less time than this left in the invocation. */
export const MIN_MODEL_MS = 250;
/**
 * A throttled call is tried again in the same invocation after a pause of 200-800 ms, for
 * THROTTLED_WAIT_MS at most (the governor reads throttling that late); then the request goes back to
 * the queue. Waiting in the invocation keeps the request ready for the moment the quota frees
 * capacity, with a few calls a second per lane where re-queueing alone would spin through the queue;
 * the mapping's concurrency still bounds the calls in flight.
 */
export const throttlePauseMs = (random: () => number = Math.random) => 200 + random() * 600;

export interface RecordDeps {
  bedrock: BedrockRuntimeClient;
  config: WorkerConfig;
  /** Epoch ms by which the model call must have finished. */
  deadline: number;
  /** Claims the request in the results store before its model call. */
  claim: (id: string) => Promise<Claim>;
  /** Where the answer streams to while it is written, when connections listen (absent: no WebSocket API). */
  listen?: (id: string, connections: string[]) => DeltaSink;
}

const attribute = (record: SQSRecord, name: string) => record.messageAttributes?.[name]?.stringValue;

/** Times the request was throttled and put back on the queue (0 for a request straight from the API). */
export function throttlesOf(record: SQSRecord): number {
  return Number(attribute(record, REQUEUE_ATTRIBUTES.throttles) ?? 0) || 0;
}

/** How many times SQS has delivered this message: what its RedrivePolicy's maxReceiveCount counts. */
export function receiveCountOf(record: SQSRecord): number {
  return Number(record.attributes?.ApproximateReceiveCount ?? 1) || 1;
}

/** Attempts so far: receives of this message, plus the throttled attempts of the copies before it. */
export function attemptOf(record: SQSRecord): number {
  return receiveCountOf(record) + throttlesOf(record);
}

/** The error result of a request whose last attempt failed: SQS moves it to the DLQ next. */
export function finalError(outcome: Extract<Outcome, { kind: 'retry' }>, config: WorkerConfig, now = Date.now()): ResultRecord {
  return {
    ...resultBase(outcome.record, config, outcome.attempt),
    status: 'error',
    latencyMs: outcome.latencyMs,
    completedAt: new Date(now).toISOString(),
    error: { code: outcome.code, message: outcome.message },
    final: true,
    ...(config.deadLetterQueue ? { deadLetterQueue: config.deadLetterQueue } : {}),
  };
}

/** The id the API answered with, which a re-queued copy carries in an attribute. */
export function requestIdOf(record: SQSRecord): string {
  return attribute(record, REQUEUE_ATTRIBUTES.requestId) ?? record.messageId;
}

/** The WebSocket connection that sent the request (the `invoke` route), which its result goes to. */
export function connectionOf(record: SQSRecord): string | undefined {
  return attribute(record, CONNECTION_ATTRIBUTE);
}

/** When the API first queued the request (epoch ms). */
export function queuedAtOf(record: SQSRecord): number {
  return Number(attribute(record, REQUEUE_ATTRIBUTES.queuedAt) ?? record.attributes?.SentTimestamp);
}

/** The fields every result of this record carries. */
function resultBase(record: SQSRecord, config: WorkerConfig, attempt: number) {
  const sent = queuedAtOf(record);
  return {
    id: requestIdOf(record),
    model: config.modelId,
    attempt,
    ...(Number.isFinite(sent) ? { queuedAt: new Date(sent).toISOString() } : {}),
  };
}

function parseRequest(body: string): { request: InvokeRequest } | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    return { problem: `the body is not JSON (${(err as Error).message})` };
  }
  // A request from the WebSocket API carries its route, `"action": "invoke"`, beside the body.
  if (parsed && typeof parsed === 'object' && (parsed as { action?: unknown }).action === ACTIONS.invoke) {
    const { action: _, ...body } = parsed as Record<string, unknown>;
    parsed = body;
  }
  const problems = validateInvokeRequest(parsed);
  return problems.length ? { problem: problems.join('; ') } : { request: parsed as InvokeRequest };
}

export async function processRecord(record: SQSRecord, deps: RecordDeps): Promise<Outcome> {
  const { config } = deps;
  const attempt = attemptOf(record);
  const base = resultBase(record, config, attempt);
  const fail = (code: string, message: string, latencyMs = 0, request?: InvokeRequest): Extract<Outcome, { kind: 'result' }> => ({
    kind: 'result',
    record,
    request,
    // A body that fails validation never reaches the model; any other error result came from it.
    modelCalled: request !== undefined,
    result: { ...base, status: 'error', latencyMs, ...(request?.metadata ? { metadata: request.metadata } : {}), completedAt: new Date().toISOString(), error: { code, message } },
  });

  const parsed = parseRequest(record.body);
  if ('problem' in parsed) return fail('InvalidRequest', parsed.problem);
  const { request } = parsed;

  const timeLeft = deps.deadline - Date.now();
  if (timeLeft < MIN_MODEL_MS) {
    return { kind: 'retry', record, attempt, code: 'TimeBudgetExceeded', message: `only ${Math.max(0, timeLeft)} ms left in this invocation`, latencyMs: 0, modelCalled: false };
  }

  // One model call per request: whoever holds the claim calls; a stored answer is published again.
  const claimed = await deps.claim(base.id).catch((err: unknown) => err as Error);
  if (claimed instanceof Error) {
    return { kind: 'retry', record, attempt, code: 'StoreUnavailable', message: `the results store did not take the claim: ${claimed.name}: ${claimed.message.split('\n')[0]}`, latencyMs: 0, modelCalled: false };
  }
  if (claimed.kind === 'answered') return { kind: 'stored', record, result: claimed.record, text: claimed.text, modelCalled: false };
  if (claimed.kind === 'busy') {
    const waitSeconds = Math.max(1, Math.ceil((claimed.untilMs - Date.now()) / 1000));
    return { kind: 'retry', record, attempt, code: CLAIMED_ELSEWHERE, message: `another invocation is answering it (its claim ends in ${waitSeconds} s)`, latencyMs: 0, modelCalled: false, waitSeconds };
  }
  const claim = claimed.token;
  // Someone listens (a subscribe, or the socket the request came from): the answer streams to them.
  const listeners = [...claimed.listeners, ...[connectionOf(record)].filter((c): c is string => !!c)];
  const sink = listeners.length ? deps.listen?.(base.id, listeners) : undefined;

  const input = { modelId: config.modelId, ...converseBody(request, { maxTokens: config.defaultMaxTokens, ...(config.defaultTemperature !== undefined ? { temperature: config.defaultTemperature } : {}) }) };
  let throttledCalls = 0;
  let waited = 0;
  const call = async (signal: AbortSignal) => {
    if (!sink) {
      const response = await deps.bedrock.send(new ConverseCommand(input), { abortSignal: signal });
      return { text: converseText(response), stopReason: response.stopReason, usage: response.usage };
    }
    // An answer that starts again (another attempt) says so first: listeners drop what they showed.
    if (attempt > 1 || throttledCalls > 0) sink.restart();
    return converseStreaming(deps.bedrock, input, sink, signal);
  };
  try {
    for (;;) {
      const budget = deps.deadline - Date.now();
      const started = Date.now();
      try {
        const response = await call(AbortSignal.timeout(budget));
        const usage = response.usage;
        return {
          kind: 'result',
          record,
          request,
          ...(throttledCalls ? { throttledCalls } : {}),
          modelCalled: true,
          claim,
          result: {
            ...base,
            attempt: attempt + throttledCalls,
            status: 'ok',
            output: response.text,
            stopReason: response.stopReason,
            ...(usage ? { usage: { inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0, totalTokens: usage.totalTokens ?? 0 } } : {}),
            latencyMs: Date.now() - started,
            ...(request.metadata ? { metadata: request.metadata } : {}),
            completedAt: new Date().toISOString(),
          },
        };
      } catch (err) {
        const latencyMs = Date.now() - started;
        const name = (err as Error)?.name ?? 'Error';
        const message = ((err as Error)?.message ?? String(err)).split('\n')[0]!;
        // This call's attempt number; throttledCalls, read when returning, includes this call if it was throttled.
        const thisAttempt = attempt + throttledCalls;
        const retry = (code: string, why: string): Outcome => ({ kind: 'retry', record, attempt: thisAttempt, code, message: why, latencyMs, throttledCalls, modelCalled: true, claim });
        if (TERMINAL_ERRORS.has(name)) return { ...fail(name, message, latencyMs, request), claim };
        if (name === 'AbortError' || name === 'TimeoutError') return retry('TimeBudgetExceeded', `the model did not answer within the ${budget} ms left in this invocation`);
        if (!THROTTLING_ERRORS.has(name)) return retry(name === 'Error' ? 'NetworkError' : name, message);
        throttledCalls++;
        const pause = throttlePauseMs();
        if (waited + pause > THROTTLED_WAIT_MS || deps.deadline - Date.now() - pause < MIN_MODEL_MS) return retry(name, message);
        await new Promise((resolve) => setTimeout(resolve, pause));
        waited += pause;
      }
    }
  } finally {
    await sink?.flush();
  }
}
