/** `leaderless tags [PATH] [--tag TAG]`: every tag, an item's tags, or the items with a tag. */
import type { Command } from '../command';
import { UsageError } from '../exit-codes';
import { formatItem, itemParams, WORKSPACE_OPTION } from '../item-args';

interface TagRow {
  id: string;
  name: string;
  color: string | null;
  count?: number;
}

export const tags: Command = {
  name: 'tags',
  args: '[PATH]',
  arity: { min: 0, max: 1 },
  summary: "List tags (with counts), a file's tags, or the files with a tag",
  description: [
    'Without arguments: every tag, one per line: name, number of items, id.',
    "With PATH: that item's tags. With --tag TAG: the items carrying it, as workspace:path.",
    'With --json: the same as a JSON array.',
  ].join('\n'),
  options: [{ name: 'tag', value: 'TAG', help: 'list the items that carry this tag (name or id)' }, WORKSPACE_OPTION, { name: 'json', help: 'print JSON' }],
  async run(ctx) {
    const p = ctx.args.positional[0];
    const tagRef = ctx.option('tag');
    if (p !== undefined && tagRef !== undefined) throw new UsageError('Give either PATH or --tag TAG, not both');
    const engine = await ctx.engine();
    const library = ctx.globals.library;
    const json = ctx.flag('json');
    if (tagRef !== undefined) {
      const items = await engine.call<{ workspaceKey: string; path: string }[]>('taggedItems', { library, tag: tagRef });
      ctx.out.write(json ? JSON.stringify(items) + '\n' : items.map((i) => formatItem(i) + '\n').join(''));
      return;
    }
    const rows = p === undefined ? await engine.call<TagRow[]>('tags', { library }) : await engine.call<TagRow[]>('tagsOf', { library, ...itemParams(ctx, p) });
    if (json) ctx.out.write(JSON.stringify(rows) + '\n');
    else for (const t of rows) ctx.out.write(p === undefined ? `${t.name}\t${t.count}\t${t.id}\n` : `${t.name}\n`);
  },
};
