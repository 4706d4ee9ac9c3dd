/**
 * What the indexer leaves out of a folder: names and simple globs, in the
 * spirit of .gitignore without its full grammar.
 *
 * - `node_modules`, `*.log`, `cache?`: a pattern without '/' matches an
 *   entry's name at any depth;
 * - `build/`: a trailing '/' matches directories only;
 * - `src/gen`, `/dist`: a pattern with a '/' elsewhere matches the path from
 *   the folder's root;
 * - `**` matches any number of folders: `**\/tmp` is `tmp` at any depth,
 *   `docs/**\/*.png` any png under docs.
 *
 * A matched directory is skipped with everything under it.
 */

import { ANY, CHAR, Glob, GLOBSTAR, REST, STAR, type GlobToken } from './glob-match';

/** Skipped unless `includeDefaults` is false: never worth indexing, and huge. */
export const DEFAULT_EXCLUDES: readonly string[] = ['.git', 'node_modules'];

interface Rule {
  pattern: string;
  glob: Glob;
  /** Matched against the whole relative path (else the name). */
  anchored: boolean;
  dirOnly: boolean;
}

export class ExcludeError extends Error {
  readonly code = 'ERR_EXCLUDE_PATTERN';
  constructor(message: string) {
    super(message);
    this.name = 'ExcludeError';
  }
}

export class Excludes {
  private readonly rules: Rule[];

  constructor(patterns: readonly string[]) {
    this.rules = patterns.map(compile);
  }

  /** Whether the entry at `relPath` ('/'-separated, from the root) is excluded. */
  matches(relPath: string, isDir: boolean): boolean {
    if (this.rules.length === 0) return false;
    const slash = relPath.lastIndexOf('/');
    const name = slash < 0 ? relPath : relPath.slice(slash + 1);
    for (const r of this.rules) {
      if (r.dirOnly && !isDir) continue;
      if (r.glob.test(r.anchored ? relPath : name)) return true;
    }
    return false;
  }
}

function compile(pattern: string): Rule {
  if (typeof pattern !== 'string') throw new ExcludeError(`An exclude pattern must be a string, not ${typeof pattern}`);
  let p = pattern.trim().replace(/\\/g, '/');
  const dirOnly = p.endsWith('/');
  p = p.replace(/\/+$/, '');
  const anchored = p.includes('/');
  p = p.replace(/^\/+/, '');
  if (p === '' || p === '**') throw new ExcludeError(`The exclude pattern ${JSON.stringify(pattern)} would exclude everything`);
  return { pattern, glob: compileExcludeGlob(p), anchored, dirOnly };
}

/** `*` and `?` within one name, `**` across folders; everything else literal. Matched without backtracking blow-ups (glob-match.ts). */
export function compileExcludeGlob(glob: string): Glob {
  const tokens: GlobToken[] = [];
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*' && glob[i + 1] === '*') {
      const before = i === 0 || glob[i - 1] === '/';
      if (before && glob[i + 2] === '/') {
        tokens.push(GLOBSTAR); // `**/`: zero or more folders
        i += 2;
        continue;
      }
      if (before && i + 2 === glob.length) {
        tokens.push(REST); // a trailing `/**`: everything below
        i += 1;
        continue;
      }
      tokens.push(STAR);
      i += 1;
    } else if (ch === '*') tokens.push(STAR);
    else if (ch === '?') tokens.push(ANY);
    else tokens.push(CHAR(ch));
  }
  return Glob.compile(tokens);
}
