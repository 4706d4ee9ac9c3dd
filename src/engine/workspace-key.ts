/**
 * Workspace keys (DESIGN rule 10): what makes the same repository the same
 * item space on every machine, wherever it is checked out. The key is the
 * folder's git remote, normalised so that every way of writing one URL gives
 * one string (`git@github.com:Acme/api.git`, `https://github.com/acme/api/`
 * and `ssh://git@github.com/acme/api` are all `github.com/acme/api`); a
 * folder that is not a git checkout with a remote falls back to its name.
 *
 * `.git/config` is read directly (no git binary): a checkout, a worktree or
 * a submodule (`.git` as a `gitdir:` file) all work. Only the folder itself
 * is looked at, not its parents: a subfolder of a repository is keyed by its
 * own name. These files come with the folder: each must be a regular file
 * of at most 1 MiB (small-file.ts; links are followed, as git follows
 * them), anything else counts as no remote.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readSmallTextFile } from './small-file';

/** The text of a git file; throws if it is missing or not a small regular file (callers treat that as "no remote"). */
async function readGitFile(file: string): Promise<string> {
  const r = await readSmallTextFile(file, { followSymlinks: true });
  if (r === null || 'skipped' in r) throw new Error(`${file}: ${r === null ? 'missing' : r.skipped}`);
  return r.text;
}

/** The longest workspace key the location model stores. */
export const MAX_WORKSPACE_KEY = 1024;

/** Hosts whose repository paths are case-insensitive: their paths are lower-cased too. */
const CASE_INSENSITIVE_HOSTS = new Set(['github.com', 'gitlab.com', 'bitbucket.org']);

export interface GitRemote {
  name: string;
  url: string;
}

/**
 * Normalises a git remote URL to `host/path`: scheme, credentials, port,
 * `.git` suffix and trailing slashes removed, host lower-cased (and the path
 * too for GitHub, GitLab and Bitbucket, which ignore its case). Returns null
 * for local remotes (a path or `file://` URL), which name nothing another
 * machine could share, and for anything unparseable.
 */
export function normalizeGitRemote(url: string): string | null {
  let s = url.trim();
  if (s === '') return null;
  let host: string;
  let rest: string;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s);
  if (scheme) {
    if (scheme[1].toLowerCase() === 'file') return null;
    s = s.slice(scheme[0].length);
    const slash = s.indexOf('/');
    const authority = slash < 0 ? s : s.slice(0, slash);
    rest = slash < 0 ? '' : s.slice(slash + 1);
    host = hostOf(authority);
  } else {
    // scp-like `[user@]host:path`: a ':' before any '/'. A drive letter (`C:\repo`) is a local path.
    if (/^[a-z]:[\\/]/i.test(s)) return null;
    const colon = s.indexOf(':');
    const slash = s.indexOf('/');
    if (colon <= 0 || (slash >= 0 && slash < colon)) return null;
    host = hostOf(s.slice(0, colon));
    rest = s.slice(colon + 1);
  }
  if (!host) return null;
  rest = rest.split(/[?#]/)[0];
  let parts = rest.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length && parts[parts.length - 1].toLowerCase().endsWith('.git')) {
    const last = parts[parts.length - 1].slice(0, -4);
    parts = last ? [...parts.slice(0, -1), last] : parts.slice(0, -1);
  }
  // Azure DevOps over SSH (`ssh.dev.azure.com:v3/org/project/repo`) is the same repository as
  // `https://dev.azure.com/org/project/_git/repo`.
  if (host === 'ssh.dev.azure.com' && parts[0] === 'v3' && parts.length === 4) {
    host = 'dev.azure.com';
    parts = [parts[1], parts[2], '_git', parts[3]];
  }
  if (parts.length === 0 || parts.includes('..')) return null;
  let p = parts.join('/');
  if (CASE_INSENSITIVE_HOSTS.has(host)) p = p.toLowerCase();
  const key = `${host}/${p}`;
  return key.length <= MAX_WORKSPACE_KEY ? key : null;
}

/** The host of an authority (`user:password@Host:port`), lower-cased, without credentials or port. */
function hostOf(authority: string): string {
  let h = authority.slice(authority.lastIndexOf('@') + 1);
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    h = end < 0 ? '' : h.slice(0, end + 1); // an IPv6 literal keeps its brackets
  } else {
    const colon = h.indexOf(':');
    if (colon >= 0) h = h.slice(0, colon);
  }
  return h.toLowerCase().replace(/\.$/, '');
}

