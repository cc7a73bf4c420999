import type { ArgumentsCamelCase, Argv } from 'yargs';
import { defineCommand } from './command.js';
import { requestIdFor, validateInvokeRequest, type InvokeRequest, type ResultRecord } from '../contract.js';
import { InterruptedError, UsageError } from '../errors.js';
import { formatSeconds, plural, type Output } from '../output.js';
import { duration, integerIn, keyValues, numberIn } from '../flag-values.js';
import { STDIN_ARGUMENT, checkReadable, waitTimeout, type GlobalArgs } from './options.js';
import { interruptSignal, openTarget, type OperatorTarget } from './session.js';
import { readLater, waitForResultOf } from './stored-result.js';
import type { SocketTarget } from '../client/socket.js';

interface SendArgs extends GlobalArgs {
  prompt?: string;
  system?: string;
  maxTokens?: number;
  temperature?: number;
  metadata?: Record<string, string>;
  wait?: boolean;
  stream?: boolean;
  timeout: number;
  file?: string;
  parallel: number;
  retryFor: number;
}

function builder(yargs: Argv<GlobalArgs>) {
  return yargs
    .positional('prompt', { type: 'string', describe: 'The prompt; - (or a pipe) reads it from stdin' })
    .option('system', { type: 'string', requiresArg: true, describe: 'System prompt' })
    .option('max-tokens', { type: 'string', requiresArg: true, describe: 'Most tokens in the answer (else the stack default)', coerce: integerIn('max-tokens', 1, 200000) })
    .option('temperature', { type: 'string', requiresArg: true, describe: 'Sampling temperature, 0-1', coerce: numberIn('temperature', 0, 1) })
    .option('metadata', { type: 'string', requiresArg: true, array: true, describe: 'key=value echoed back in the result (repeatable)', coerce: keyValues('metadata', { maxCount: 20, maxKey: 128, maxValue: 1024 }) })
    // No default: yargs counts a default as given when checking conflicts with --file.
    .option('wait', { type: 'boolean', describe: 'Wait for the result and print the answer' })
    .option('stream', { type: 'boolean', describe: 'Print the answer as the model writes it (over the WebSocket API); id and usage on stderr' })
    .option('timeout', { type: 'string', requiresArg: true, default: '5m', describe: 'How long --wait waits (30s, 5m, 1h)', coerce: waitTimeout })
    .option('file', { type: 'string', requiresArg: true, describe: 'Send every line of a file: a JSON request object, or a prompt' })
    .option('parallel', { type: 'string', requiresArg: true, default: 16, describe: 'Requests in flight with --file', coerce: integerIn('parallel', 1, 256) })
    .option('retry-for', { type: 'string', requiresArg: true, default: '1h', describe: 'With --file: how long a line is retried while the API throttles (429) or fails (5xx)', coerce: duration('retry-for') })
    .conflicts('file', ['wait', 'stream', 'prompt', 'system', 'max-tokens', 'temperature', 'metadata'])
    .conflicts('stream', 'wait')
    .example('$0 send "Why is the sky blue?"', 'Queue a prompt; prints its id')
    .example('$0 send --stream "Write a haiku"', 'Print the answer as it is written')
    .example('$0 send - --wait < question.txt', 'The prompt from stdin (a pipe with no prompt argument does the same); wait and print the answer')
    .example('$0 send --file prompts.jsonl --parallel 32 > ids.jsonl', 'Bulk: one request a line; ids on stdout, progress on stderr');
}

/** The prompt piped in, without the newlines that end it, as the shell's $(cat) gives it: a file's last line break is not part of the question. */
async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8').replace(/(\r?\n)+$/, '');
}

async function buildRequest(argv: SendArgs, stdin: Output['stdin']): Promise<InvokeRequest> {
  if (argv.system === STDIN_ARGUMENT) throw new UsageError('- (stdin) stands for the prompt only: give --system its text.');
  const fromStdin = argv.prompt === STDIN_ARGUMENT || (argv.prompt === undefined && !stdin.isTTY);
  const prompt = fromStdin ? await readStdin(stdin) : argv.prompt;
  if (prompt === undefined) throw new UsageError('Give a prompt, - to read it from stdin, or --file.');
  const request: InvokeRequest = {
    prompt,
    ...(argv.system !== undefined ? { system: argv.system } : {}),
    ...(argv.maxTokens !== undefined ? { maxTokens: argv.maxTokens } : {}),
    ...(argv.temperature !== undefined ? { temperature: argv.temperature } : {}),
    ...(argv.metadata ? { metadata: argv.metadata } : {}),
  };
  const problems = validateInvokeRequest(request);
  if (problems.length) throw new UsageError(`The request is not valid: ${problems.join('; ')}`);
  return request;
}


