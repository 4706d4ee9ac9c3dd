/**
 * Issue 11, defect 4: "A removed location can come back, with peers
 * disagreeing." A scan (or a watcher update) still running when the user
 * removes the location used to write the location back live with a newer
 * stamp, and entries into it; devices that were away then kept every old
 * entry while the owner had none. Removal now stops what writes the
 * location first, and a removed location is never written again.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { idToString, type Id } from '../../src/core/ids';
import { NotFoundError } from '../../src/engine/errors';
import { findLocation, IndexAbortedError, indexFolder, removeLocation } from '../../src/engine/indexer';
import { Library } from '../../src/engine/library';
import { pullAll } from '../../src/engine/local-pull';
import { updatePaths } from '../../src/engine/update-paths';
import { ENTRY_KIND } from '../../src/models/entry';
import { cleanupTempDirs, tempDir } from '../support/tmp';
import { tree } from '../support/tree';

/** `files` files in `dirs` folders under `root`. */
function manyFiles(root: string, dirs: number, files: number): void {
  const spec: Record<string, string> = {};
  for (let d = 0; d < dirs; d++) for (let f = 0; f < files; f++) spec[`d${d}/f${f}.txt`] = `${d}-${f}`;
  tree(root, spec);
}

/** Entry rows of `location` that are live (not tombstoned, not a placeholder). */
function liveEntries(lib: Library, location: Id): number {
  return Number(
    lib.read((r) => r.value('SELECT count(*) FROM entry e JOIN location l ON l.id = e.location_id WHERE l.uuid = ? AND e.deleted = 0 AND e.hlc IS NOT NULL', [location])),
  );
}

/** Entry rows of `location` of any kind (live, tombstones, placeholders). */
function anyEntries(lib: Library, location: Id): number {
  return Number(lib.read((r) => r.value('SELECT count(*) FROM entry e JOIN location l ON l.id = e.location_id WHERE l.uuid = ?', [location])));
}

function locationState(lib: Library, location: Id): 'live' | 'deleted' | 'absent' {
  const rec = lib.read((r) => lib.registry.deviceOwnedModel('location').get(r, location));
  return !rec ? 'absent' : rec.deleted ? 'deleted' : 'live';
}

