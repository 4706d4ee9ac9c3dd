/** `leaderless tag PATH TAG` and `leaderless untag PATH TAG`. */
import type { Command } from '../command';
import { formatItem, itemParams, WORKSPACE_OPTION } from '../item-args';

interface TagAnswer {
  tag: { id: string; name: string };
  createdTag: boolean;
  added: boolean;
}

const TAG_HELP = 'TAG is a tag name or id; a name two tags share must be given by id (exit 2).';

export const tag: Command = {
  name: 'tag',
  args: 'PATH TAG',
  arity: { min: 2, max: 2 },
  summary: 'Tag a file or folder (a new tag name creates the tag)',
  description: `${TAG_HELP}\nTagging an item that already has the tag changes nothing. With --json: {"tag", "createdTag", "added"}.`,
  options: [WORKSPACE_OPTION, { name: 'json', help: 'print the result as JSON' }],
  async run(ctx) {
    const [p, name] = ctx.args.positional;
    const item = itemParams(ctx, p);
    const r = await (await ctx.engine()).call<TagAnswer>('tag', { library: ctx.globals.library, ...item, tag: name });
    if (ctx.flag('json')) ctx.out.write(JSON.stringify(r) + '\n');
    else ctx.out.write(`${r.added ? 'Tagged' : 'Already tagged'} ${item.workspace !== undefined ? formatItem({ workspaceKey: item.workspace, path: item.path }) : item.path} "${r.tag.name}"${r.createdTag ? ' (new tag)' : ''}\n`);
  },
};

export const untag: Command = {
  name: 'untag',
  args: 'PATH TAG',
  arity: { min: 2, max: 2 },
  summary: 'Remove a tag from a file or folder',
  description: `${TAG_HELP}\nAn item without the tag is left as it is (exit 0). With --json: {"removed"}.`,
  options: [WORKSPACE_OPTION, { name: 'json', help: 'print the result as JSON' }],
  async run(ctx) {
    const [p, name] = ctx.args.positional;
    const r = await (await ctx.engine()).call<{ removed: boolean }>('untag', { library: ctx.globals.library, ...itemParams(ctx, p), tag: name });
    if (ctx.flag('json')) ctx.out.write(JSON.stringify(r) + '\n');
    else ctx.out.write(r.removed ? `Removed tag "${name}" from ${p}\n` : `${p} did not have tag "${name}"\n`);
  },
};