/**
 * The remotes declared in a git config file's text, in file order, with
 * `[url "<base>"] insteadOf = <prefix>` rewrites applied.
 */
export function parseGitRemotes(config: string): GitRemote[] {
  const remotes: GitRemote[] = [];
  const insteadOf: { prefix: string; base: string }[] = [];
  let section = '';
  let sub: string | null = null;
  for (const raw of config.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]\s*(.*)$/.exec(line);
    if (head) {
      section = head[1].toLowerCase();
      sub = head[2] === undefined ? null : head[2].replace(/\\(.)/g, '$1');
      // git allows `[section] key = value` on one line
      if (!head[3]) continue;
      const kv = keyValue(head[3]);
      if (kv) add(kv);
      continue;
    }
    const kv = keyValue(line);
    if (kv) add(kv);
  }
  function add([key, value]: [string, string]): void {
    if (section === 'remote' && sub !== null && key === 'url' && !remotes.some((r) => r.name === sub)) remotes.push({ name: sub, url: value });
    if (section === 'url' && sub !== null && key === 'insteadof') insteadOf.push({ prefix: value, base: sub });
  }
  return remotes.map((r) => {
    let best: { prefix: string; base: string } | null = null;
    for (const rule of insteadOf) if (rule.prefix && r.url.startsWith(rule.prefix) && (!best || rule.prefix.length > best.prefix.length)) best = rule;
    return best ? { name: r.name, url: best.base + r.url.slice(best.prefix.length) } : r;
  });
}

/** `key = value` (key lower-cased; value unquoted, trailing comment removed). */
function keyValue(line: string): [string, string] | null {
  const m = /^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$/.exec(line);
  if (!m) return null;
  let value = '';
  let quoted = false;
  const v = m[2] ?? 'true';
  for (let i = 0; i < v.length; i++) {
    const ch = v[i];
    if (ch === '\\' && i + 1 < v.length) {
      const n = v[++i];
      value += n === 'n' ? '\n' : n === 't' ? '\t' : n;
    } else if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '#' || ch === ';')) break;
    else value += ch;
  }
  return [m[1].toLowerCase(), quoted ? value : value.trim()];
}

/** The git directory of a checkout (`.git`, or where a `.git` file's `gitdir:` points), or null. */
async function gitDirOf(folder: string): Promise<string | null> {
  const dotGit = path.join(folder, '.git');
  let st;
  try {
    st = await fsp.stat(dotGit);
  } catch {
    return null;
  }
  if (st.isDirectory()) return dotGit;
  if (!st.isFile()) return null;
  const m = /^gitdir:\s*(.+?)\s*$/m.exec(await readGitFile(dotGit));
  return m ? path.resolve(folder, m[1]) : null;
}

/** The config file of a git directory (a worktree's is its main repository's, named by `commondir`). */
async function configOf(gitDir: string): Promise<string> {
  try {
    const common = (await readGitFile(path.join(gitDir, 'commondir'))).trim();
    if (common) return path.join(path.resolve(gitDir, common), 'config');
  } catch {
    // not a worktree
  }
  return path.join(gitDir, 'config');
}

/** The folder's git remote URL as written (remote "origin" if there is one, else the first), or null. */
export async function readGitRemote(folder: string): Promise<string | null> {
  try {
    const gitDir = await gitDirOf(folder);
    if (!gitDir) return null;
    const remotes = parseGitRemotes(await readGitFile(await configOf(gitDir)));
    return (remotes.find((r) => r.name === 'origin') ?? remotes[0])?.url ?? null;
  } catch {
    return null; // best effort: an unreadable config is no remote
  }
}

/** The workspace key of a folder: its normalised git remote, else the folder's name. */
export async function workspaceKeyFor(folder: string): Promise<string> {
  const resolved = path.resolve(folder);
  const remote = await readGitRemote(resolved);
  const key = remote === null ? null : normalizeGitRemote(remote);
  return key ?? folderKey(resolved);
}

/** A folder's name as a workspace key (a filesystem root: the root itself, e.g. `/` or `C:\`). */
export function folderKey(folder: string): string {
  const name = path.basename(folder) || folder;
  return name.slice(0, MAX_WORKSPACE_KEY);
}
