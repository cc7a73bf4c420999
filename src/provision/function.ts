import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  TagResourceCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  type FunctionConfiguration,
  type GetFunctionCommandOutput,
} from '@aws-sdk/client-lambda';
import { LAMBDA_HANDLER, LAMBDA_RUNTIME, WORKER_ENV, connectionsEndpoint } from '../contract.js';
import { CliError, errorName } from '../errors.js';
import { waitFor } from '../waiter.js';
import { functionArn, roleArn } from './arns.js';
import { change, orMissing } from './diff.js';
import { RULES } from './retry.js';
import type { Change, Ctx, Live, Resource, Settings } from './types.js';

export interface FunctionLive extends Live {
  config: FunctionConfiguration;
}

const createRetry = [RULES.iamPropagation];
const updateRetry = [RULES.iamPropagation, RULES.functionBusy];

/**
 * The worker's environment. The results queue's URL is known once the queue is read or created; a
 * queue deleted by hand is created again under the same name, so until then the live value holds.
 */
export function workerEnvironment(ctx: Ctx, live?: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    [WORKER_ENV.stackName]: ctx.stack,
    [WORKER_ENV.resultsQueueUrl]: ctx.ids.queueUrls[ctx.names.resultsQueue] ?? live?.[WORKER_ENV.resultsQueueUrl] ?? '(results queue URL, once created)',
    [WORKER_ENV.modelId]: ctx.settings.model,
    [WORKER_ENV.defaultMaxTokens]: String(ctx.settings.maxTokens),
    [WORKER_ENV.maxReceiveCount]: String(ctx.settings.maxReceiveCount),
    [WORKER_ENV.resultsTable]: ctx.names.resultsTable,
    [WORKER_ENV.resultsTtlSeconds]: String(ctx.settings.resultsTtl),
  };
  if (ctx.settings.temperature !== undefined) env[WORKER_ENV.defaultTemperature] = String(ctx.settings.temperature);
  // A WebSocket API created again has a new id: unlike a queue's URL, the live value does not hold.
  const apiId = ctx.ids.websocketApiId;
  env[WORKER_ENV.connectionsEndpoint] = apiId ? connectionsEndpoint(ctx.account.region, apiId, ctx.emulatorEndpoint) : '(the WebSocket API\'s, once created)';
  return env;
}

function desiredConfiguration(ctx: Ctx, live?: FunctionConfiguration) {
  return {
    Runtime: LAMBDA_RUNTIME,
    Handler: LAMBDA_HANDLER,
    Role: roleArn(ctx, ctx.names.workerRole),
    Timeout: ctx.settings.timeout,
    MemorySize: ctx.settings.memory,
    Environment: { Variables: workerEnvironment(ctx, live?.Environment?.Variables) },
  };
}

/** The configuration fields that differ, all set by one UpdateFunctionConfiguration. */
function configurationChanges(ctx: Ctx, config: FunctionConfiguration): Change[] {
  const desired = desiredConfiguration(ctx, config);
  const put = async () => {
    const FunctionName = ctx.names.workerFunction;
    // Computed again: the results queue's URL may have been learned since the plan.
    await ctx.retry(updateRetry, () => ctx.clients.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName, ...desiredConfiguration(ctx, config) })));
    await waitUntilSettled(ctx);
  };
  return [
    ...change('Runtime', config.Runtime, desired.Runtime, put),
    ...change('Handler', config.Handler, desired.Handler, put),
    ...change('Role', config.Role, desired.Role, put),
    ...change('Timeout', config.Timeout, desired.Timeout, put),
    ...change('MemorySize', config.MemorySize, desired.MemorySize, put),
    ...change('Environment', config.Environment?.Variables, desired.Environment.Variables, put),
  ];
}

/**
 * Waits for State Active and LastUpdateStatus Successful, the acceptors of the SDK's
 * waitUntilFunctionActiveV2 / waitUntilFunctionUpdatedV2; a Failed function stops `up` with
 * Lambda's reason code and reason instead of being taken for ready.
 */
