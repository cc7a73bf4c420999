import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  TagResourceCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  type FunctionConfiguration,
} from '@aws-sdk/client-lambda';
import { LAMBDA_HANDLER, LAMBDA_RUNTIME, WORKER_ENV } from '../contract.js';
import { functionArn, roleArn } from './arns.js';
import { change, missingTags, orMissing, tagChanges } from './diff.js';
import { RULES, pollUntil } from './retry.js';
import type { Change, Ctx, Live, Resource, Settings } from './types.js';

export interface FunctionLive extends Live {
  config: FunctionConfiguration;
}

export function workerEnvironment(ctx: Ctx): Record<string, string> {
  const env: Record<string, string> = {
    [WORKER_ENV.stackName]: ctx.stack,
    [WORKER_ENV.resultsQueueUrl]: ctx.ids.queueUrls[ctx.names.resultsQueue] ?? '(results queue URL, once created)',
    [WORKER_ENV.modelId]: ctx.settings.model,
    [WORKER_ENV.defaultMaxTokens]: String(ctx.settings.maxTokens),
  };
  if (ctx.settings.temperature !== undefined) env[WORKER_ENV.defaultTemperature] = String(ctx.settings.temperature);
  return env;
}

function desiredConfiguration(ctx: Ctx) {
  return {
    Runtime: LAMBDA_RUNTIME,
    Handler: LAMBDA_HANDLER,
    Role: roleArn(ctx, ctx.names.workerRole),
    Timeout: ctx.settings.timeout,
    MemorySize: ctx.settings.memory,
    Environment: { Variables: workerEnvironment(ctx) },
  };
}

function configurationChanges(ctx: Ctx, config: FunctionConfiguration): Change[] {
  const desired = desiredConfiguration(ctx);
  return [
    ...change('Runtime', config.Runtime, desired.Runtime),
    ...change('Handler', config.Handler, desired.Handler),
    ...change('Role', config.Role, desired.Role),
    ...change('Timeout', config.Timeout, desired.Timeout),
    ...change('MemorySize', config.MemorySize, desired.MemorySize),
    ...change('Environment', config.Environment?.Variables, desired.Environment.Variables),
  ];
}

async function waitUntilSettled(ctx: Ctx) {
  await pollUntil(ctx, `function ${ctx.names.workerFunction} to be ready`,
    () => ctx.clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: ctx.names.workerFunction })),
    (c) => c.State !== 'Pending' && c.LastUpdateStatus !== 'InProgress');
}

const lambdaRetry = [RULES.iamPropagation, RULES.functionBusy];

export const workerFunction: Resource<FunctionLive> = {
  key: 'function',
  kind: 'Lambda function',
  name: (ctx) => ctx.names.workerFunction,
  async read(ctx) {
    const found = await orMissing(ctx.clients.lambda.send(new GetFunctionCommand({ FunctionName: ctx.names.workerFunction })));
    return found?.Configuration ? { config: found.Configuration, tags: found.Tags ?? {} } : undefined;
  },
  liveSettings(live): Partial<Settings> {
    const env = live.config.Environment?.Variables ?? {};
    const settings: Partial<Settings> = {};
    if (live.config.Timeout) settings.timeout = live.config.Timeout;
    if (live.config.MemorySize) settings.memory = live.config.MemorySize;
    if (env[WORKER_ENV.modelId]) settings.model = env[WORKER_ENV.modelId];
    if (env[WORKER_ENV.defaultMaxTokens]) settings.maxTokens = Number(env[WORKER_ENV.defaultMaxTokens]);
    if (env[WORKER_ENV.defaultTemperature]) settings.temperature = Number(env[WORKER_ENV.defaultTemperature]);
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
    await ctx.retry(lambdaRetry, () => ctx.clients.lambda.send(new CreateFunctionCommand({
      FunctionName: ctx.names.workerFunction,
      ...desiredConfiguration(ctx),
      Code: { ZipFile: code.zip },
      Architectures: ['arm64'],
      Description: `bedrock-queue worker for stack ${ctx.stack}`,
      Tags: ctx.tags,
    })));
    await waitUntilSettled(ctx);
  },
  async update(ctx, live) {
    const FunctionName = ctx.names.workerFunction;
    if (configurationChanges(ctx, live.config).length) {
      await ctx.retry(lambdaRetry, () => ctx.clients.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName, ...desiredConfiguration(ctx) })));
      await waitUntilSettled(ctx);
    }
    const code = await ctx.code();
    if (code.sha256 !== live.config.CodeSha256) {
      await ctx.retry(lambdaRetry, () => ctx.clients.lambda.send(new UpdateFunctionCodeCommand({ FunctionName, ZipFile: code.zip, Architectures: ['arm64'] })));
      await waitUntilSettled(ctx);
    }
    const tags = missingTags(ctx.tags, live.tags);
    if (Object.keys(tags).length) await ctx.clients.lambda.send(new TagResourceCommand({ Resource: functionArn(ctx), Tags: tags }));
  },
  async remove(ctx) {
    await ctx.clients.lambda.send(new DeleteFunctionCommand({ FunctionName: ctx.names.workerFunction }));
  },
};

