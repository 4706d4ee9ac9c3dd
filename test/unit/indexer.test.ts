import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Excludes, ExcludeError, compileExcludeGlob } from '../../src/engine/excludes';
import { idToString, type Id } from '../../src/core/ids';
import {
  DEFAULT_BATCH_SIZE,
  findLocation,
  IndexAbortedError,
  IndexError,
  indexFolder,
  normalizeGitRemote,
  parseGitRemotes,
  readGitRemote,
  removeLocation,
  workspaceKeyFor,
  type IndexProgress,
} from '../../src/engine/indexer';
import { entryAt, itemOfEntry } from '../../src/engine/items';
import { Library } from '../../src/engine/library';
import { NotFoundError } from '../../src/engine/errors';
import { mountPointOf } from '../../src/engine/volumes';
import { ENTRY_KIND } from '../../src/models/entry';
import { bundleForTest } from '../support/bundle';
import { unreadableScenario, type UnreadableOutcome } from '../support/indexer-unreadable-child';
import { cleanupTempDirs, tempDir } from '../support/tmp';
import { tree } from '../support/tree';

interface Row {
  uuid: Id;
  kind: number;
  size: number;
  mtime: number;
}

/** A location's live entries by relative path (through their parent links). */
function entriesOf(lib: Library, location: Id): Map<string, Row> {
  return lib.read((r) => {
    const rows = r.rows(
      'SELECT e.uuid, e.kind, e.size, e.mtime FROM entry e JOIN location l ON l.id = e.location_id WHERE l.uuid = ? AND e.deleted = 0 AND e.hlc IS NOT NULL',
      [location],
    );
    const out = new Map<string, Row>();
    for (const [uuid, kind, size, mtime] of rows) {
      const item = itemOfEntry(r, uuid as Id);
      assert.ok(item, 'every live entry has a path');
      assert.ok(!out.has(item.path), `one entry per path (${item.path})`);
      out.set(item.path, { uuid: uuid as Id, kind: kind as number, size: size as number, mtime: mtime as number });
    }
    return out;
  });
}

function locationRow(lib: Library, location: Id): Record<string, unknown> {
  const rec = lib.read((r) => lib.registry.deviceOwnedModel('location').get(r, location));
  assert.ok(rec && !rec.deleted);
  return rec.data;
}

/** Counts the transactions committed (synced rows written) while `fn` runs. */
async function commitsDuring<T>(lib: Library, fn: () => Promise<T>): Promise<{ result: T; commits: number; rows: number }> {
  let commits = 0;
  let rows = 0;
  const on = (c: { state: Map<string, unknown[]>; shared: unknown[] }) => {
    commits++;
    for (const list of c.state.values()) rows += list.length;
    rows += c.shared.length;
  };
  lib.on('committed', on);
  try {
    const result = await fn();
    return { result, commits, rows };
  } finally {
    lib.off('committed', on);
  }
}

