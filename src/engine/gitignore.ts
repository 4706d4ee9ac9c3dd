/**
 * `.gitignore` files, as the indexer honours them: the root one and those
 * in subfolders (whose patterns are relative to their own folder, and
 * override the ones above). The common grammar:
 *
 * - blank lines and `#` comments are skipped; `\#` and `\!` start a
 *   literal; trailing spaces are dropped;
 * - `!pattern` re-includes what an earlier pattern excluded (not inside an
 *   excluded folder: the indexer never descends into one);
 * - a trailing `/` matches folders only;
 * - a pattern with a `/` at its start or middle is anchored to the
 *   .gitignore's folder (`/build`, `docs/*.png`); one without matches a
 *   name at any depth below it (`*.log`, `node_modules`);
 * - `*`, `?`, `[a-z]` / `[!a-z]` within one name; `**` across folders
 *   (`**\/x`, `a/**\/b`, `x/**`).
 *
 * The last pattern that matches decides. The repository's own
 * `.git/info/exclude` (same grammar, relative to the root) is read too, as
 * git does, and weighs least: any .gitignore pattern overrides it.
 *
 * These files come with the folder, so they are read as untrusted input
 * (small-file.ts: a symbolic link is not followed, as git does not; only a
 * regular file of at most 1 MiB; otherwise a warning), and patterns match
 * without backtracking blow-ups (glob-match.ts). A `[...]` class never
 * matches `/`.
 */
import * as path from 'node:path';
import { CHAR, classToken, Glob, GLOBSTAR, REST, STAR, ANY, type GlobToken } from './glob-match';
import { readSmallTextFile } from './small-file';

interface Rule {
  glob: Glob;
  negate: boolean;
  dirOnly: boolean;
  anchored: boolean;
}

export const GITIGNORE_FILE = '.gitignore';

/** The repository's private excludes, relative to the folder that holds `.git`. */
export const REPO_EXCLUDE_FILE = path.join('.git', 'info', 'exclude');

export class GitIgnore {
  /** Rules per folder (relative path, '' for the root), in file order. */
  private readonly byBase = new Map<string, Rule[]>();
  /** `.git/info/exclude` of the root: checked before the root's .gitignore, so it weighs least. */
  private repoRules: Rule[] = [];

  /** Why ignore files were not read (a link, not a regular file, too big), one line each, in the order met. */
  readonly warnings: string[] = [];

  /** Reads `<root>/.git/info/exclude` if there is one (a folder that is not a repository has none). */
  async loadRepoExclude(root: string): Promise<void> {
    const text = await this.read(root, REPO_EXCLUDE_FILE.split(path.sep).join('/'));
    this.repoRules = text === null ? [] : parseGitIgnore(text);
  }

  /** Reads the .gitignore of folder `baseRel` under `root`, if it has one. */
  async load(root: string, baseRel: string): Promise<void> {
    const text = await this.read(root, baseRel === '' ? GITIGNORE_FILE : `${baseRel}/${GITIGNORE_FILE}`);
    if (text !== null) this.add(baseRel, text);
  }

  /** The text of `rel` under `root`; null (with a warning unless it is simply not there) if it cannot be used. */
  private async read(root: string, rel: string): Promise<string | null> {
    const r = await readSmallTextFile(path.join(root, ...rel.split('/')));
    if (r === null) return null;
    if ('skipped' in r) {
      this.warnings.push(`Skipped ${rel}: ${r.skipped}`);
      return null;
    }
    return r.text;
  }

  /** Adds the contents of the .gitignore file in folder `baseRel` ('/'-separated, '' for the root). */
  add(baseRel: string, text: string): void {
    const rules = parseGitIgnore(text);
    if (rules.length) this.byBase.set(baseRel, rules);
    else this.byBase.delete(baseRel);
  }

  get empty(): boolean {
    return this.byBase.size === 0 && this.repoRules.length === 0;
  }

  /** Whether the entry at `relPath` is ignored by the .gitignore files of the folders above it. */
  ignored(relPath: string, isDir: boolean): boolean {
    if (this.empty) return false;
    let verdict: boolean | null = null;
    const parts = relPath.split('/');
    const name = parts[parts.length - 1];
    const apply = (rules: readonly Rule[], sub: string) => {
      for (const r of rules) {
        if (r.dirOnly && !isDir) continue;
        if (r.glob.test(r.anchored ? sub : name)) verdict = !r.negate;
      }
    };
    apply(this.repoRules, relPath);
    // Folders from the root down to the entry's parent: deeper files decide later, so they win.
    for (let depth = 0; depth < parts.length; depth++) {
      const rules = this.byBase.get(parts.slice(0, depth).join('/'));
      if (rules) apply(rules, parts.slice(depth).join('/'));
    }
    return verdict === true;
  }
}

export function parseGitIgnore(text: string): Rule[] {
  const rules: Rule[] = [];
  for (let line of text.split(/\r?\n/)) {
    // Trailing spaces go unless escaped with a backslash.
    line = line.replace(/(?<!\\)\s+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    } else if (line.startsWith('\\!') || line.startsWith('\\#')) line = line.slice(1);
    const dirOnly = line.endsWith('/');
    line = line.replace(/\/+$/, '');
    if (line === '') continue;
    const anchored = line.includes('/');
    line = line.replace(/^\/+/, '');
    if (line === '') continue;
    const glob = gitGlob(line);
    if (glob) rules.push({ glob, negate, dirOnly, anchored });
  }
  return rules;
}

/** A gitignore glob as a matcher over a '/'-separated path (see glob-match.ts); null if it cannot be read. */
function gitGlob(glob: string): Glob | null {
  const tokens: GlobToken[] = [];
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*' && glob[i + 1] === '*' && (i === 0 || glob[i - 1] === '/') && (i + 2 === glob.length || glob[i + 2] === '/')) {
      tokens.push(i + 2 === glob.length ? REST : GLOBSTAR); // `x/**`: everything inside; `**/`: zero or more folders
      i += 2;
    } else if (ch === '*') tokens.push(STAR);
    else if (ch === '?') tokens.push(ANY);
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        tokens.push(CHAR('['));
        continue;
      }
      let body = glob.slice(i + 1, end);
      const neg = body.startsWith('!') || body.startsWith('^');
      if (neg) body = body.slice(1);
      const set = classToken(body, neg);
      if (!set) return null;
      tokens.push(set);
      i = end;
    } else if (ch === '\\' && i + 1 < glob.length) tokens.push(CHAR(glob[++i]));
    else tokens.push(CHAR(ch));
  }
  return Glob.compile(tokens);
}
