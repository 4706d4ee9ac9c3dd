/** `leaderless help [COMMAND]`: the command list, or one command's help. */
import type { Command } from '../command';
import { UsageError } from '../exit-codes';
import { commandHelp, generalHelp } from '../help-text';

/** The help command over the command table (passed lazily: the table lists help too). */
export function helpCommand(commands: () => readonly Command[]): Command {
  return {
    name: 'help',
    args: '[COMMAND]',
    arity: { min: 0, max: 1 },
    summary: "Show this help, or a command's",
    async run(ctx) {
      const name = ctx.args.positional[0];
      if (name === undefined) {
        ctx.out.write(generalHelp(commands()));
        return;
      }
      const c = commands().find((x) => x.name === name);
      if (!c) throw new UsageError(`Unknown command "${name}"`);
      ctx.out.write(commandHelp(c));
    },
  };
}
