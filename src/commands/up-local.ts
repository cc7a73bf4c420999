import { CliError, UsageError } from '../errors.js';
import { budgetProblem } from '../governor/config.js';
import { governorSettingRows } from './governor-format.js';
import { plural, table, type Output } from '../output.js';
import type { LocalState } from '../local/lifecycle/state.js';
import type { LocalSettings } from '../local/lifecycle/settings.js';
import type { StackOptions } from '../settings.js';
import type { UpArgs } from './up-args.js';

/** `up --local`: the same pipeline on 127.0.0.1, in the foreground or detached; with --dry-run, what would start. */
export async function upLocal(argv: UpArgs, options: StackOptions, out: Output) {
  const [{ readState }, { resolveLocalSettings, describeRestart }, local] = await Promise.all([import('../local/lifecycle/state.js'), import('../local/lifecycle/settings.js'), import('../local/lifecycle/run.js')]);
  const found = await readState(argv.name, true);
  const previous = found?.state?.settings;
  const settings = resolveLocalSettings({
    options,
    localModel: { latency: argv.modelLatency, tokenLatency: argv.modelTokenLatency, requestsPerMinute: argv.modelRpm, tokensPerMinute: argv.modelTpm, errorRate: argv.modelErrorRate, quotaWindowMs: argv.modelQuotaWindow, forwardTo: argv.modelEndpoint },
    batchSize: argv.batchSize,
    governorIntervalMs: argv.governorInterval,
    discountDelayMs: argv.discountDelay,
  }, previous);
  const problem = budgetProblem(settings);
  if (problem) throw new UsageError(`${problem}. Nothing was started.`);
  if (argv.dryRun) return dryRun(argv, settings, out);
  if (settings.localModel.forwardTo) await checkModelEndpoint(settings.localModel.forwardTo, argv, out);
  const restart = describeRestart(previous, settings);
  if (restart.kept.length) out.note(`Kept from the previous run: ${restart.kept.join(', ')}.`);
  if (restart.changed.length) out.note(`Changed by this command's flags: ${restart.changed.join(', ')}.`);
  const show = (state: LocalState) => {
    if (argv.detach && state.recovered) out.note(local.describeRecovered(state.recovered));
    const running = state.settings ?? settings;
    const model = running.localModel;
    out.result(
      { stack: argv.name, local: true, pid: state.pid, invokeUrl: state.invokeUrl, ...(state.websocketUrl ? { websocketUrl: state.websocketUrl } : {}), apiKey: state.apiKey, model: state.model, settings: running, ...(restart.kept.length || restart.changed.length ? { restart } : {}), ...(state.recovered ? { recovered: state.recovered } : {}) },
      () => [
        `Local stack ${argv.name} is up (pid ${state.pid})${argv.detach ? ', in the background' : '; Ctrl-C stops it'}.`,
        '',
        table([
          ['Invoke URL', state.invokeUrl],
          ...(state.websocketUrl ? [['WebSocket URL', state.websocketUrl]] : []),
          ['API key', state.apiKey ? `${state.apiKey} (header x-api-key)` : 'not required'],
          ['Model', `${state.model}${model.forwardTo ? ` at ${model.forwardTo}` : ''}${model.latency ? ` (latency ${model.latency})` : ''}`],
          ...governorSettingRows(running).map(([label, text]): [string, string] => [label, label === 'Concurrency' && running.paused ? `${text}; paused (bedrock-queue resume --local resumes it)` : text]),
        ], ''),
        '',
        'Send a first prompt:',
        `  bedrock-queue send --local --name ${argv.name} --wait "Why is the sky blue?"`,
        `  bedrock-queue send --local --name ${argv.name} --stream "Write a haiku about queues"`,
        `  curl -sS -X POST ${state.invokeUrl} -H 'Content-Type: application/json'${state.apiKey ? ` -H 'x-api-key: ${state.apiKey}'` : ''} -d '{"prompt": "Why is the sky blue?"}'`,
      ].join('\n'),
    );
  };
  if (argv.detach) {
    show(await local.startLocalDetached(argv.name, process.argv.slice(2), out));
    return;
  }
  const { left, kept } = await local.runLocalForeground({
    stack: argv.name,
    port: argv.port,
    settings,
    modelEndpointKey: process.env.BEDROCK_QUEUE_MODEL_ENDPOINT_KEY,
  }, out, show);
  const queued = left.filter((q) => q.visible + q.inFlight + q.delayed > 0).map((q) => `${q.name} ${q.visible + q.inFlight + q.delayed}`).join(', ');
  if (!queued) out.log('Stopped. Nothing was left in the queues.\n');
  else if (kept) out.log(`Stopped. Still queued, kept in the journal: ${queued}. "bedrock-queue up --local --name ${argv.name}" resumes them.\n`);
  else out.log(`Stopped. Discarded as asked (down --force): ${queued}.\n`);
}

async function checkModelEndpoint(endpoint: string, argv: UpArgs, out: Output) {
  const { probeModelEndpoint } = await import('../local/services/model-server.js');
  const problem = await probeModelEndpoint(endpoint, process.env.BEDROCK_QUEUE_MODEL_ENDPOINT_KEY);
  if (!problem) return;
  const said = `The model endpoint ${endpoint} does not answer (${problem})`;
  if (argv.ifModelUnreachable === 'refuse') throw new CliError(`${said}: nothing was started. Start the model server first, or pass --if-model-unreachable warn to start anyway (requests then retry until the DLQ).`);
  out.warn(`${said}: starting anyway, as --if-model-unreachable warn asks; requests retry until it answers, then go to the DLQ.`);
}

/** What `up --local` would start, from the flags and what an earlier run left; starts nothing. */
async function dryRun(argv: UpArgs, settings: LocalSettings, out: Output) {
  const [{ readState, journalPath }, { journalContents }, { resourceNames }] = await Promise.all([import('../local/lifecycle/state.js'), import('../local/durability/journaled-aws.js'), import('../contract.js')]);
  const found = await readState(argv.name);
  const previous = found?.state;
  const held = await journalContents(journalPath(argv.name), resourceNames(argv.name));
  const port = argv.port ? String(argv.port) : previous ? `${new URL(previous.apiUrl).port} (the previous run's; any unused port if it is taken)` : 'any unused port';
  const plan = {
    stack: argv.name,
    local: true,
    dryRun: true,
    running: !!found?.alive,
    wouldStart: !found?.alive,
    port: argv.port ?? (previous ? Number(new URL(previous.apiUrl).port) : undefined),
    apiKey: settings.apiKeyRequired ? (previous?.apiKey ? 'kept from the previous run' : 'new') : 'not required',
    model: settings.model,
    concurrency: settings.concurrency,
    ...(held ? { resumes: held } : {}),
  };
  out.result(plan, () => found?.alive
    ? `Dry run: the local stack ${argv.name} already runs (pid ${found.state.pid}, ${found.state.invokeUrl}); up would refuse. Nothing was started.`
    : [
      `Dry run: up --local would start the local stack ${argv.name}; nothing was started.`,
      '',
      table([
        ['API port', `127.0.0.1:${port}`],
        ['API key', plan.apiKey],
        ['Model', settings.model],
        ['Concurrency', String(settings.concurrency)],
        ['Journal', held ? `resumes ${plural(held.requests, 'request')}, ${plural(held.results, 'result')}, ${plural(held.deadLetters, 'dead letter')}` : 'none: empty queues'],
      ], ''),
    ].join('\n'));
}
