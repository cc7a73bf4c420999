import yargs from 'yargs';
import { batchCommand } from './commands/batch.js';
import { downCommand } from './commands/down.js';
import { STDIN_ARGUMENT, checkGlobalArgs, globalOptions } from './commands/options.js';
import { pauseCommand } from './commands/pause.js';
import { policyCommand } from './commands/policy.js';
import { redriveCommand } from './commands/redrive.js';
import { resultCommand } from './commands/result.js';
import { resumeCommand } from './commands/resume.js';
import { sendCommand } from './commands/send.js';
import { setConcurrencyCommand } from './commands/set-concurrency.js';
import { statusCommand } from './commands/status.js';
import { tailCommand } from './commands/tail.js';
import { topCommand } from './commands/top.js';
import { upCommand } from './commands/up.js';
import { CliError, InterruptedError, UsageError, describeError } from './errors.js';
import { Output } from './output.js';

declare const __VERSION__: string;

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

// The SDK warns on Node 20 about its releases after January 2027; ours are pinned, so the warning is noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * Two spellings yargs would misread: `--timeout -5s` (a value starting with a dash is taken for
 * short flags: "Unknown arguments: 5, s") becomes `--timeout=-5s`, so the option's own check names
 * the value; and `send -` keeps its meaning, the prompt from stdin.
 */
function normalizeArgs(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (/^--[a-z][a-z-]*$/.test(arg) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(args[0] === 'send' && arg === '-' ? STDIN_ARGUMENT : arg);
    }
  }
  return out;
}

/**
 * yargs names an unknown flag twice (`--bogus-flag`: "Unknown arguments: bogus-flag, bogusFlag")
 * and without its dashes: say each once, as it was typed.
 */
function unknownArguments(text: string, args: string[]): string | undefined {
  const listed = /^Unknown arguments?: (.+)$/.exec(text)?.[1]?.split(', ');
  if (!listed) return undefined;
  const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const typed = (name: string) => args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`) || a === `--no-${name}`)?.split('=')[0] ?? name;
  const names = [...new Set(listed.filter((n) => !(/[A-Z]/.test(n) && listed.includes(kebab(n)))).map(typed))];
  const flags = names.every((n) => n.startsWith('-'));
  return `Unknown ${flags ? 'option' : 'argument'}${names.length > 1 ? 's' : ''}: ${names.join(', ')}`;
}

const COMMANDS = [
  upCommand, downCommand, statusCommand, sendCommand, resultCommand, batchCommand, tailCommand, topCommand,
  setConcurrencyCommand, pauseCommand, resumeCommand, redriveCommand, policyCommand,
];

/** Runs the CLI and returns the exit code: 0 ok, 1 failed, 2 usage error. Everything it says goes through `out`. */
export async function main(args: string[], out: Output = new Output()): Promise<number> {
  const { stderr } = out;
  const cli = yargs(normalizeArgs(args))
    .scriptName('bedrock-queue')
    .usage('$0 <command> [options]\n\nDeploy and operate an asynchronous Amazon Bedrock pipeline: API Gateway -> SQS -> Lambda -> Bedrock.')
    .options(globalOptions)
    .check(checkGlobalArgs, true)
    .middleware((argv) => out.configure(argv))
    .command(COMMANDS.map((command) => command.module(out)))
    .demandCommand(1, 'Name a command: up, down, status, top, send, result, batch, tail, set-concurrency, pause, resume, redrive or policy.')
    .strict()
    .recommendCommands()
    .help()
    .alias('help', 'h')
    .version(__VERSION__)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .epilog('Credentials come from the standard AWS chain (environment, ~/.aws/config profiles, SSO). Docs: README.md')
    .fail((message, err) => {
      // yargs wraps errors from option coercion in a YError; those are usage errors too.
      if (err && err.name !== 'YError') throw err;
      const text = (err?.message ?? message ?? 'invalid arguments').replace(/^YError: /, '');
      throw new UsageError(unknownArguments(text, args) ?? text.replace(/^Not enough arguments following: (\S+)$/, '--$1 needs a value'));
    })
    .exitProcess(false);
  try {
    await cli.parseAsync();
    return out.exitCode ?? EXIT.ok;
  } catch (err) {
    if (err instanceof UsageError) {
      stderr.write(`Error: ${err.message}\nRun "bedrock-queue --help" for usage.\n`);
      return EXIT.usage;
    }
    if (err instanceof InterruptedError) {
      stderr.write(`${err.message}\n`);
      return EXIT.interrupted;
    }
    stderr.write(`Error: ${describeError(err)}\n`);
    if (process.env.BEDROCK_QUEUE_DEBUG && !(err instanceof CliError)) stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    return EXIT.failed;
  }
}
