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
import { LAMBDA_HANDLER, LAMBDA_RUNTIME, STACK_TAG, WORKER_ENV } from '../contract.js';
import { CliError, errorName, foreignError } from '../errors.js';
import { functionArn, roleArn } from './arns.js';
import { change, missingTags, orMissing, tagChanges } from './diff.js';
import { RULES, pollUntil } from './retry.js';
import type { Change, Ctx, Live, Resource, Settings } from './types.js';

export interface FunctionLive extends Live {
  config: FunctionConfiguration;
}

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

function configurationChanges(ctx: Ctx, config: FunctionConfiguration): Change[] {
  const desired = desiredConfiguration(ctx, config);
  return [
    ...change('Runtime', config.Runtime, desired.Runtime),
    ...change('Handler', config.Handler, desired.Handler),
    ...change('Role', config.Role, desired.Role),
    ...change('Timeout', config.Timeout, desired.Timeout),
    ...change('MemorySize', config.MemorySize, desired.MemorySize),
    ...change('Environment', config.Environment?.Variables, desired.Environment.Variables),
  ];
}

/**
 * Waits for State Active and LastUpdateStatus Successful, the acceptors of the SDK's
 * waitUntilFunctionActiveV2 / waitUntilFunctionUpdatedV2; a Failed function stops `up` with
 * Lambda's reason code and reason instead of being taken for ready.
 */
async function waitUntilSettled(ctx: Ctx) {
  const FunctionName = ctx.names.workerFunction;
  const config = await pollUntil(ctx, `function ${FunctionName} to be Active`,
    () => ctx.clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName })),
    (c) => c.State === 'Failed' || c.LastUpdateStatus === 'Failed' || (c.State === 'Active' && (c.LastUpdateStatus ?? 'Successful') === 'Successful'));
  if (config.State === 'Failed') {
    throw new CliError(`Lambda function ${FunctionName} failed to become Active: ${config.StateReasonCode ?? 'no reason code'}: ${config.StateReason ?? 'no reason given'}`);
  }
  if (config.LastUpdateStatus === 'Failed') {
    throw new CliError(`The update of Lambda function ${FunctionName} failed: ${config.LastUpdateStatusReasonCode ?? 'no reason code'}: ${config.LastUpdateStatusReason ?? 'no reason given'}`);
  }
}

/** Lambda returns Tags from GetFunction only to callers allowed lambda:ListTags; otherwise TagsError. */
function tagsOf(found: GetFunctionCommandOutput, FunctionName: string): Record<string, string> {
  if (found.TagsError) {
    throw new CliError(`Cannot read the tags of Lambda function ${FunctionName} (${found.TagsError.ErrorCode ?? 'TagsError'}: ${found.TagsError.Message ?? ''}), `
      + 'so bedrock-queue cannot tell whether it is this stack\'s: grant lambda:ListTags on it (see "bedrock-queue policy").');
  }
  return found.Tags ?? {};
}

const createRetry = [RULES.iamPropagation];
const updateRetry = [RULES.iamPropagation, RULES.functionBusy];

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
      ...change('CodeSha256', live.config.CodeSha256, code.sha256),
      ...tagChanges(ctx.tags, live.tags),
    ];
  },
  async create(ctx) {
    const code = await ctx.code();
    try {
      await ctx.retry(createRetry, () => ctx.clients.lambda.send(new CreateFunctionCommand({
        FunctionName: ctx.names.workerFunction,
        ...desiredConfiguration(ctx),
        Code: { ZipFile: code.zip },
        Architectures: ['arm64'],
        Description: `bedrock-queue worker for stack ${ctx.stack}`,
        Tags: ctx.tags,
      })));
    } catch (err) {
      // A create that was interrupted or retried may have succeeded: adopt the function if it is ours.
      if (errorName(err) !== 'ResourceConflictException') throw err;
      const live = await workerFunction.read(ctx);
      if (!live || live.tags[STACK_TAG] !== ctx.stack) throw foreignError([{ kind: workerFunction.kind, name: ctx.names.workerFunction }], ctx.stack);
      await waitUntilSettled(ctx);
      await workerFunction.update(ctx, live);
      return;
    }
    await waitUntilSettled(ctx);
  },
  async update(ctx, live) {
    const FunctionName = ctx.names.workerFunction;
    if (configurationChanges(ctx, live.config).length) {
      await ctx.retry(updateRetry, () => ctx.clients.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName, ...desiredConfiguration(ctx, live.config) })));
      await waitUntilSettled(ctx);
    }
    const code = await ctx.code();
    if (code.sha256 !== live.config.CodeSha256) {
      await ctx.retry(updateRetry, () => ctx.clients.lambda.send(new UpdateFunctionCodeCommand({ FunctionName, ZipFile: code.zip, Architectures: ['arm64'] })));
      await waitUntilSettled(ctx);
    }
    const tags = missingTags(ctx.tags, live.tags);
    if (Object.keys(tags).length) await ctx.clients.lambda.send(new TagResourceCommand({ Resource: functionArn(ctx), Tags: tags }));
  },
  async remove(ctx) {
    await ctx.clients.lambda.send(new DeleteFunctionCommand({ FunctionName: ctx.names.workerFunction }));
  },
};

