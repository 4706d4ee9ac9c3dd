/**
 * What a CLI command is: its name, synopsis, help, options, and `run`. The
 * command table (commands/index.ts) lists them; main.ts parses, shows help
 * and maps errors to exit codes, so a command only does its work.
 */
import type { OptionSpec, ParsedArgs } from './args';
import type { EngineAccess } from './engine-access';
import type { Globals } from './global-options';

export interface Command {
  name: string;
  /** Positional arguments as shown in the synopsis, e.g. 'CODE' or '[COMMAND]'. */
  args?: string;
  /** How many positional arguments it takes. Default: none. */
  arity?: { min: number; max: number };
  /** One line, for the command list. */
  summary: string;
  /** More lines for `--help` (what it does, what it prints). */
  description?: string;
  options?: readonly OptionSpec[];
  run(ctx: CommandContext): Promise<number | void>;
}

export interface CommandContext {
  readonly args: ParsedArgs;
  readonly globals: Globals;
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  /** True if the option (flag) was given. */
  flag(name: string): boolean;
  /** The option's value (the last one given). */
  option(name: string): string | undefined;
  /**
   * One line from stdin (read-line.ts): asked for with `prompt` on stderr
   * when stdin is a terminal, else the first line piped in; null if there
   * is none.
   */
  readLine(prompt: string): Promise<string | null>;
  /**
   * The engine of the data directory: the running service through its
   * control socket if one answers, else the libraries opened here. Closed
   * by main after `run`. `create`: make the data directory if missing;
   * `network`: when no service runs, join the swarm here too (pairing).
   */
  engine(opts?: { create?: boolean; network?: boolean }): Promise<EngineAccess>;
}
