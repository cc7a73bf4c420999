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

/** A command ready for the CLI: its yargs module, speaking through the Output main() built. */
export interface CliCommand {
  module: (out: Output) => CommandModule<GlobalArgs, GlobalArgs>;
}

/**
 * Defines a command. Its argv is the builder's, which yargs cannot carry through a chain of
 * options to the handler: this is the one place that says the two are the same.
 */
export function defineCommand<A extends GlobalArgs>(command: Command<A>): Command<A> & CliCommand {
  return {
    ...command,
    module: (out) => ({
      command: command.command,
      describe: command.describe,
      builder: (yargs: Argv<GlobalArgs>) => (command.builder ? command.builder(yargs) : yargs) as Argv<GlobalArgs>,
      handler: (argv) => command.run(argv as ArgumentsCamelCase<A>, out),
    }),
  };
}