describe('indexer', () => {
  const open: Library[] = [];
  const newLib = async (deviceName?: string) => {
    const lib = await Library.create({ dataDir: tempDir(), name: 'idx', deviceName });
    open.push(lib);
    await lib.ready(); // its own device record is written as it opens: not part of what a test counts
    return lib;
  };
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close();
  });
  after(cleanupTempDirs);

  describe('git remotes → workspace keys', () => {
    it('normalises every spelling of a remote to host/path', () => {
      const cases: [string, string | null][] = [
        ['git@github.com:acme/api.git', 'github.com/acme/api'],
        ['https://github.com/acme/api', 'github.com/acme/api'],
        ['https://github.com/acme/api.git/', 'github.com/acme/api'],
        ['https://GitHub.com/Acme/API', 'github.com/acme/api'],
        ['ssh://git@github.com/acme/api.git', 'github.com/acme/api'],
        ['ssh://git@github.com:22/acme/api.git', 'github.com/acme/api'],
        ['git+ssh://git@github.com/acme/api', 'github.com/acme/api'],
        ['git://github.com/acme/api.git', 'github.com/acme/api'],
        ['https://user:s3cret@github.com/acme/api.git', 'github.com/acme/api'],
        ['https://x-access-token:ghp_abc@github.com/acme/api', 'github.com/acme/api'],
        ['  https://github.com/acme//api//  ', 'github.com/acme/api'],
        ['github.com:acme/api', 'github.com/acme/api'],
        // self-hosted: the host is lower-cased, the path keeps its case; the port goes
        ['https://Git.Example.COM:8443/Team/Repo.git', 'git.example.com/Team/Repo'],
        ['git@git.example.com:Team/Repo', 'git.example.com/Team/Repo'],
        ['https://gitlab.com/group/sub/project.git', 'gitlab.com/group/sub/project'],
        ['git@ssh.dev.azure.com:v3/org/proj/repo', 'dev.azure.com/org/proj/_git/repo'],
        ['https://org@dev.azure.com/org/proj/_git/repo', 'dev.azure.com/org/proj/_git/repo'],
        ['https://github.com/acme/api?foo=1#bar', 'github.com/acme/api'],
        // local remotes name nothing another machine shares
        ['/srv/git/api.git', null],
        ['../api', null],
        ['file:///srv/git/api.git', null],
        ['C:\\repos\\api', null],
        ['C:/repos/api', null],
        ['', null],
        ['https://github.com/', null],
        ['https://github.com/.git', null],
      ];
      for (const [url, key] of cases) assert.equal(normalizeGitRemote(url), key, url);
    });

    it('reads remotes from a git config: origin first, comments, quoting, insteadOf', () => {
      const config = [
        '[core]',
        '\tbare = false',
        '# [remote "commented"]',
        '[remote "upstream"]',
        '\turl = https://github.com/upstream/api.git',
        '\tfetch = +refs/heads/*:refs/remotes/upstream/*',
        '[Remote "origin"]',
        '\turl = "gh:acme/api" ; a comment',
        '[url "git@github.com:"]',
        '\tinsteadOf = gh:',
      ].join('\n');
      assert.deepEqual(parseGitRemotes(config), [
        { name: 'upstream', url: 'https://github.com/upstream/api.git' },
        { name: 'origin', url: 'git@github.com:acme/api' },
      ]);
    });

    it('keys a checkout by its origin, a worktree or submodule through its gitdir, anything else by its name', async () => {
      const root = tempDir();
      tree(root, {
        'api/.git/config': '[remote "upstream"]\n\turl = https://github.com/other/api\n[remote "origin"]\n\turl = git@github.com:Acme/API.git\n',
        'fork/.git/config': '[remote "upstream"]\n\turl = https://github.com/other/fork\n',
        'plain/readme.md': 'x',
        'local/.git/config': '[remote "origin"]\n\turl = /srv/git/local.git\n',
        'norremote/.git/config': '[core]\n\tbare = false\n',
        // a worktree: .git is a file; its config is in the main repository (commondir)
        'main/.git/config': '[remote "origin"]\n\turl = https://gitlab.com/team/main.git\n',
        'main/.git/worktrees/wt/commondir': '../..\n',
        'wt/.git': `gitdir: ${path.join(root, 'main/.git/worktrees/wt')}\n`,
        // a submodule: .git is a file with a relative gitdir
        'super/.git/modules/sub/config': '[remote "origin"]\n\turl = https://github.com/acme/sub\n',
        'super/sub/.git': 'gitdir: ../.git/modules/sub\n',
      });
      assert.equal(await workspaceKeyFor(path.join(root, 'api')), 'github.com/acme/api');
      assert.equal(await workspaceKeyFor(path.join(root, 'fork')), 'github.com/other/fork');
      assert.equal(await workspaceKeyFor(path.join(root, 'plain')), 'plain');
      assert.equal(await workspaceKeyFor(path.join(root, 'local')), 'local');
      assert.equal(await workspaceKeyFor(path.join(root, 'norremote')), 'norremote');
      assert.equal(await workspaceKeyFor(path.join(root, 'wt')), 'gitlab.com/team/main');
      assert.equal(await workspaceKeyFor(path.join(root, 'super', 'sub')), 'github.com/acme/sub');
      assert.equal(await readGitRemote(path.join(root, 'plain')), null);
      assert.equal(await workspaceKeyFor(path.join(root, 'missing')), 'missing');
    });
  });

  describe('excludes', () => {
    it('matches names, globs, directory-only and anchored patterns', () => {
      const ex = new Excludes(['node_modules', '*.log', 'build/', '**/tmp', 'src/gen', '/dist', 'docs/**/*.png', 'cache?']);
      const yes: [string, boolean][] = [
        ['node_modules', true],
        ['a/b/node_modules', true],
        ['x.log', false],
        ['deep/er/x.log', false],
        ['build', true],
        ['pkg/build', true],
        ['tmp', true],
        ['a/b/tmp', false],
        ['src/gen', true],
        ['dist', true],
        ['docs/a.png', false],
        ['docs/img/deep/a.png', false],
        ['cache1', false],
      ];
      for (const [p, isDir] of yes) assert.ok(ex.matches(p, isDir), `${p} excluded`);
      const no: [string, boolean][] = [
        ['build', false], // a file named build: the pattern is for directories
        ['node_modules2', true],
        ['x.log.txt', false],
        ['lib/src/gen', true], // anchored at the root
        ['pkg/dist', true],
        ['docs/a.jpg', false],
        ['tmpfile', false],
        ['cache12', false],
      ];
      for (const [p, isDir] of no) assert.ok(!ex.matches(p, isDir), `${p} kept`);
      assert.equal(compileExcludeGlob('a.b+c(d)').test('a.b+c(d)'), true);
      assert.equal(compileExcludeGlob('a.b').test('axb'), false);
      assert.throws(() => new Excludes(['']), ExcludeError);
      assert.throws(() => new Excludes(['**']), /would exclude everything/);
    });
  });

  describe('indexFolder', () => {
    it('indexes nested folders, files and symlinks with their sizes, times and parent links', async () => {
      const lib = await newLib('laptop');
      const root = path.join(tempDir(), 'proj');
      tree(root, {
        'README.md': 'hello',
        'src/index.ts': 'export {};\n',
        'src/lib/util.ts': '12345678',
        'src/lib/deep/x.bin': 'abc',
        'empty': null,
        '.gitignore': 'x',
      });
      symlinkSync('src', path.join(root, 'link-to-dir'));
      symlinkSync('README.md', path.join(root, 'link-to-file'));
      symlinkSync('nowhere', path.join(root, 'dangling'));
      const old = new Date('2020-01-02T03:04:05.678Z');
      utimesSync(path.join(root, 'README.md'), old, old);

      const res = await indexFolder(lib, root);
      assert.equal(res.workspaceKey, 'proj');
      const entries = entriesOf(lib, res.location);
      assert.deepEqual([...entries.keys()].sort(), [
        '.gitignore',
        'README.md',
        'dangling',
        'empty',
        'link-to-dir',
        'link-to-file',
        'src',
        'src/index.ts',
        'src/lib',
        'src/lib/deep',
        'src/lib/deep/x.bin',
        'src/lib/util.ts',
      ]);
      const e = (p: string) => entries.get(p)!;
      assert.equal(e('README.md').kind, ENTRY_KIND.file);
      assert.equal(e('README.md').size, 5);
      assert.equal(e('README.md').mtime, old.getTime());
      assert.equal(e('src/lib/util.ts').size, 8);
      assert.equal(e('src/lib').kind, ENTRY_KIND.dir);
      assert.equal(e('src/lib').size, 0);
      assert.equal(e('link-to-dir').kind, ENTRY_KIND.symlink, 'a symlinked directory is recorded, not followed');
      assert.ok(![...entries.keys()].some((k) => k.startsWith('link-to-dir/')));
      assert.equal(e('link-to-file').kind, ENTRY_KIND.symlink);
      assert.equal(e('dangling').kind, ENTRY_KIND.symlink);

      assert.equal(res.entries, 12);
      assert.equal(res.bytes, 5 + 11 + 8 + 3 + 1);
      assert.equal(res.written, 12);
      assert.equal(res.deleted, 0);
      assert.deepEqual(res.warnings, []);

      const loc = locationRow(lib, res.location);
      assert.equal(loc.path, root);
      assert.equal(loc.name, 'proj');
      assert.equal(loc.workspace_key, 'proj');
      assert.equal(loc.entry_count, 12);
      assert.equal(loc.total_bytes, res.bytes);
      assert.deepEqual(loc.device, lib.deviceId);
      assert.equal(lib.scanState(res.location)?.state, 'done');

      // the entries resolve by path the way items do
      const rowId = lib.read((r) => r.value('SELECT id FROM location WHERE uuid = ?', [res.location])) as number;
      assert.equal(idToString(lib.read((r) => entryAt(r, rowId, 'src/lib/deep/x.bin'))!), idToString(e('src/lib/deep/x.bin').uuid));

      const volume = lib.read((r) => lib.registry.deviceOwnedModel('volume').get(r, loc.volume as Id));
      assert.ok(volume && !volume.deleted);
      assert.deepEqual(volume.data.device, lib.deviceId);
      assert.equal(volume.data.mount_point, await mountPointOf(root));
      assert.ok(root.startsWith(volume.data.mount_point as string));
      if (volume.data.total_bytes !== null) assert.ok((volume.data.total_bytes as number) >= (volume.data.available_bytes as number));
      const device = lib.read((r) => lib.registry.deviceOwnedModel('device').get(r, lib.deviceId));
      assert.equal(device?.data.name, 'laptop');
      assert.equal(findLocation(lib, root + path.sep) && idToString(findLocation(lib, root + path.sep)!), idToString(res.location));
    });

    it('skips .git and node_modules by default, plus the names and globs given; includeDefaults: false keeps them', async () => {
      const lib = await newLib();
      const root = path.join(tempDir(), 'repo');
      tree(root, {
        '.git/config': '[remote "origin"]\n\turl = git@github.com:acme/repo.git\n',
        '.git/HEAD': 'ref',
        'node_modules/left-pad/index.js': 'x',
        'pkg/node_modules/x/y.js': 'x',
        'app.log': 'log',
        'src/app.ts': 'a',
        'src/debug.log': 'log',
        'src/tmp/scratch.txt': 's',
        'build/out.js': 'o',
        'docs/build': 'a file named build',
      });
      const res = await indexFolder(lib, root, { exclude: ['*.log', 'build/', '**/tmp'] });
      assert.equal(res.workspaceKey, 'github.com/acme/repo');
      assert.deepEqual([...entriesOf(lib, res.location).keys()].sort(), ['docs', 'docs/build', 'pkg', 'src', 'src/app.ts']);
      assert.deepEqual([...res.skipped].sort(), ['.git', 'app.log', 'build', 'node_modules', 'pkg/node_modules', 'src/debug.log', 'src/tmp']);

      // Rescanning with other rules: what is now excluded goes, what is now included comes.
      const again = await indexFolder(lib, root, { includeDefaults: false, exclude: ['src'] });
      assert.equal(idToString(again.location), idToString(res.location), 'same device and path: same location');
      const keys = [...entriesOf(lib, res.location).keys()];
      assert.ok(keys.includes('.git/HEAD') && keys.includes('node_modules/left-pad/index.js') && keys.includes('build/out.js'));
      assert.ok(!keys.some((k) => k.startsWith('src')));
      assert.equal(again.deleted, 2, 'src and src/app.ts');
    });

    it('rescans incrementally: an unchanged folder writes nothing; changes write only what changed', async () => {
      const lib = await newLib();
      const root = path.join(tempDir(), 'proj');
      tree(root, { 'a.txt': 'a', 'keep/b.txt': 'b', 'keep/c.txt': 'c', 'gone/d.txt': 'd', 'gone/sub/e.txt': 'e', 'mod.txt': 'before' });
      const first = await indexFolder(lib, root);
      const before = entriesOf(lib, first.location);
      const stateBefore = lib.scanState(first.location);

      const unchanged = await commitsDuring(lib, () => indexFolder(lib, root));
      assert.equal(unchanged.commits, 0, 'an unchanged rescan commits nothing');
      assert.equal(unchanged.result.written, 0);
      assert.equal(unchanged.result.deleted, 0);
      assert.equal(unchanged.result.entries, first.entries);
      assert.equal(lib.scanState(first.location)?.state, 'done');
      assert.ok(lib.scanState(first.location)!.at! >= stateBefore!.at!);

      writeFileSync(path.join(root, 'mod.txt'), 'after, longer');
      const t = new Date(Date.now() + 60_000);
      utimesSync(path.join(root, 'keep/b.txt'), t, t); // same size, new time
      rmSync(path.join(root, 'gone'), { recursive: true });
      rmSync(path.join(root, 'a.txt'));
      tree(root, { 'new/f.txt': 'ffff', 'a.txt/inside.txt': 'a file became a directory' });
      const changed = await commitsDuring(lib, () => indexFolder(lib, root));
      const res = changed.result;
      // mod.txt, keep/b.txt, keep (its listing did not change, but b's did not touch it), new, new/f.txt, a.txt (now a dir),
      // a.txt/inside.txt, and the root's own changes are not an entry
      const after = entriesOf(lib, first.location);
      assert.deepEqual([...after.keys()].sort(), ['a.txt', 'a.txt/inside.txt', 'keep', 'keep/b.txt', 'keep/c.txt', 'mod.txt', 'new', 'new/f.txt']);
      assert.equal(res.deleted, 4, 'gone, gone/d.txt, gone/sub, gone/sub/e.txt');
      const rewritten = [...after].filter(([p, row]) => {
        const b = before.get(p);
        return !b || b.mtime !== row.mtime || b.size !== row.size || b.kind !== row.kind;
      });
      assert.equal(res.written, rewritten.length, 'only new and changed entries are written');
      assert.ok(res.written >= 6 && res.written <= 7, `written ${res.written}`); // keep/ itself is unchanged
      assert.equal(idToString(after.get('mod.txt')!.uuid), idToString(before.get('mod.txt')!.uuid), 'a changed file keeps its entry');
      assert.equal(after.get('mod.txt')!.size, 'after, longer'.length);
      assert.equal(after.get('keep/b.txt')!.mtime, t.getTime());
      assert.equal(idToString(after.get('keep/c.txt')!.uuid), idToString(before.get('keep/c.txt')!.uuid));
      assert.equal(after.get('a.txt')!.kind, ENTRY_KIND.dir);
      assert.equal(res.entries, 8);
      assert.equal(locationRow(lib, first.location).entry_count, 8);
      assert.equal(locationRow(lib, first.location).total_bytes, res.bytes);
      // the location row changed (counts) along with the entries; nothing else
      assert.equal(changed.rows, res.written + res.deleted + 1);
    });

    it('keeps the location and rewrites it when the workspace key or name changes', async () => {
      const lib = await newLib();
      const root = path.join(tempDir(), 'proj');
      tree(root, { 'a.txt': 'a' });
      const first = await indexFolder(lib, root);
      const second = await commitsDuring(lib, () => indexFolder(lib, root, { workspaceKey: 'github.com/me/proj', name: 'My project' }));
      assert.equal(idToString(second.result.location), idToString(first.location));
      assert.equal(second.rows, 1, 'only the location row');
      assert.equal(locationRow(lib, first.location).workspace_key, 'github.com/me/proj');
      assert.equal(locationRow(lib, first.location).name, 'My project');
      await assert.rejects(indexFolder(lib, root, { workspaceKey: '  ' }), /must not be empty/);
      await assert.rejects(indexFolder(lib, root, { workspaceKey: 'x'.repeat(1025) }), /limit is 1024/);
    });

    it('re-creates this device’s record if it is missing, and renames it when asked', async () => {
      const lib = await newLib('before');
      await lib.ready();
      await lib.write((tx) => tx.remove('device', lib.deviceId));
      const root = path.join(tempDir(), 'p');
      tree(root, { f: 'x' });
      await indexFolder(lib, root, { deviceName: 'after' });
      const dev = () => lib.read((r) => lib.registry.deviceOwnedModel('device').get(r, lib.deviceId))!;
      assert.equal(dev().deleted, false);
      assert.equal(dev().data.name, 'after');
      await indexFolder(lib, root, { deviceName: 'renamed' });
      assert.equal(dev().data.name, 'renamed');
      const unchanged = await commitsDuring(lib, () => indexFolder(lib, root));
      assert.equal(unchanged.commits, 0, 'no name given: the record stays as it is');
    });

    it('refuses what is not a folder, and a folder already being indexed', async () => {
      const lib = await newLib();
      const dir = tempDir();
      await assert.rejects(indexFolder(lib, path.join(dir, 'missing')), NotFoundError);
      writeFileSync(path.join(dir, 'file'), 'x');
      await assert.rejects(indexFolder(lib, path.join(dir, 'file')), IndexError);
      await assert.rejects(indexFolder(lib, dir, { batchSize: 0 }), /batchSize/);
      tree(dir, { 'p/a': 'a' });
      const running = indexFolder(lib, path.join(dir, 'p'));
      await assert.rejects(indexFolder(lib, path.join(dir, 'p')), /already being indexed/);
      await running;
      await indexFolder(lib, path.join(dir, 'p')); // and again once it is done
    });

    it('stops between batches when aborted, keeps what was written, and the next scan completes it', async () => {
      const lib = await newLib();
      const root = path.join(tempDir(), 'many');
      const files: Record<string, string> = {};
      for (let d = 0; d < 5; d++) for (let f = 0; f < 40; f++) files[`d${d}/f${f}.txt`] = `${d}-${f}`;
      tree(root, files);
      const ac = new AbortController();
      const progress: IndexProgress[] = [];
      const err = await indexFolder(lib, root, {
        batchSize: 50,
        signal: ac.signal,
        onProgress: (p) => {
          progress.push(p);
          if (p.written >= 100) ac.abort();
        },
      }).then(
        () => assert.fail('should stop'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof IndexAbortedError, String(err));
      assert.equal(err.name, 'AbortError');
      assert.equal(err.progress.written, 100);
      const location = findLocation(lib, root)!;
      assert.equal(lib.scanState(location)?.state, 'aborted');
      assert.equal(entriesOf(lib, location).size, 100, 'the batches written stay');

      const rest = await indexFolder(lib, root, { batchSize: 50 });
      assert.equal(rest.entries, 205);
      assert.equal(rest.written, 105, 'only what the aborted scan did not write');
      assert.equal(rest.deleted, 0);
      assert.equal(entriesOf(lib, location).size, 205);
      assert.equal(lib.scanState(location)?.state, 'done');

      // an already-aborted signal stops before anything is written
      const pre = new AbortController();
      pre.abort();
      await assert.rejects(indexFolder(lib, path.join(root, 'd0'), { signal: pre.signal }), IndexAbortedError);
      assert.equal(findLocation(lib, path.join(root, 'd0')), null);
    });

    it('indexes a 20,000-file folder in batches with correct counts and progress', async function () {
      this.timeout(120_000);
      const lib = await newLib();
      const root = path.join(tempDir(), 'big');
      let bytes = 0;
      for (let d = 0; d < 20; d++) {
        mkdirSync(path.join(root, `dir${d}`), { recursive: true });
        for (let f = 0; f < 1000; f++) {
          const content = 'x'.repeat((d + f) % 17);
          bytes += content.length;
          writeFileSync(path.join(root, `dir${d}`, `file${f}.txt`), content);
        }
      }
      const progress: IndexProgress[] = [];
      const run = await commitsDuring(lib, () => indexFolder(lib, root, { onProgress: (p) => progress.push({ ...p }) }));
      const res = run.result;
      assert.equal(res.entries, 20_020);
      assert.equal(res.bytes, bytes);
      assert.equal(res.written, 20_020);
      const entryBatches = Math.ceil(20_020 / DEFAULT_BATCH_SIZE);
      // the entry batches, plus the new location (before and after) and the volume
      assert.ok(run.commits >= entryBatches && run.commits <= entryBatches + 3, `commits ${run.commits}`);
      assert.ok(progress.length >= entryBatches, `progress ${progress.length}`);
      for (let i = 1; i < progress.length; i++) {
        assert.ok(progress[i].scanned >= progress[i - 1].scanned && progress[i].written >= progress[i - 1].written);
        assert.ok(progress[i].written - progress[i - 1].written <= DEFAULT_BATCH_SIZE);
      }
      assert.deepEqual(progress[progress.length - 1], { scanned: 20_020, written: 20_020, deleted: 0 });
      assert.equal(lib.counts().entry, 20_020);
      assert.equal(locationRow(lib, res.location).entry_count, 20_020);

      // unchanged: nothing written, progress still reported as it scans
      const seen: IndexProgress[] = [];
      const again = await commitsDuring(lib, () => indexFolder(lib, root, { onProgress: (p) => seen.push(p) }));
      assert.equal(again.commits, 0);
      assert.ok(seen.length >= 10);
      // a whole directory removed: its 1001 entries tombstoned in batches
      rmSync(path.join(root, 'dir7'), { recursive: true });
      const removed = await indexFolder(lib, root);
      assert.equal(removed.deleted, 1001);
      assert.equal(removed.entries, 19_019);
      assert.equal(lib.counts().entry, 19_019);
    });

    it('removes a location with its entries; indexing the folder again makes a new one', async () => {
      const lib = await newLib();
      const root = path.join(tempDir(), 'p');
      tree(root, { 'a/b.txt': 'b', 'c.txt': 'c' });
      const res = await indexFolder(lib, root);
      assert.equal(lib.counts().entry, 3);
      await removeLocation(lib, res.location);
      assert.equal(lib.counts().entry, 0);
      assert.equal(lib.counts().location, 0);
      assert.equal(findLocation(lib, root), null);
      await assert.rejects(removeLocation(lib, res.location), NotFoundError);
      const again = await indexFolder(lib, root);
      assert.notEqual(idToString(again.location), idToString(res.location));
      assert.equal(again.written, 3);
    });

    it('skips a directory it cannot read with a warning, keeping what was indexed under it', async function () {
      this.timeout(60_000);
      const dir = tempDir();
      const folder = path.join(dir, 'proj');
      tree(folder, { 'open/a.txt': 'a', 'locked/b.txt': 'b', 'locked/sub/c.txt': 'c' });
      let outcome: UnreadableOutcome;
      if (process.platform === 'win32') this.skip();
      if (process.getuid?.() !== 0) outcome = await unreadableScenario(path.join(dir, 'data'), folder);
      else {
        // Permissions do not stop root: run the scenario as another user.
        const child = await bundleForTest('test/support/indexer-unreadable-child.ts', 'child.js');
        const nobody = 65534;
        chmodSync(dir, 0o755);
        chmodSync(path.dirname(child), 0o755);
        const chownAll = (p: string) => {
          chownSync(p, nobody, nobody);
          if (statSync(p).isDirectory()) for (const n of readdirSync(p)) chownAll(path.join(p, n));
        };
        chownAll(folder);
        mkdirSync(path.join(dir, 'data'));
        chownSync(path.join(dir, 'data'), nobody, nobody);
        outcome = await new Promise<UnreadableOutcome>((resolve, reject) => {
          const p = spawn(process.execPath, [child, path.join(dir, 'data'), folder], { uid: nobody, gid: nobody, stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          let errText = '';
          p.stdout.on('data', (d: Buffer) => (out += d.toString()));
          p.stderr.on('data', (d: Buffer) => (errText += d.toString()));
          p.on('error', reject);
          p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as UnreadableOutcome) : reject(new Error(`child failed (${code}): ${errText}`))));
        });
      }
      assert.equal(outcome.first.entries, 6);
      assert.deepEqual(outcome.first.warnings, []);
      assert.equal(outcome.second.deleted, 0, 'nothing under the unreadable directory is tombstoned');
      assert.equal(outcome.second.entries, 6);
      assert.equal(outcome.second.warnings.length, 1);
      assert.match(outcome.second.warnings[0], /^Skipped locked: permission denied/);
      assert.equal(outcome.scanState, 'done');
    });
  });
});
