import assert from 'node:assert/strict';
import { idToString } from '../../src/core/ids';
import { itemOfEntry, normalizeItemPath, resolveItem } from '../../src/engine/items';
import { Library } from '../../src/engine/library';
import { pullAll } from '../../src/engine/local-pull';
import { ENTRY_KIND } from '../../src/models/entry';
import { cleanupTempDirs, tempDir } from '../support/tmp';

describe('items (workspace key + relative path)', () => {
  after(cleanupTempDirs);

  it('normalises paths and refuses ones that leave the location', () => {
    assert.equal(normalizeItemPath('./src\\\\a//b.ts/'), 'src/a/b.ts');
    assert.throws(() => normalizeItemPath('src/../../etc'), /cannot go up/);
  });

  it('finds the same file in the same repository on every device, at different absolute paths', async () => {
    const dir = tempDir();
    const laptop = await Library.create({ dataDir: `${dir}/a`, name: 'l' });
    const desktop = await Library.create({ dataDir: `${dir}/b`, name: 'l', libraryId: laptop.id });
    const wk = 'github.com/acme/api';
    const files = new Map<string, Uint8Array>();
    for (const [lib, root] of [
      [laptop, '/home/me/api'],
      [desktop, 'D:/work/api'],
    ] as const) {
      await lib.write((tx) => {
        const loc = tx.put('location', { device: lib.deviceId, volume: null, path: root, name: 'api', workspace_key: wk, entry_count: 2, total_bytes: 5 });
        const src = tx.put('entry', { location: loc.uuid, parent: null, name: 'src', kind: ENTRY_KIND.dir, size: 0, mtime: 1 });
        files.set(root, tx.put('entry', { location: loc.uuid, parent: src.uuid, name: 'index.ts', kind: ENTRY_KIND.file, size: 5, mtime: 1 }).uuid);
      });
    }
    await pullAll(laptop, desktop);
    const found = desktop.read((r) => resolveItem(r, { workspaceKey: wk, path: 'src/index.ts' }));
    assert.equal(found.length, 2);
    assert.deepEqual(
      found.map((f) => [f.locationPath, f.entry && idToString(f.entry)]).sort(),
      [
        ['/home/me/api', idToString(files.get('/home/me/api')!)],
        ['D:/work/api', idToString(files.get('D:/work/api')!)],
      ].sort(),
    );
    assert.deepEqual(desktop.read((r) => itemOfEntry(r, files.get('/home/me/api')!)), { workspaceKey: wk, path: 'src/index.ts' });
    assert.equal(desktop.read((r) => resolveItem(r, { workspaceKey: wk, path: 'src/missing.ts' }))[0].entry, null);
    await laptop.close();
    await desktop.close();
  });
});
