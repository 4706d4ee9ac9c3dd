/**
 * Keeping an indexed folder current from watcher events (updatePaths): the
 * oracle is a full rescan afterwards, which must find nothing to write.
 */
import assert from 'node:assert/strict';
import { renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type Id } from '../../src/core/ids';
import { indexFolder } from '../../src/engine/indexer';
import { itemOfEntry } from '../../src/engine/items';
import { Library } from '../../src/engine/library';
import { updatePaths } from '../../src/engine/update-paths';
import { EngineService } from '../../src/service/engine-service';
import { invokeMethod } from '../../src/service/method-table';
import { serviceMethods } from '../../src/service/methods';
import { cleanupTempDirs, tempDir } from '../support/tmp';
import { tree } from '../support/tree';

function paths(lib: Library, location: Id): string[] {
  return lib.read((r) => {
    const rows = r.rows('SELECT e.uuid FROM entry e JOIN location l ON l.id = e.location_id WHERE l.uuid = ? AND e.deleted = 0 AND e.hlc IS NOT NULL', [location]);
    return rows.map(([u]) => itemOfEntry(r, u as Id)!.path).sort();
  });
}

describe('updatePaths: watcher changes without a rescan', function () {
  this.timeout(20_000);
  after(cleanupTempDirs);
  const opts = { gitignore: true, exclude: ['*.bak'] };

  it('writes changed and new paths (a new folder with its contents), tombstones deleted ones with what was under them; a rescan then finds nothing to do', async () => {
    const dataDir = tempDir();
    const root = tempDir();
    tree(root, { '.git/info/exclude': '*.tmp\n', 'mine.tmp': 'ignored by info/exclude', '.gitignore': 'out/\n*.log\n', 'debug.log': 'ignored', 'out/x.js': 'ignored', 'a.txt': 'a', 'src/b.ts': 'b', 'src/old/c.ts': 'c', 'src/old/d/e.ts': 'e', 'gone.txt': 'g' });
    const lib = await Library.create({ dataDir, name: 'W' });
    try {
      const first = await indexFolder(lib, root, opts);
      const before = paths(lib, first.location);
      assert.deepEqual(before, ['.gitignore', 'a.txt', 'gone.txt', 'src', 'src/b.ts', 'src/old', 'src/old/c.ts', 'src/old/d', 'src/old/d/e.ts']);

      writeFileSync(path.join(root, 'a.txt'), 'changed, longer');
      utimesSync(path.join(root, 'a.txt'), new Date(), new Date(Date.now() + 5000));
      tree(root, { 'new/deep/f.ts': 'f', 'new/n.tmp': 'ignored by info/exclude', 'new/g.ts': 'g', 'new/h.log': 'ignored', 'new/x.bak': 'excluded', 'out/build.js': 'ignored', 'src/b2.ts': 'b2', 'sub/.gitignore': '*.md\n', 'sub/readme.md': 'ignored', 'sub/keep.ts': 'k' });
      rmSync(path.join(root, 'src/old'), { recursive: true });
      rmSync(path.join(root, 'gone.txt'));
      renameSync(path.join(root, 'src/b.ts'), path.join(root, 'src/renamed.ts'));
      const r = await updatePaths(
        lib,
        root,
        {
          // as a watcher reports them: a new folder once, files in known folders one by one, a rename as delete + create
          changed: ['a.txt', 'new', 'new/h.log', 'out/build.js', 'src/b2.ts', 'src/renamed.ts', 'sub/readme.md', 'sub/keep.ts', 'sub/.gitignore', 'gone.txt'].map((p) => path.join(root, p)).concat(['/elsewhere/x']),
          deleted: ['src/old', 'src/b.ts'].map((p) => path.join(root, p)),
        },
        opts,
      );
      assert.ok(r.written > 0 && r.deleted > 0, JSON.stringify(r));
      assert.deepEqual(paths(lib, first.location), ['.gitignore', 'a.txt', 'new', 'new/deep', 'new/deep/f.ts', 'new/g.ts', 'src', 'src/b2.ts', 'src/renamed.ts', 'sub', 'sub/.gitignore', 'sub/keep.ts']);

      const again = await updatePaths(lib, root, { changed: [path.join(root, 'a.txt'), path.join(root, 'new')], deleted: [path.join(root, 'src/old')] }, opts);
      assert.deepEqual([again.written, again.deleted], [0, 0], 'repeated events write nothing');

      const rescan = await indexFolder(lib, root, opts);
      assert.deepEqual([rescan.written, rescan.deleted], [0, 0], 'the rescan agrees with what updatePaths wrote');
      const loc = lib.read((r2) => lib.registry.deviceOwnedModel('location').get(r2, first.location))!.data;
      assert.equal(loc.entry_count, rescan.entries);
    } finally {
      await lib.close();
    }
  });

  it('a file deep in a folder that is not indexed yet brings its parent folders; a path in an excluded folder is skipped', async () => {
    const dataDir = tempDir();
    const root = tempDir();
    tree(root, { 'a.txt': 'a' });
    const lib = await Library.create({ dataDir, name: 'W' });
    try {
      const first = await indexFolder(lib, root, opts);
      tree(root, { 'x/y/z.txt': 'z', 'node_modules/m/i.js': 'i' });
      await updatePaths(lib, root, { changed: [path.join(root, 'x/y/z.txt'), path.join(root, 'node_modules/m/i.js')], deleted: [] }, opts);
      assert.deepEqual(paths(lib, first.location), ['a.txt', 'x', 'x/y', 'x/y/z.txt']);
      await assert.rejects(updatePaths(lib, tempDir(), { changed: [], deleted: [] }), /not a location of this device/);
    } finally {
      await lib.close();
    }
  });

  it('as the updatePaths control method, by folder path or location id', async () => {
    const dataDir = tempDir();
    const root = tempDir();
    tree(root, { '.gitignore': '*.log\n', 'a.txt': 'a' });
    const service = await EngineService.start({ dataDir, network: false });
    try {
      const methods = serviceMethods(service);
      const call = async (method: string, params: Record<string, unknown>) => {
        const out = await invokeMethod(methods, method, params, { connection: null });
        if ('error' in out) throw Object.assign(new Error(out.error.message), out.error);
        return out.result as Record<string, unknown>;
      };
      await call('init', { name: 'W' });
      const added = await call('addLocation', { path: root, gitignore: true });
      tree(root, { 'b.txt': 'b', 'c.log': 'ignored' });
      const r = await call('updatePaths', { path: root, changed: [path.join(root, 'b.txt'), path.join(root, 'c.log')], deleted: [], gitignore: true });
      assert.deepEqual({ written: r.written, deleted: r.deleted, skipped: r.skipped }, { written: 1, deleted: 0, skipped: 1 });
      rmSync(path.join(root, 'b.txt'));
      const r2 = await call('updatePaths', { location: added.location, changed: [], deleted: [path.join(root, 'b.txt')] });
      assert.equal(r2.deleted, 1);
      await assert.rejects(call('updatePaths', { path: root, changed: ['relative.txt'], deleted: [] }), /absolute/);
      await assert.rejects(call('updatePaths', { changed: [], deleted: [] }), /"path" or "location"/);
    } finally {
      await service.close();
    }
  });
});
