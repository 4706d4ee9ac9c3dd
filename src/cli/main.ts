#!/usr/bin/env node
/**
 * `leaderless`: the sync engine as a command-line peer.
 *
 * Parses the line (global options anywhere, then the command and its own
 * options), shows help (`help`, `--help`, `<command> --help`), runs the
 * command, and maps errors to `leaderless: <message>` on stderr and a
 * documented exit code (see exit-codes.ts). Commands that need the
 * library go through the data directory's running service if there is
 * one, else open it themselves (engine-access.ts).
 *
 * The process is never ended with process.exit on success: every command
 * leaves nothing running, so it exits by itself (a watchdog reports and
 * ends one that does not within 10 s of finishing).
 */
import { errorMessage } from '../service/errors';
import { parseArgs } from './args';
import type { CommandContext } from './command';
import { COMMANDS, findCommand } from './commands';
import { openEngine, type EngineAccess } from './engine-access';
import { EXIT, exitCodeFor, UsageError } from './exit-codes';
import { GLOBAL_OPTIONS, resolveGlobals } from './global-options';
import { commandHelp, generalHelp } from './help-text';
import { readOneLine, type LineInput } from './read-line';

export interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Where a command reads what it should not take as an argument (default: stdin). */
  in?: LineInput;
}

export async function main(argv: readonly string[], io: Io = { out: process.stdout, err: process.stderr, env: process.env, in: process.stdin }): Promise<number> {
  let engine: Promise<EngineAccess> | null = null;
  let commandName: string | null = null;
  try {
    const args = parseArgs(argv, GLOBAL_OPTIONS, (name) => {
      const c = findCommand(name);
      return c ? (c.options ?? []) : null;
    });
    commandName = args.command;
    if (args.command === null) {
      io.out.write(generalHelp(COMMANDS));
      return EXIT.ok;
    }
    const command = findCommand(args.command)!;
    if (args.options.has('help')) {
      io.out.write(commandHelp(command));
      return EXIT.ok;
    }
    const arity = command.arity ?? { min: 0, max: 0 };
    if (args.positional.length < arity.min) throw new UsageError(`"${command.name}" needs ${command.args}`);
    if (args.positional.length > arity.max) throw new UsageError(`Unexpected argument "${args.positional[arity.max]}" for "${command.name}"`);
    const globals = resolveGlobals(args, io.env);
    const ctx: CommandContext = {
      args,
      globals,
      out: io.out,
      err: io.err,
      flag: (name) => args.options.has(name),
      option: (name) => args.options.get(name)?.at(-1),
      readLine: (prompt) => readOneLine(io.in ?? process.stdin, { prompt, promptTo: io.err }),
      engine: (opts) => (engine ??= openEngine(globals.dataDir, { create: opts?.create, network: opts?.network, bootstrap: globals.bootstrap, log: opts?.network && process.env.LEADERLESS_LOG ? (line) => process.stderr.write(`${line}\n`) : undefined })),
    };
    return (await command.run(ctx)) ?? EXIT.ok;
  } catch (e) {
    io.err.write(`leaderless: ${errorMessage(e)}\n`);
    if (io.env.LEADERLESS_DEBUG && e instanceof Error && e.stack) io.err.write(e.stack + '\n');
    const code = exitCodeFor(e);
    if (code === EXIT.usage) io.err.write(`Run "leaderless ${commandName ? `${commandName} ` : ''}--help" for usage.\n`);
    return code;
  } finally {
    if (engine) await (await (engine as Promise<EngineAccess>).catch(() => null))?.close().catch(() => undefined);
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    setTimeout(() => {
      process.stderr.write('leaderless: the command finished but something kept the process running; exiting\n');
      process.exit(code);
    }, 10_000).unref();
  });
}
