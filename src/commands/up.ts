import type { ArgumentsCamelCase, Argv } from 'yargs';
import { defineCommand } from './command.js';
import { DEFAULT_MODEL_ID, MODEL_ID_PATTERN, TAG_RULES, invokeUrl as invokeUrlOf, websocketUrl as websocketUrlOf } from '../contract.js';
import { settingOptions, settingsFromArgs } from '../settings.js';
import { formatValue, plural, table, type Output } from '../output.js';
import type { Ctx } from '../provision/types.js';
import type { StackOptions } from '../settings.js';
import { foreignError, UsageError } from '../errors.js';
import { duration, integerIn, keyValues, numberIn } from '../flag-values.js';
import { budgetProblem } from '../governor/config.js';
import { governorSettingRows } from './governor-format.js';
import { tagProblem, type GlobalArgs } from './options.js';
import type { UpArgs } from './up-args.js';
import { callStats, openStack, resourceTable } from './session.js';



const keep = 'kept from the live stack when not given';

function checkModel(argv: { model?: string; modelEndpoint?: string; local?: boolean; [flag: string]: unknown }): true {
  const { model, modelEndpoint } = argv;
  if (modelEndpoint === undefined) {
    if (model !== undefined && !MODEL_ID_PATTERN.test(model.replace(/^aws:/, ''))) throw new UsageError(`--model "${model}" is not a Bedrock model id (e.g. anthropic.claude-3-haiku-20240307-v1:0) or inference profile id (e.g. ${DEFAULT_MODEL_ID})`);
    return true;
  }
  if (!argv.local) throw new UsageError('--model-endpoint works with --local only.');
  if (!/^https?:\/\/[^\s/]+/.test(modelEndpoint)) throw new UsageError(`--model-endpoint must be an http:// or https:// URL, such as http://127.0.0.1:11434/v1 (got ${modelEndpoint})`);
  if (!model || model.startsWith('aws:') || /\s/.test(model)) throw new UsageError('--model-endpoint needs --model naming one of that server\'s models, e.g. --model llama3.2');
  return true;
}

/** A duration flag from min to max milliseconds. */
const durationIn = (flag: string, min: number, max: number) => (value: unknown) => {
  const ms = duration(flag)(value);
  if (ms !== undefined && !(ms >= min && ms <= max)) throw new UsageError(`--${flag} must be from ${min / 1000}s to ${max / 3_600_000}h (got ${String(value)})`);
  return ms;
};

/** A latency flag of the local model: 0, 200ms, 2s or a range 100-300ms. */
const latencyFlag = (flag: string) => (v?: string) => {
  if (v !== undefined && !/^\d+(\.\d+)?(-\d+(\.\d+)?)?(ms|s)?$/.test(v)) throw new UsageError(`--${flag} must be like 0, 200ms, 2s or 100-300ms (got ${v})`);
  return v;
};

/** Flags that shape the local target mean nothing on AWS: said, rather than ignored. */
function checkLocalOnly(argv: { local?: boolean; detach?: boolean; port?: number; modelLatency?: string; modelTokenLatency?: string; modelRpm?: number; modelTpm?: number; modelErrorRate?: number; governorInterval?: number; discountDelay?: number }): true {
  if (argv.local) return true;
  const given = ([['detach', argv.detach], ['port', argv.port], ['model-latency', argv.modelLatency], ['model-token-latency', argv.modelTokenLatency], ['model-rpm', argv.modelRpm], ['model-tpm', argv.modelTpm], ['model-error-rate', argv.modelErrorRate], ['governor-interval', argv.governorInterval], ['discount-delay', argv.discountDelay]] as const)
    .filter(([, value]) => value !== undefined && value !== false).map(([flag]) => `--${flag}`);
  if (given.length) throw new UsageError(`${given.join(', ')} ${given.length > 1 ? 'work' : 'works'} with --local only (up --local ${given.join(' ')} ...): on AWS the stack runs in your account, not in a process here.`);
  return true;
}

/** The settings' options come from their table, which types argv itself (UpArgs). */
const withSettings = (yargs: Argv): Argv => yargs.options(settingOptions());

