/**
 * Ignore files and patterns come with the folders being indexed (a cloned
 * repository, an unpacked archive): they are input, not trusted.
 *
 * - `.gitignore` and `.git/info/exclude` are read without following a
 *   symbolic link (as git does), only when they are regular files, and only
 *   up to 1 MiB; anything else is skipped with a warning and the scan goes
 *   on (a link to /dev/zero or a FIFO never hangs it).
 * - Patterns match in time linear in the path (times the pattern), never
 *   with catastrophic backtracking; what they match is unchanged (checked
 *   against the regular expressions they used to compile to, on inputs
 *   small enough for those to be fast).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { type Id } from '../../src/core/ids';
import { Excludes } from '../../src/engine/excludes';
import { GitIgnore } from '../../src/engine/gitignore';
import { indexFolder } from '../../src/engine/indexer';
import { itemOfEntry } from '../../src/engine/items';
import { Library } from '../../src/engine/library';
import { updatePaths } from '../../src/engine/update-paths';
import { readGitRemote } from '../../src/engine/workspace-key';
import { cleanupTempDirs, tempDir } from '../support/tmp';
import { tree } from '../support/tree';

const posix = process.platform !== 'win32';

function paths(lib: Library, location: Id): string[] {
  return lib.read((r) => {
    const rows = r.rows('SELECT e.uuid FROM entry e JOIN location l ON l.id = e.location_id WHERE l.uuid = ? AND e.deleted = 0 AND e.hlc IS NOT NULL', [location]);
    return rows.map(([u]) => itemOfEntry(r, u as Id)!.path).sort();
  });
}

describe('ignore files are read safely', function () {
  this.timeout(30_000);
  let lib: Library;
  before(async () => {
    lib = await Library.create({ dataDir: tempDir(), name: 'W' });
  });
  after(async () => {
    await lib?.close();
    cleanupTempDirs();
  });

  it('a .gitignore that is a symbolic link is not followed (to a file elsewhere, or to /dev/zero), with a warning', async function () {
    if (!posix) this.skip();
    const outside = path.join(tempDir(), 'elsewhere');
    writeFileSync(outside, '*\n'); // would ignore everything
    const root = tempDir();
    tree(root, { 'a.txt': 'a', 'sub/b.txt': 'b', 'zero/c.txt': 'c', '.git/info/x': '' });
    symlinkSync(outside, path.join(root, '.gitignore'));
    symlinkSync('/dev/zero', path.join(root, 'zero', '.gitignore'));
    symlinkSync(outside, path.join(root, '.git', 'info', 'exclude'));
    const t0 = Date.now();
    const r = await indexFolder(lib, root, { gitignore: true });
    assert.ok(Date.now() - t0 < 10_000, 'finishes');
    assert.deepEqual(paths(lib, r.location), ['.gitignore', 'a.txt', 'sub', 'sub/b.txt', 'zero', 'zero/.gitignore', 'zero/c.txt']);
    for (const f of ['.gitignore', 'zero/.gitignore', '.git/info/exclude']) {
      assert.ok(r.warnings.some((w) => w === `Skipped ${f}: it is a symbolic link (not followed, as git does not)`), `${f}: ${r.warnings.join('\n')}`);
    }
  });

  it('a .gitignore larger than 1 MiB is skipped with a warning; one just under is read', async () => {
    const root = tempDir();
    const pad = (n: number) => '#'.repeat(n - 1) + '\n';
    tree(root, { 'secret.txt': 's', 'big/secret.txt': 's', 'fits/secret.txt': 's' });
    writeFileSync(path.join(root, 'big', '.gitignore'), 'secret.txt\n' + pad((1 << 20) + 1 - 11));
    writeFileSync(path.join(root, 'fits', '.gitignore'), 'secret.txt\n' + pad((1 << 20) - 11));
    const r = await indexFolder(lib, root, { gitignore: true });
    assert.deepEqual(paths(lib, r.location), ['big', 'big/.gitignore', 'big/secret.txt', 'fits', 'fits/.gitignore', 'secret.txt']);
    assert.deepEqual(
      r.warnings.filter((w) => /gitignore/.test(w)),
      ['Skipped big/.gitignore: it is larger than 1 MiB (1048577 bytes)'],
    );
  });

  it('a .gitignore that is a FIFO does not hang the scan', async function () {
    if (!posix) this.skip();
    const root = tempDir();
    tree(root, { 'a.txt': 'a' });
    execFileSync('mkfifo', [path.join(root, '.gitignore')]);
    const r = await indexFolder(lib, root, { gitignore: true });
    assert.ok(r.warnings.includes('Skipped .gitignore: it is not a regular file'), r.warnings.join('\n'));
    assert.deepEqual(paths(lib, r.location), ['a.txt'], 'the FIFO itself is not an entry (neither file, folder nor link)');
  });

  it('updatePaths reads a new folder\'s .gitignore the same way and says so', async function () {
    if (!posix) this.skip();
    const outside = path.join(tempDir(), 'elsewhere');
    writeFileSync(outside, '*\n');
    const root = tempDir();
    tree(root, { 'a.txt': 'a' });
    await indexFolder(lib, root, { gitignore: true });
    tree(root, { 'new/x.txt': 'x' });
    symlinkSync(outside, path.join(root, 'new', '.gitignore'));
    const r = await updatePaths(lib, root, { changed: [path.join(root, 'new')], deleted: [] }, { gitignore: true });
    assert.deepEqual(paths(lib, r.location), ['a.txt', 'new', 'new/.gitignore', 'new/x.txt']);
    assert.deepEqual(r.warnings, ['Skipped new/.gitignore: it is a symbolic link (not followed, as git does not)']);
  });

  it("a repository's .git/config that is not a regular file, or is huge, gives no remote (and does not hang)", async function () {
    if (!posix) this.skip();
    const a = tempDir();
    tree(a, { '.git/HEAD': 'ref: refs/heads/main\n' });
    symlinkSync('/dev/zero', path.join(a, '.git', 'config'));
    assert.equal(await readGitRemote(a), null);
    const b = tempDir();
    tree(b, { '.git/config': '[remote "origin"]\n\turl = https://example.com/x.git\n' + '#'.repeat(1 << 20) + '\n' });
    assert.equal(await readGitRemote(b), null);
  });
});

// ------------------------------------------------------------------ matching

/** What the patterns compiled to before (regular expressions): the oracle, on small inputs. */
function oldGitGlob(glob: string): RegExp | null {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*' && glob[i + 1] === '*' && (i === 0 || glob[i - 1] === '/') && (i + 2 === glob.length || glob[i + 2] === '/')) {
      if (i + 2 === glob.length) re += '.*';
      else re += '(?:[^/]*/)*';
      i += 2;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      const neg = body.startsWith('!') || body.startsWith('^');
      if (neg) body = body.slice(1);
      // (?!\/): a class never matches '/', as in git (the old expression let `[!a]` match it).
      re += `(?!\\/)[${neg ? '^' : ''}${body.replace(/\\/g, '\\\\').replace(/\]/g, '\\]')}]`;
      i = end;
    } else if (ch === '\\' && i + 1 < glob.length) re += glob[++i].replace(/[.+^${}()|[\]\\/*?]/g, '\\$&');
    else re += ch.replace(/[.+^${}()|[\]\\/*?]/g, '\\$&');
  }
  try {
    return new RegExp(`^${re}$`);
  } catch {
    return null;
  }
}

function oldExcludeGlob(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*' && glob[i + 1] === '*') {
      const before = i === 0 || glob[i - 1] === '/';
      const after = glob[i + 2] === '/' || i + 2 === glob.length;
      if (before && glob[i + 2] === '/') {
        re += '(?:[^/]*/)*';
        i += 2;
        continue;
      }
      if (before && after) {
        re += '.*';
        i += 1;
        continue;
      }
      re += '[^/]*';
      i += 1;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** A path of 1–4 names over a small alphabet (no empty names: real paths have none). */