async function sendFileCommand(argv: SendArgs, out: Output) {
  await checkReadable(argv.file!, '--file');
  const target = await openTarget(argv, true);
  const api = await target.api();
  const { sendFile } = await import('../client/bulk.js');
  const problems: string[] = [];
  const done = await sendFile(api, argv.file!, { parallel: argv.parallel, retryForMs: argv.retryFor, signal: interruptSignal() }, {
    sent: (line, id) => out.data(`${JSON.stringify({ line, id })}\n`),
    skipped: (line, reason) => {
      problems.push(`line ${line}: ${reason}`);
      out.log(`line ${line} skipped: ${reason}\n`);
    },
    failed: (line, reason) => {
      problems.push(`line ${line}: ${reason}`);
      out.log(`line ${line} failed: ${reason}\n`);
    },
    progress: (p) => {
      if (!out.interactive) return;
      const rate = p.sent / Math.max(0.001, p.elapsedMs / 1000);
      const eta = p.fraction > 0 && p.fraction < 1 ? `, about ${formatSeconds((p.elapsedMs / p.fraction) * (1 - p.fraction))} left` : '';
      out.log(`\r${p.sent} sent (${rate.toFixed(0)}/s), ${p.failed} failed, ${p.skipped} skipped${eta}   `);
    },
  });
  if (out.interactive) out.log('\n');
  const rate = done.sent / Math.max(0.001, done.elapsedMs / 1000);
  out.log(`Sent ${plural(done.sent, 'request')} in ${(done.elapsedMs / 1000).toFixed(1)} s (${rate.toFixed(0)}/s); ${plural(done.skipped, 'bad line')} skipped; ${done.failed} failed.\n`);
  if (done.failed || done.skipped) out.fail();
}

function printResult(out: Output, result: ResultRecord) {
  out.result(result, () => (result.status === 'ok' ? result.output ?? '' : ''));
  if (result.status !== 'ok') reportFailure(out, result);
}

/** An error result: its code and message on stderr, and exit 1. */
function reportFailure(out: Output, result: ResultRecord) {
  out.log(`Error: the request ${result.id} failed: ${result.error?.code}: ${result.error?.message}\n`);
  out.fail();
}

async function run(argv: ArgumentsCamelCase<SendArgs>, out: Output) {
  if (argv.file) return sendFileCommand(argv, out);
  const request = await buildRequest(argv, out.stdin);
  const target = await openTarget(argv, true);
  if (argv.stream) {
    const socket = await target.websocket();
    if (socket) return streamAnswer(argv, out, target, socket, request);
    out.log('No WebSocket API to stream from (a stack not `up` since it gained one, or an emulator, which serves none): the answer comes whole once it is stored.\n');
    argv.wait = true;
  }
  const api = await target.api();
  const { postRequest } = await import('../client/api.js');
  const { id } = await postRequest(api, request);
  if (!argv.wait) {
    out.result({ id }, () => id);
    return;
  }
  out.log(`Queued ${id}; waiting for its result...\n`);
  const result = await waitForResultOf(argv, target, id, argv.timeout, out);
  if (result) printResult(out, result.record);
}

/**
 * `send --stream`: the request goes over the WebSocket API, its text to stdout as it is written
 * (`--json`: one event a line), its id and usage to stderr. A new attempt is said on stderr. Its
 * id is chosen first: a socket cut mid-answer (a network change, a proxy's timeout) costs nothing,
 * as the request is sent again if the socket never said it was queued, then its stored record
 * finishes what was shown.
 */
async function streamAnswer(argv: SendArgs, out: Output, target: OperatorTarget, socket: SocketTarget, request: InvokeRequest) {
  const { requestStream } = await import('../client/socket.js');
  const interrupted = interruptSignal();
  const sent = { ...request, id: requestIdFor(request) };
  let accepted = false;
  let shown = '';
  try {
    for await (const event of requestStream(socket, { invoke: sent }, interrupted)) {
      if (event.type === 'result') return endStream(argv, out, shown, event.record);
      if (argv.json) out.data(`${JSON.stringify(event)}\n`);
      if (event.type === 'accepted') {
        accepted = true;
        out.log(`Queued ${event.id}; the answer follows as it is written.\n`);
      } else if (event.type === 'delta') {
        shown += event.text;
        if (!argv.json) out.data(event.text);
      } else if (event.type === 'restart') {
        out.log(`\n(the answer starts again, on a new attempt: what came before it is void)\n`);
        shown = '';
      }
    }
  } catch (err) {
    if (interrupted.aborted) {
      throw new InterruptedError(`Interrupted: stopped streaming; the request ${sent.id} ${accepted ? 'goes on' : 'may not have been queued'}. Read its result later with ${readLater(argv, sent.id)}.`);
    }
    out.log(`${shown ? '\n' : ''}The stream stopped (${(err as Error).message}): ${accepted ? '' : 'sending the request again, with the same id, and '}waiting for its stored result.\n`);
    if (!accepted) await (await import('../client/api.js')).postRequest(await target.api(), sent);
    const result = await waitForResultOf(argv, target, sent.id, argv.timeout, out);
    endStream(argv, out, shown, result.text);
  }
}

/** The record ends a stream: the rest of its text (all of it, if what was shown is not its start), then its id and usage. */
function endStream(argv: SendArgs, out: Output, shown: string, recordText: string) {
  const record = JSON.parse(recordText) as ResultRecord;
  if (argv.json) out.data(`{"type":"result","record":${recordText}}\n`);
  else {
    const output = record.status === 'ok' ? record.output ?? '' : '';
    const rest = output.startsWith(shown) ? output.slice(shown.length) : `${shown ? '\n(the answer as stored)\n' : ''}${output}`;
    out.data(rest);
    if ((shown + rest) && !(shown + rest).endsWith('\n')) out.data('\n');
  }
  if (record.status !== 'ok') reportFailure(out, record);
  else out.log(`${record.id}: ${record.usage ? `${record.usage.inputTokens}+${record.usage.outputTokens} tokens, ` : ''}${record.latencyMs} ms.\n`);
}

export const sendCommand = defineCommand<SendArgs>({
  command: 'send [prompt]',
  describe: 'Queue a prompt (or a file of them) through the API; --wait prints the answer',
  builder,
  run,
});
