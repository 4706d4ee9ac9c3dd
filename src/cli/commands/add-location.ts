/** `leaderless add-location PATH`: index a folder of this machine into the library (again: rescan it). */
import * as path from 'node:path';
import type { IndexResult } from '../../engine/indexer';
import type { Command } from '../command';

/** The addLocation method's answer: the index result with the location id as a string. */
type IndexAnswer = Omit<IndexResult, 'location'> & { location: string };

export const addLocation: Command = {
  name: 'add-location',
  args: 'PATH',
  arity: { min: 1, max: 1 },
  summary: 'Index a folder (again: rescan it, writing only what changed)',
  description: [
    'Records the folder as a location of this device with every file, folder and symlink',
    'under it (.git and node_modules skipped), so every partner sees what is where. Its',
    'workspace key (what tags and notes attach to) is the normalised git remote, else the',
    "folder's name. Warnings (unreadable folders) go to stderr. With --json, the result:",
    '{"location", "workspaceKey", "entries", "bytes", "written", "deleted", "skipped", "warnings"}.',
  ].join('\n'),
  options: [
    { name: 'workspace-key', value: 'KEY', help: 'the workspace key to use instead of the git remote' },
    { name: 'name', value: 'NAME', help: "the location's display name (default: the folder's name)" },
    { name: 'exclude', value: 'GLOB', repeatable: true, help: 'also skip these names or globs (repeatable)' },
    { name: 'json', help: 'print the result as JSON' },
  ],
  async run(ctx) {
    const folder = path.resolve(ctx.args.positional[0]);
    const engine = await ctx.engine();
    const r = await engine.call<IndexAnswer>('addLocation', {
      library: ctx.globals.library,
      path: folder,
      workspaceKey: ctx.option('workspace-key'),
      name: ctx.option('name'),
      exclude: ctx.args.options.get('exclude'),
    });
    for (const w of r.warnings) ctx.err.write(`leaderless: warning: ${w}\n`);
    if (ctx.flag('json')) ctx.out.write(JSON.stringify(r) + '\n');
    else ctx.out.write(`Indexed ${folder}: ${r.entries} entries, ${r.bytes} bytes (${r.written} written, ${r.deleted} deleted); workspace ${r.workspaceKey}\n`);
  },
};