function builder(yargs: Argv<GlobalArgs>) {
  return withSettings(yargs)
    .option('tag', { type: 'string', requiresArg: true, array: true, describe: 'Extra tag key=value on every resource (repeatable)',
      // AWS allows 50 tags; one is the stack tag.
      coerce: keyValues('tag', { maxCount: TAG_RULES.maxTags - 1, maxKey: TAG_RULES.maxKey, maxValue: TAG_RULES.maxValue }, tagProblem) })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Print the plan and change nothing (with --local: what would start; nothing starts)' })
    .option('skip-model-check', { type: 'boolean', default: false, describe: 'Deploy without checking that the account can call the model here (for emulators without the Bedrock control plane)' })
    .option('port', { type: 'string', requiresArg: true, describe: 'With --local: the API\'s port on 127.0.0.1 [the previous run\'s, else any unused port]', coerce: integerIn('port', 1, 65535) })
    .option('detach', { type: 'boolean', default: false, describe: 'With --local: run in the background and return once it answers' })
    .option('model-latency', { type: 'string', requiresArg: true, describe: 'With --local: the local model\'s latency, e.g. 0, 200ms, 2s, 100-300ms [0]', coerce: latencyFlag('model-latency') })
    .option('model-token-latency', { type: 'string', requiresArg: true, describe: 'With --local: the pause between the words of a streamed answer, e.g. 30ms [0]', coerce: latencyFlag('model-token-latency') })
    .option('model-rpm', { type: 'string', requiresArg: true, describe: 'With --local: the local model\'s quota in requests per minute (ThrottlingException above it)', coerce: integerIn('model-rpm', 1, 10_000_000) })
    .option('model-tpm', { type: 'string', requiresArg: true, describe: 'With --local: the local model\'s quota in tokens per minute', coerce: integerIn('model-tpm', 1, 1_000_000_000) })
    .option('model-error-rate', { type: 'string', requiresArg: true, describe: 'With --local: share of model calls that fail with a 500, 0-1 [0]', coerce: numberIn('model-error-rate', 0, 1) })
    .option('model-endpoint', { type: 'string', requiresArg: true, describe: 'With --local: answer from this OpenAI-compatible server instead, e.g. Ollama\'s http://127.0.0.1:11434/v1 (with --model naming its model; a bearer token from BEDROCK_QUEUE_MODEL_ENDPOINT_KEY)' })
    .option('governor-interval', { type: 'string', requiresArg: true, describe: 'With --local: how often the governor (--autopilot, --budget) ticks, e.g. 2s [1m, as on AWS]', coerce: durationIn('governor-interval', 1_000, 3_600_000) })
    .option('discount-delay', { type: 'string', requiresArg: true, describe: 'With --local: how long a batch inference job (batch --discount) waits before it answers, e.g. 5s [5s]', coerce: durationIn('discount-delay', 0, 86_400_000) })
    .option('if-model-unreachable', { choices: ['refuse', 'warn'] as const, default: 'refuse' as const, describe: 'With --model-endpoint: what to do when the endpoint does not answer at start' })
    .check(checkModel)
    .check(checkLocalOnly)
    .option('model-quota-window', { type: 'string', requiresArg: true, hidden: true, describe: 'With --local: the quota window, a minute as on Bedrock; tests shorten it', coerce: duration('model-quota-window') })
    .option('batch-size', { type: 'string', requiresArg: true, hidden: true, describe: 'With --local: records per invocation (the reference pattern used 10)', coerce: integerIn('batch-size', 1, 10) })
    .epilog(`Settings not given are ${keep}; defaults apply on creation only.`)
    .example('$0 up', 'Create or repair the stack "bedrock-queue" in your default Region')
    .example('$0 up --name demo --region us-east-1 --concurrency 4', 'A second stack, at most 4 model calls in flight')
    .example('$0 up --dry-run', 'Show what would change, change nothing')
    .example('$0 up --model anthropic.claude-3-haiku-20240307-v1:0 --tag team=ml', 'Another model, with a cost-allocation tag')
    .example('$0 up --local --detach', 'The same pipeline on 127.0.0.1 with a local model, no AWS account')
    .example('$0 up --local --model-latency 2s --model-rpm 60 --concurrency 4', 'Locally, with a slow model and a quota')
    .example('$0 up --local --model-endpoint http://127.0.0.1:11434/v1 --model llama3.2', 'Locally, answered by Ollama');
}

function stackOptions(argv: UpArgs): StackOptions {
  return { ...settingsFromArgs(argv as unknown as Record<string, unknown>), tags: argv.tag ?? {} };
}

const PLAN_LABELS = {
  create: { text: 'create', colour: '32' },
  update: { text: 'update', colour: '33' },
  unchanged: { text: 'unchanged', colour: '2' },
  foreign: { text: 'not ours', colour: '31' },
  remove: { text: 'remove', colour: '31' },
};

/** The resources whose creation or change can leave the key refused for a few seconds. */
const API_KEYS = ['rest-api', 'api-key', 'usage-plan'];
const KEY_WAIT = { timeoutMs: 2 * 60_000, intervalMs: 2_000 };

