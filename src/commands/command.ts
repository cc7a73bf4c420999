import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { Output } from '../output.js';
import type { GlobalArgs } from './options.js';

/** One command: its syntax, its options (builder) and what it does with them, saying it through `out`. */
export interface Command<A extends GlobalArgs> {
  command: string;
  describe: string;
  builder?: (yargs: Argv<GlobalArgs>) => Argv<unknown>;
  run: (argv: ArgumentsCamelCase<A>, out: Output) => Promise<void>;
}

export function defineCommand<A extends GlobalArgs>(command: Command<A>): Command<A> {
  return command;
}

/**
 * The yargs module of a command, speaking through `out`. The builder's inferred argv type is the
 * command's own (A), which yargs cannot see through its chain: this is the one place that says so.
 */
export function commandModule<A extends GlobalArgs>(command: Command<A>, out: Output): CommandModule<GlobalArgs, A> {
  return {
    command: command.command,
    describe: command.describe,
    builder: (yargs: Argv<GlobalArgs>) => (command.builder ? command.builder(yargs) : yargs) as Argv<A>,
    handler: (argv) => command.run(argv, out),
  };
}