describe('a removed location never comes back (issue 11, defect 4)', function () {
  this.timeout(30_000);
  const open: Library[] = [];
  const newLib = async (dataDir = tempDir(), join?: Library, deviceName?: string) => {
    const lib = await Library.create({ dataDir, name: 'rm', deviceName, libraryId: join?.id, secret: join?.secret });
    open.push(lib);
    await lib.ready();
    return lib;
  };
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close();
  });
  after(cleanupTempDirs);

  it('a scan that finishes after Remove Location does not bring it back', async () => {
    const lib = await newLib();
    const root = path.join(tempDir(), 'proj');
    manyFiles(root, 4, 50);
    let removal: Promise<void> | null = null;
    let location: Id | null = null;
    const scan = indexFolder(lib, root, {
      batchSize: 20,
      onProgress: (p) => {
        // The user removes the location while its first scan is still writing.
        if (removal || p.written < 40) return;
        location = findLocation(lib, root);
        removal = removeLocation(lib, location!);
      },
    });
    const outcome = await scan.then(
      () => 'finished',
      (e: unknown) => e,
    );
    assert.ok(removal, 'the removal started during the scan');
    await removal;
    assert.equal(locationState(lib, location!), 'deleted', 'the location stays removed');
    assert.equal(findLocation(lib, root), null);
    assert.equal(lib.counts().location, 0);
    assert.equal(lib.counts().entry, 0, 'no entry of it is live');
    assert.equal(anyEntries(lib, location!), 0, 'its entries went with it');
    assert.ok(outcome instanceof IndexAbortedError, `the scan was stopped: ${String(outcome)}`);
    assert.match(outcome.message, /removed/);
    // Re-adding the folder makes a new location, with a new id.
    const again = await indexFolder(lib, root);
    assert.notEqual(idToString(again.location), idToString(location!));
    assert.equal(again.entries, 204);
    assert.equal(locationState(lib, location!), 'deleted');
  });

  it('Remove Location waits for the scan to stop before it deletes, and a scan asked for meanwhile is refused', async () => {
    const lib = await newLib();
    const root = path.join(tempDir(), 'proj');
    manyFiles(root, 4, 50);
    const first = await indexFolder(lib, root);
    // A rescan that rewrites everything (every file changed), in small batches.
    for (let d = 0; d < 4; d++) for (let f = 0; f < 50; f++) writeFileSync(path.join(root, `d${d}/f${f}.txt`), `changed ${d}-${f}`);
    const commits: string[] = [];
    lib.on('committed', (c) => {
      if (c.state.get('location')?.some((r) => r.deleted)) commits.push('removed');
      else if (c.state.has('entry')) commits.push('entries');
    });
    let removal: Promise<void> | null = null;
    let racing: Promise<unknown> | null = null;
    const rescan = indexFolder(lib, root, {
      batchSize: 10,
      onProgress: (p) => {
        if (removal || p.written < 30) return;
        removal = removeLocation(lib, first.location);
        // A rescan and a watcher batch that arrive while it is being removed.
        racing = Promise.allSettled([indexFolder(lib, root), updatePaths(lib, root, { changed: [path.join(root, 'd0/f0.txt')], deleted: [] })]);
      },
    });
    await assert.rejects(rescan, IndexAbortedError);
    await removal;
    const [again, update] = (await racing!) as PromiseSettledResult<unknown>[];
    assert.equal(again.status, 'rejected');
    assert.match(String((again as PromiseRejectedResult).reason), /being removed/);
    assert.equal(update.status, 'rejected');
    assert.equal(commits.at(-1), 'removed', `nothing was written after the removal: ${commits.join(' ')}`);
    assert.equal(locationState(lib, first.location), 'deleted');
    assert.equal(lib.counts().entry, 0);
  });

  it('a watcher update racing Remove Location writes none of its entries', async () => {
    const lib = await newLib();
    const root = path.join(tempDir(), 'proj');
    tree(root, { 'a.txt': 'a' });
    const first = await indexFolder(lib, root);
    manyFiles(path.join(root, 'new'), 5, 40); // a new folder with 200 files: one watcher event
    let removal: Promise<void> | null = null;
    const off = lib.on('committed', (c) => {
      if (!removal && c.state.has('entry')) removal = removeLocation(lib, first.location);
    });
    const update = updatePaths(lib, root, { changed: [path.join(root, 'new')], deleted: [] }, { batchSize: 20 });
    const outcome = await update.then(
      () => 'finished',
      (e: unknown) => e,
    );
    off();
    assert.ok(removal, 'the removal started during the update');
    await removal;
    assert.notEqual(outcome, 'finished', 'the update was stopped');
    assert.equal(locationState(lib, first.location), 'deleted');
    assert.equal(liveEntries(lib, first.location), 0, 'no entry of the removed location is live');
    assert.equal(anyEntries(lib, first.location), 0);
    // Later watcher batches for the folder find no location.
    await assert.rejects(updatePaths(lib, root, { changed: [path.join(root, 'a.txt')], deleted: [] }), NotFoundError);
  });

  it('a local write never brings a removed location or entries into it back', async () => {
    const lib = await newLib();
    const root = path.join(tempDir(), 'proj');
    tree(root, { 'a.txt': 'a' });
    const res = await indexFolder(lib, root);
    const data = lib.read((r) => lib.registry.deviceOwnedModel('location').get(r, res.location))!.data;
    await removeLocation(lib, res.location);
    await assert.rejects(
      lib.write((tx) => tx.put('location', { ...data, entry_count: 7 }, res.location)),
      (e: Error) => e instanceof NotFoundError && /removed/.test(e.message),
    );
    await assert.rejects(
      lib.write((tx) => tx.put('entry', { location: res.location, parent: null, name: 'b.txt', kind: ENTRY_KIND.file, size: 1, mtime: 1 })),
      (e: Error) => e instanceof NotFoundError && /removed/.test(e.message),
    );
    // Not even in the transaction that removes it.
    const other = await indexFolder(lib, tempDir());
    await assert.rejects(
      lib.write((tx) => {
        tx.remove('location', other.location);
        tx.put('entry', { location: other.location, parent: null, name: 'c.txt', kind: ENTRY_KIND.file, size: 1, mtime: 1 });
      }),
      NotFoundError,
    );
    assert.equal(locationState(lib, res.location), 'deleted');
    assert.equal(locationState(lib, other.location), 'live', 'the refused transaction left nothing');
    assert.equal(lib.counts().entry, 0);
  });

  it('a device that was away converges with the owner: no entries of the removed location anywhere', async () => {
    const dir = tempDir();
    const owner = await newLib(path.join(dir, 'owner'), undefined, 'owner');
    const peer = await newLib(path.join(dir, 'peer'), owner, 'peer');
    const away = await newLib(path.join(dir, 'away'), owner, 'away');
    const everyone = [owner, peer, away];
    const syncAll = async (libs: Library[]) => {
      for (const a of libs) for (const b of libs) if (a !== b) await pullAll(a, b);
    };
    const root = path.join(tempDir(), 'proj');
    manyFiles(root, 4, 50);
    const first = await indexFolder(owner, root, { batchSize: 50 });
    await syncAll(everyone);
    assert.equal(away.counts().entry, 204, 'every device has the entries');

    // The away device is gone; meanwhile the folder changes and the owner rescans it, and the
    // user removes the location while that rescan runs.
    rmSync(path.join(root, 'd3'), { recursive: true });
    manyFiles(path.join(root, 'more'), 2, 50);
    for (let f = 0; f < 50; f++) writeFileSync(path.join(root, `d0/f${f}.txt`), `changed ${f}`);
    let removal: Promise<void> | null = null;
    const rescan = indexFolder(owner, root, {
      batchSize: 20,
      onProgress: (p) => {
        if (!removal && p.written >= 40) removal = removeLocation(owner, first.location);
      },
    });
    await rescan.catch(() => undefined);
    assert.ok(removal, 'removed during the rescan');
    await removal;
    await syncAll([owner, peer]);
    // The away device comes back and syncs, learning from either partner first.
    await pullAll(peer, away);
    await pullAll(owner, away);
    await syncAll(everyone);

    for (const lib of everyone) {
      const who = lib.read((r) => r.value('SELECT name FROM device WHERE uuid = ?', [lib.deviceId]));
      assert.equal(locationState(lib, first.location), 'deleted', `${who}: the location is removed`);
      assert.equal(liveEntries(lib, first.location), 0, `${who}: no entry of the removed location`);
      assert.equal(lib.counts().entry, 0, `${who}: no entry at all`);
    }
    assert.equal(peer.digest(), owner.digest(), 'the peer agrees with the owner');
    assert.equal(away.digest(), owner.digest(), 'the device that was away agrees with the owner');
  });
});
