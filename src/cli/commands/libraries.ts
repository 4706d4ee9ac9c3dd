/** `leaderless libraries`: the libraries in the data directory. */
import * as fs from 'node:fs';
import type { LibraryInfo } from '../../engine/library';
import type { Command } from '../command';

export const libraries: Command = {
  name: 'libraries',
  summary: 'List the libraries in the data directory',
  description: 'One line per library: its id and name. With --json, an array of {"id", "name", "createdAt"}.',
  options: [{ name: 'json', help: 'print JSON' }],
  async run(ctx) {
    let list: LibraryInfo[] = [];
    if (fs.existsSync(ctx.globals.dataDir)) list = await (await ctx.engine()).call<LibraryInfo[]>('libraries');
    if (ctx.flag('json')) ctx.out.write(JSON.stringify(list) + '\n');
    else for (const l of list) ctx.out.write(`${l.id}  ${l.name}\n`);
  },
};
