/**
 * VS Code's exclude globs in the engine's exclude grammar (engine/excludes.ts):
 * `files.exclude` entries that are switched on (`true`; a `{when: …}`
 * condition on sibling files is not supported and skipped), plus
 * `leaderlessSync.exclude`. Brace alternatives (`**\/*.{js,map}`) are
 * expanded, since the engine's globs have none. No vscode import: tested in
 * plain Node.
 */

/** Longest list a brace expansion may produce for one glob (more is skipped). */
const MAX_EXPANSION = 64;

export function excludeGlobs(filesExclude: Record<string, unknown> | null | undefined, own: readonly unknown[]): string[] {
  const out = new Set<string>();
  for (const [glob, on] of Object.entries(filesExclude ?? {})) {
    if (on === true) for (const g of expandBraces(glob)) out.add(normalise(g));
  }
  for (const glob of own) if (typeof glob === 'string' && glob.trim()) for (const g of expandBraces(glob.trim())) out.add(normalise(g));
  out.delete('');
  return [...out];
}

/** `a{b,c}d` → [abd, acd]; nested braces too; unbalanced ones stay literal. */
export function expandBraces(glob: string): string[] {
  const open = glob.indexOf('{');
  if (open < 0) return [glob];
  let depth = 0;
  let close = -1;
  const commas: number[] = [];
  for (let i = open; i < glob.length; i++) {
    if (glob[i] === '{') depth++;
    else if (glob[i] === '}' && --depth === 0) {
      close = i;
      break;
    } else if (glob[i] === ',' && depth === 1) commas.push(i);
  }
  if (close < 0) return [glob];
  const head = glob.slice(0, open);
  const tail = glob.slice(close + 1);
  const bounds = [open, ...commas, close];
  const out: string[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    for (const rest of expandBraces(glob.slice(bounds[k] + 1, bounds[k + 1]) + tail)) {
      out.push(head + rest);
      if (out.length >= MAX_EXPANSION) return out;
    }
  }
  return out;
}

/** `**\/x` and `x` mean the same to the engine; a leading `./` goes. */
function normalise(glob: string): string {
  return glob.replace(/^\.\//, '').trim();
}
