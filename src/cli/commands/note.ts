/** `leaderless note PATH [TEXT]`: show, set or (--clear) remove an item's note. */
import type { Command } from '../command';
import { UsageError } from '../exit-codes';
import { itemParams, WORKSPACE_OPTION } from '../item-args';

export const note: Command = {
  name: 'note',
  args: 'PATH [TEXT]',
  arity: { min: 1, max: 2 },
  summary: "Show, set or clear a file's note",
  description: [
    'With TEXT: sets the note (it syncs to every partner; an edit of the favorite flag',
    'elsewhere is kept). With --clear: removes it. Otherwise prints the note (nothing if',
    'there is none). With --json: {"note", "favorite", "hidden"} or, after a change, {"note"}.',
  ].join('\n'),
  options: [{ name: 'clear', help: 'remove the note' }, WORKSPACE_OPTION, { name: 'json', help: 'print JSON' }],
  async run(ctx) {
    const [p, text] = ctx.args.positional;
    const clear = ctx.flag('clear');
    if (clear && text !== undefined) throw new UsageError('Give either TEXT or --clear, not both');
    const engine = await ctx.engine();
    const params = { library: ctx.globals.library, ...itemParams(ctx, p) };
    if (text !== undefined || clear) {
      const r = await engine.call<{ note: string | null }>('setNote', { ...params, text: clear ? null : text });
      if (ctx.flag('json')) ctx.out.write(JSON.stringify(r) + '\n');
      else ctx.out.write(r.note === null ? `Removed the note of ${p}\n` : `Noted ${p}\n`);
      return;
    }
    const r = await engine.call<{ note: string | null; favorite: boolean; hidden: boolean }>('note', params);
    if (ctx.flag('json')) ctx.out.write(JSON.stringify(r) + '\n');
    else if (r.note !== null) ctx.out.write(r.note.endsWith('\n') ? r.note : r.note + '\n');
  },
};