/** Returns once the invoke URL accepts the key, so that the first prompt the user sends works. */
async function waitForApi(ctx: Ctx, out: Output, invokeUrl: string) {
  if (ctx.emulatorEndpoint) {
    out.note(`Not probing ${invokeUrl}: an emulator (--endpoint-url) does not enforce API keys, so there is nothing to wait for.`);
    return;
  }
  const [{ StackLocator }, { waitUntilKeyAccepted }, { realSleep }] = await Promise.all([import('../operate/locate.js'), import('../client/api.js'), import('../waiter.js')]);
  const apiKey = ctx.settings.apiKeyRequired && ctx.ids.apiKeyId ? await new StackLocator(ctx).apiKeyValue(ctx.ids.apiKeyId) : undefined;
  const accepted = await out.step('Waiting for the API to accept its key', () => waitUntilKeyAccepted({ invokeUrl, apiKey }, { ...KEY_WAIT, sleep: realSleep, note: (m) => out.note(m) }));
  if (!accepted) out.warn(`The API did not accept its key within ${KEY_WAIT.timeoutMs / 60_000} minutes; new keys usually work within a minute. If send answers 403, try again shortly.`);
}

async function run(argv: ArgumentsCamelCase<UpArgs>, out: Output) {
  if (argv.local) return (await import('./up-local.js')).upLocal(argv, stackOptions(argv), out);
  const { session, observed, items } = await openStack(argv, out, stackOptions(argv), !argv.skipModelCheck);
  const { ctx } = session;
  const problem = budgetProblem(ctx.settings);
  if (problem) throw new UsageError(`${problem}. Nothing was changed.`);
  const engine = await import('../provision/engine.js');
  const pending = items.filter((i) => i.action === 'create' || i.action === 'update' || i.action === 'remove');
  const foreign = items.filter((i) => i.action === 'foreign');

  if (!out.json) out.log(`\nPlan for stack ${argv.name} in ${ctx.account.region} (account ${ctx.account.accountId}):\n${resourceTable(out, items, PLAN_LABELS, (c) => `${c.field}: ${formatValue(c.live)} -> ${formatValue(c.desired)}`)}\n\n`);
  if (foreign.length) throw foreignError(foreign, ctx.stack);
  if (!ctx.settings.apiKeyRequired) out.warn('--no-api-key: anyone with the URL can queue prompts, and you pay for every model call. Only the stage throttle limits them.');

  if (!argv.dryRun) {
    await engine.apply(ctx, observed, items, (item, run) =>
      out.step(`${{ create: 'Creating', update: 'Updating', remove: 'Removing' }[item.action as 'create' | 'update' | 'remove']} ${item.kind} ${item.name}`, run));
  }

  const restApiId = ctx.ids.restApiId;
  const invokeUrl = restApiId ? invokeUrlOf(ctx.account.region, restApiId, ctx.emulatorEndpoint) : undefined;
  const websocketUrl = ctx.ids.websocketApiId ? websocketUrlOf(ctx.account.region, ctx.ids.websocketApiId, ctx.emulatorEndpoint) : undefined;
  if (!argv.dryRun && invokeUrl && pending.some((i) => API_KEYS.includes(i.key))) await waitForApi(ctx, out, invokeUrl);
  out.result(
    {
      stack: argv.name,
      region: ctx.account.region,
      dryRun: argv.dryRun,
      plan: items,
      changed: argv.dryRun ? 0 : pending.length,
      invokeUrl,
      ...(websocketUrl ? { websocketUrl } : {}),
      apiKeyId: ctx.ids.apiKeyId,
      settings: ctx.settings,
      calls: callStats(session),
    },
    () => {
      if (argv.dryRun) return `Dry run: ${pending.length} of ${plural(items.length, 'resource')} would change; nothing was changed.`;
      const lines = [pending.length ? `Stack ${argv.name} is up: ${plural(pending.length, 'resource')} created, repaired or removed.` : `Stack ${argv.name} is up to date: nothing to change.`];
      if (invokeUrl) {
        lines.push('', table([
          ['Invoke URL', invokeUrl],
          ...(websocketUrl ? [['WebSocket URL', websocketUrl]] : []),
          ['Model', ctx.settings.model],
          ...governorSettingRows(ctx.settings),
          ['API key', ctx.settings.apiKeyRequired ? `${ctx.ids.apiKeyId} (header x-api-key)` : 'not required'],
        ], ''));
        lines.push('', 'Send a first prompt:');
        if (ctx.settings.apiKeyRequired) {
          // Against an emulator the key is the emulator's: the AWS CLI must ask it, not AWS.
          const endpoint = ctx.emulatorEndpoint ? ` --endpoint-url ${ctx.emulatorEndpoint}` : '';
          lines.push(`  KEY=$(aws apigateway get-api-key --api-key ${ctx.ids.apiKeyId} --include-value --query value --output text --region ${ctx.account.region}${endpoint})`);
        }
        lines.push(`  curl -sS -X POST ${invokeUrl} -H 'Content-Type: application/json'${ctx.settings.apiKeyRequired ? ' -H "x-api-key: $KEY"' : ''} -d '{"prompt": "Why is the sky blue?"}'`);
      }
      return lines.join('\n');
    },
  );
}

export const upCommand = defineCommand<UpArgs>({
  command: 'up',
  describe: 'Create the stack, or repair it so it matches the settings (idempotent)',
  builder,
  run,
});
