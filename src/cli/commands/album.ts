/** `leaderless album ACTION …`: list, create, fill, show, rename and delete albums. */
import type { Command, CommandContext } from '../command';
import { UsageError } from '../exit-codes';
import { formatItem, itemParams, WORKSPACE_OPTION } from '../item-args';

interface AlbumRow {
  id: string;
  name: string;
  description: string | null;
  count?: number;
}

/** Each action: its arguments after the action name, and what it does. */
const ACTIONS: Record<string, { args: string[]; run: (ctx: CommandContext, args: string[]) => Promise<unknown> }> = {
  list: {
    args: [],
    async run(ctx) {
      const rows = await call<AlbumRow[]>(ctx, 'albums', {});
      return print(ctx, rows, () => rows.map((a) => `${a.name}\t${a.count}\t${a.id}\n`).join(''));
    },
  },
  create: {
    args: ['NAME'],
    async run(ctx, [name]) {
      const a = await call<AlbumRow>(ctx, 'albumCreate', { name, description: ctx.option('description') });
      return print(ctx, a, () => `Created album "${a.name}" (${a.id})\n`);
    },
  },
  add: {
    args: ['ALBUM', 'PATH'],
    async run(ctx, [album, p]) {
      const r = await call<{ album: AlbumRow; added: boolean }>(ctx, 'albumAdd', { album, ...itemParams(ctx, p) });
      return print(ctx, r, () => `${r.added ? 'Added' : 'Already in'} album "${r.album.name}": ${p}\n`);
    },
  },
  remove: {
    args: ['ALBUM', 'PATH'],
    async run(ctx, [album, p]) {
      const r = await call<{ removed: boolean }>(ctx, 'albumRemove', { album, ...itemParams(ctx, p) });
      return print(ctx, r, () => (r.removed ? `Removed ${p} from album "${album}"\n` : `${p} was not in album "${album}"\n`));
    },
  },
  show: {
    args: ['ALBUM'],
    async run(ctx, [album]) {
      const items = await call<{ workspaceKey: string; path: string }[]>(ctx, 'albumItems', { album });
      return print(ctx, items, () => items.map((i) => formatItem(i) + '\n').join(''));
    },
  },
  rename: {
    args: ['ALBUM', 'NEW_NAME'],
    async run(ctx, [album, name]) {
      const a = await call<AlbumRow>(ctx, 'albumRename', { album, name });
      return print(ctx, a, () => `Renamed album "${album}" to "${a.name}"\n`);
    },
  },
  delete: {
    args: ['ALBUM'],
    async run(ctx, [album]) {
      const r = await call<{ items: number }>(ctx, 'albumDelete', { album });
      return print(ctx, r, () => `Deleted album "${album}" (it held ${r.items} item${r.items === 1 ? '' : 's'})\n`);
    },
  },
};

export const album: Command = {
  name: 'album',
  args: 'ACTION [ARGS]',
  arity: { min: 1, max: 3 },
  summary: 'Albums: list, create, add, remove, show, rename, delete',
  description: [
    'Actions: list | create NAME | add ALBUM PATH | remove ALBUM PATH | show ALBUM',
    '         | rename ALBUM NEW_NAME | delete ALBUM',
    'Albums are named, ordered collections of files (working sets, reading lists) that',
    'follow you to every machine. ALBUM is a name or an id; a name two albums share must be',
    'given by id (exit 2). `list` prints name, number of items and id; `show` prints the',
    'items as workspace:path in album order. --json prints the result as JSON.',
  ].join('\n'),
  options: [{ name: 'description', value: 'TEXT', help: "a new album's description (create)" }, WORKSPACE_OPTION, { name: 'json', help: 'print JSON' }],
  async run(ctx) {
    const [action, ...args] = ctx.args.positional;
    const a = Object.prototype.hasOwnProperty.call(ACTIONS, action) ? ACTIONS[action] : undefined;
    if (!a) throw new UsageError(`Unknown album action "${action}" (one of: ${Object.keys(ACTIONS).join(', ')})`);
    if (args.length !== a.args.length) throw new UsageError(`Usage: leaderless album ${action}${a.args.map((x) => ` ${x}`).join('')}`);
    await a.run(ctx, args);
  },
};

async function call<T>(ctx: CommandContext, method: string, params: Record<string, unknown>): Promise<T> {
  return (await ctx.engine()).call<T>(method, { library: ctx.globals.library, ...params });
}

function print(ctx: CommandContext, value: unknown, text: () => string): void {
  ctx.out.write(ctx.flag('json') ? JSON.stringify(value) + '\n' : text());
}