async function waitUntilSettled(ctx: Ctx) {
  const FunctionName = ctx.names.workerFunction;
  await waitFor(ctx, {
    what: `function ${FunctionName} to be Active`,
    read: () => ctx.clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName })),
    done: (c) => c.State === 'Active' && (c.LastUpdateStatus ?? 'Successful') === 'Successful',
    failed: (c) => {
      if (c.State === 'Failed') return new CliError(`Lambda function ${FunctionName} failed to become Active: ${c.StateReasonCode ?? 'no reason code'}: ${c.StateReason ?? 'no reason given'}`);
      if (c.LastUpdateStatus === 'Failed') return new CliError(`The update of Lambda function ${FunctionName} failed: ${c.LastUpdateStatusReasonCode ?? 'no reason code'}: ${c.LastUpdateStatusReason ?? 'no reason given'}`);
      return undefined;
    },
    intervalMs: 500, maxIntervalMs: 5_000, timeoutMs: 10 * 60_000,
    reference: 'Lambda function states: Pending after CreateFunction, LastUpdateStatus InProgress after an update, usually for seconds (the SDK waiters FunctionActiveV2 and FunctionUpdatedV2 poll the same fields); 10 minutes is our bound',
  });
}

/** Lambda returns Tags from GetFunction only to callers allowed lambda:ListTags; otherwise TagsError. */
function tagsOf(found: GetFunctionCommandOutput, FunctionName: string): Record<string, string> {
  if (found.TagsError) {
    throw new CliError(`Cannot read the tags of Lambda function ${FunctionName} (${found.TagsError.ErrorCode ?? 'TagsError'}: ${found.TagsError.Message ?? ''}), `
      + 'so bedrock-queue cannot tell whether it is this stack\'s: grant lambda:ListTags on it (see "bedrock-queue policy").');
  }
  return found.Tags ?? {};
}

export const workerFunction: Resource<FunctionLive> = {
  key: 'function',
  kind: 'Lambda function',
  name: (ctx) => ctx.names.workerFunction,
  async read(ctx) {
    const FunctionName = ctx.names.workerFunction;
    const found = await orMissing(ctx.clients.lambda.send(new GetFunctionCommand({ FunctionName })));
    return found?.Configuration ? { config: found.Configuration, tags: tagsOf(found, FunctionName) } : undefined;
  },
  liveSettings(live): Partial<Settings> {
    const env = live.config.Environment?.Variables ?? {};
    const settings: Partial<Settings> = {};
    if (live.config.Timeout) settings.timeout = live.config.Timeout;
    if (live.config.MemorySize) settings.memory = live.config.MemorySize;
    if (env[WORKER_ENV.modelId]) settings.model = env[WORKER_ENV.modelId];
    if (env[WORKER_ENV.defaultMaxTokens]) settings.maxTokens = Number(env[WORKER_ENV.defaultMaxTokens]);
    if (env[WORKER_ENV.defaultTemperature]) settings.temperature = Number(env[WORKER_ENV.defaultTemperature]);
    if (Number(env[WORKER_ENV.resultsTtlSeconds]) > 0) settings.resultsTtl = Number(env[WORKER_ENV.resultsTtlSeconds]);
    return settings;
  },
  async diff(ctx, live) {
    const code = await ctx.code();
    return [
      ...configurationChanges(ctx, live.config),
      ...change('CodeSha256', live.config.CodeSha256, code.sha256, async () => {
        await ctx.retry(updateRetry, () => ctx.clients.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: ctx.names.workerFunction, ZipFile: code.zip, Architectures: ['arm64'] })));
        await waitUntilSettled(ctx);
      }),
    ];
  },
  async create(ctx) {
    const code = await ctx.code();
    await ctx.retry(createRetry, () => ctx.clients.lambda.send(new CreateFunctionCommand({
      FunctionName: ctx.names.workerFunction,
      ...desiredConfiguration(ctx),
      Code: { ZipFile: code.zip },
      Architectures: ['arm64'],
      Description: `bedrock-queue worker for stack ${ctx.stack}`,
      Tags: ctx.tags,
    })));
    await waitUntilSettled(ctx);
    return {};
  },
  // A create that was interrupted or retried may have succeeded: that function may still be Pending.
  createConflict: (err) => errorName(err) === 'ResourceConflictException',
  settle: (ctx) => waitUntilSettled(ctx),
  async tag(ctx, _live, tags) {
    await ctx.clients.lambda.send(new TagResourceCommand({ Resource: functionArn(ctx), Tags: tags }));
  },
  async remove(ctx) {
    await ctx.clients.lambda.send(new DeleteFunctionCommand({ FunctionName: ctx.names.workerFunction }));
  },
};