const pathArb = fc.array(fc.stringMatching(/^[ab.!\]-]{1,5}$/), { minLength: 1, maxLength: 4 }).map((names) => names.join('/'));
/** A glob made of the pieces that matter. */
const globArb = fc
  .array(fc.constantFrom('a', 'b', '.', '*', '**', '?', '/', '[ab]', '[!a]', '[a-b]', '[]a]', '[', ']', '\\*', '!', '-'), { minLength: 1, maxLength: 7 })
  .map((pieces) => pieces.join(''));

describe('ignore patterns match without backtracking', () => {
  it('match what they matched before (gitignore grammar, anchored and by name)', () => {
    fc.assert(
      fc.property(globArb, pathArb, fc.boolean(), (glob, p, isDir) => {
        const g = new GitIgnore();
        g.add('', glob + '\n');
        // The old rule, as parseGitIgnore applied it.
        let line = glob.replace(/(?<!\\)\s+$/, '');
        let negate = false;
        if (line.startsWith('!')) {
          negate = true;
          line = line.slice(1);
        } else if (line.startsWith('\\!') || line.startsWith('\\#')) line = line.slice(1);
        const dirOnly = line.endsWith('/');
        line = line.replace(/\/+$/, '');
        const anchored = line.includes('/');
        line = line.replace(/^\/+/, '');
        const re = line === '' || glob.startsWith('#') ? null : oldGitGlob(line);
        const name = p.slice(p.lastIndexOf('/') + 1);
        const expected = re !== null && !(dirOnly && !isDir) && re.test(anchored ? p : name) && !negate;
        // Only the root's rules apply to a path at the root; deeper paths see them too, through their names or anchored path.
        assert.equal(g.ignored(p, isDir), expected, `${JSON.stringify(glob)} vs ${JSON.stringify(p)} (dir ${isDir})`);
      }),
      { numRuns: Number(process.env.GLOB_RUNS ?? 3000) },
    );
  });

  it('match what they matched before (exclude grammar)', () => {
    fc.assert(
      fc.property(globArb, pathArb, fc.boolean(), (glob, p, isDir) => {
        let ex: Excludes;
        try {
          ex = new Excludes([glob]);
        } catch {
          return; // "would exclude everything": refused as before
        }
        let q = glob.trim().replace(/\\/g, '/');
        const dirOnly = q.endsWith('/');
        q = q.replace(/\/+$/, '');
        const anchored = q.includes('/');
        q = q.replace(/^\/+/, '');
        const name = p.slice(p.lastIndexOf('/') + 1);
        const expected = !(dirOnly && !isDir) && oldExcludeGlob(q).test(anchored ? p : name);
        assert.equal(ex.matches(p, isDir), expected, `${JSON.stringify(glob)} vs ${JSON.stringify(p)} (dir ${isDir})`);
      }),
      { numRuns: Number(process.env.GLOB_RUNS ?? 3000) },
    );
  });

  it('adversarial patterns against long paths take milliseconds, not seconds', () => {
    const name = 'a'.repeat(40);
    const deep = (`${'a'.repeat(200)}/`).repeat(20) + 'a'.repeat(200);
    const g = new GitIgnore();
    g.add('', ['*a*a*a*a*a*a*a*a*a*b', '**/*a*a*a*a*b', '/**/**/**/**/**/**/**/**/x', 'a*/**/a*/**/a*/**/a*/**/z', '[a]*[a]*[a]*[a]*[a]*[a]*[a]*c'].join('\n'));
    const ex = new Excludes(['*a*a*a*a*a*a*a*a*a*b', '**/*a*a*a*a*b', '**/**/**/**/**/**/**/**/x', 'a*/**/a*/**/a*/**/a*/**/z', '?*?*?*?*?*?*?*?*c']);
    const t0 = performance.now();
    for (const p of [name, `${name}/${name}`, deep, 'a/'.repeat(2000) + 'y', 'x'.repeat(4096)]) {
      assert.equal(g.ignored(p, false), false);
      assert.equal(ex.matches(p, false), false);
    }
    const ms = performance.now() - t0;
    // With the old regular expressions the first name alone took ~3 s, and the deep path minutes.
    assert.ok(ms < 500, `took ${ms.toFixed(0)} ms`);
    // They still match what they should.
    assert.equal(g.ignored(`${'a'.repeat(40)}b`, false), true);
    assert.equal(ex.matches(`${deep}/x`, false), true);
  });
});
