/** `leaderless init`: create a library on this device (through the running service if there is one). */
import * as os from 'node:os';
import type { LibraryInfo } from '../../engine/library';
import type { Command } from '../command';

export const init: Command = {
  name: 'init',
  summary: 'Create a new library on this device',
  description: 'Creates a library in the data directory (a running service starts syncing it at once).\nPrints its id; with --json, {"id", "name", "createdAt"}.',
  options: [
    { name: 'name', value: 'NAME', help: "the library's name (default: \"<user>'s library\")" },
    { name: 'json', help: 'print the new library as JSON' },
  ],
  async run(ctx) {
    const name = ctx.option('name') ?? `${os.userInfo().username}'s library`;
    const engine = await ctx.engine({ create: true });
    const info = await engine.call<LibraryInfo>('init', { name });
    if (ctx.flag('json')) ctx.out.write(JSON.stringify(info) + '\n');
    else ctx.out.write(`Created library "${info.name}" (${info.id}) in ${ctx.globals.dataDir}\n`);
  },
};
