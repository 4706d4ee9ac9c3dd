import assert from 'node:assert/strict';
import { ClockDriftError, compareBytes, encodeHlcTime } from '../../src/core/hlc';
import { idEquals, idKey, idToString, newId, originId } from '../../src/core/ids';
import { computeOwnerStates, type OwnerState } from '../../src/models/owner-state';
import { Library, listLibraries, type Committed } from '../../src/engine/library';
import { pullAll } from '../../src/engine/local-pull';
import { NotFoundError, InvalidChangeError } from '../../src/engine/errors';
import { ModelKindError, UnknownModelError } from '../../src/engine/registry';
import { ENTRY_KIND } from '../../src/models/entry';
import { OwnershipError } from '../../src/models/errors';
import { RecordFormatError } from '../../src/models/fields';
import type { StateRecord } from '../../src/models/model';
import { cleanupTempDirs, tempDir } from '../support/tmp';

const locationData = (device: Uint8Array, wk = 'github.com/acme/api') => ({
  device,
  volume: null,
  path: '/home/me/api',
  name: 'api',
  workspace_key: wk,
  entry_count: 0,
  total_bytes: 0,
});
const tagData = { name: 'todo', color: 'red', icon: null, description: null, namespace: null };

/** Two devices of one library; `introduced`: each already holds the other's device record. */
async function pair(introduced = true): Promise<[Library, Library]> {
  const dir = tempDir();
  const a = await Library.create({ dataDir: `${dir}/a`, name: 'lib', deviceName: 'laptop' });
  const b = await Library.create({ dataDir: `${dir}/b`, name: 'lib', deviceName: 'desktop', libraryId: a.id, secret: a.secret });
  if (introduced) {
    await pullAll(a, b);
    await pullAll(b, a);
  }
  return [a, b];
}

describe('Library', () => {
  const open: Library[] = [];
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close();
  });
  after(cleanupTempDirs);
  const track = <T extends Library | Library[]>(x: T): T => {
    open.push(...(Array.isArray(x) ? x : [x]));
    return x;
  };

  it('creates, lists and reopens a library with its identity and this device', async () => {
    const dataDir = tempDir();
    const lib = await Library.create({ dataDir, name: 'Work', deviceName: 'laptop' });
    const { id, deviceId, secret } = lib;
    assert.equal(secret.length, 32);
    await lib.close();
    assert.deepEqual((await listLibraries(dataDir)).map((l) => [l.id, l.name]), [[idToString(id), 'Work']]);
    const again = track(await Library.open({ dataDir, libraryId: id }));
    assert.deepEqual(again.deviceId, deviceId);
    assert.equal(again.name, 'Work');
    const dev = again.read((r) => again.registry.deviceOwnedModel('device').get(r, deviceId))!;
    assert.equal(dev.data.name, 'laptop');
  });

  it('emits committed after the commit is durable, with stamped records', async () => {
    const lib = track(await Library.create({ dataDir: tempDir(), name: 'x' }));
    const events: Committed[] = [];
    lib.on('committed', (c) => events.push(c));
    const [tag] = await lib.commitShared([{ model: 'tag', op: 'create', data: tagData }]);
    // this device's own record, written as the library opened, is announced too
    assert.deepEqual(events.flatMap((e) => [...e.state.keys()]), ['device']);
    const shared = events.filter((e) => e.shared.length);
    assert.equal(shared.length, 1);
    assert.equal(shared[0].shared[0], tag);
    assert.deepEqual([tag.hlc.device, tag.device, tag.seq], [lib.origin, lib.deviceId, 1], 'stamped with this run\'s origin, written by this device');
    assert.deepEqual(lib.origin, originId(lib.deviceId, lib.incarnation));
    assert.equal(lib.read((r) => lib.log.size(r)), 1);
  });

  it('opens a library written before owner states were kept: computed from its rows on the first open, parked rows keep their owner', async () => {
    const dataDir = tempDir();
    const [a, b] = await pair();
    try {
      const [loc] = await b.commitDeviceOwned('location', [{ data: locationData(b.deviceId) }]);
      const entries = await b.commitDeviceOwned('entry', [1, 2, 3].map((i) => ({ data: { location: loc.uuid, parent: null, name: `f${i}`, kind: ENTRY_KIND.file, size: i, mtime: 0 } })));
      const old = await Library.create({ dataDir, name: 'x', libraryId: a.id, secret: a.secret });
      await old.applyState('device', b.stateSince('device', b.deviceId, null, 10));
      // The entries arrive before their location: parked.
      await old.applyState('entry', entries, { owner: b.deviceId, through: b.completeThrough(b.deviceId, 'entry') });
      assert.equal(old.parkedCount(), 3);
      const expected = old.ownerStates();
      // Take it back to before migration 4: no owner or shared states, no origins, parked rows without owner and stamp.
      await old.store.transaction((w) => {
        w.run('DROP INDEX parked_owner');
        w.run('ALTER TABLE parked DROP COLUMN owner');
        w.run('ALTER TABLE parked DROP COLUMN stamp');
        w.run('DROP TABLE owner_state');
        w.run('DROP TABLE shared_state');
        w.run('DROP TABLE origin');
        w.run('ALTER TABLE peer_log DROP COLUMN signature'); // migration 5
        w.run('DROP TABLE owner_seal'); // migration 9
        w.run('DROP TABLE owner_verified');
        w.run('DROP TABLE owner_undo');
        w.run('DROP TABLE owner_orphan'); // migration 10
        w.run("DELETE FROM meta WHERE key IN ('owner_state', 'own_hlc')");
        w.run('DELETE FROM _migrations WHERE version IN (4, 5, 9, 10)');
      });
      await old.close();
      const reopened = track(await Library.open({ dataDir, libraryId: a.id }));
      await reopened.ready();
      const canonical = (states: OwnerState[]) => states.map((o) => `${idKey(o.owner)} ${o.model} ${o.rows} ${o.live} ${o.newest ? idKey(o.newest) : '-'} ${idKey(o.sum)}`).sort();
      const others = (states: OwnerState[]) => canonical(states.filter((o) => !idEquals(o.owner, reopened.deviceId)));
      assert.deepEqual(others(reopened.ownerStates()), others(expected), 'owner states computed from the rows on the first open');
      const computed = reopened.read((r) => computeOwnerStates(r, reopened.registry.deviceOwned));
      assert.deepEqual(canonical(reopened.ownerStates()), canonical(computed), 'and kept exact after (its own device row was written again as it opened)');
      assert.equal(reopened.parkedCount(), 3, 'the parked rows survived the upgrade');
      const through = reopened.completeThrough(b.deviceId, 'entry');
      assert.ok(through === null || compareBytes(through, encodeHlcTime(entries[0].hlc)) < 0, 'and, knowing their owner again, are not vouched for');
      await reopened.applyState('location', [loc], { owner: b.deviceId, through: b.completeThrough(b.deviceId, 'location') });
      assert.equal(reopened.parkedCount(), 0, 'they apply once their location arrives');
      assert.equal(reopened.counts().entry, 3);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses device-owned writes for another device, and shared models on the device-owned path', async () => {
    const [a] = track(await pair());
    await assert.rejects(a.commitDeviceOwned('location', [{ data: locationData(newId()) }]), OwnershipError);
    await assert.rejects(a.commitDeviceOwned('tag', [{ data: tagData }]), ModelKindError);
    await assert.rejects(a.commitShared([{ model: 'location', op: 'create', data: {} }]), ModelKindError);
    await assert.rejects(a.commitShared([{ model: 'nope' as never, op: 'create', data: {} }]), UnknownModelError);
    await assert.rejects(a.commitShared([{ model: 'tag', op: 'create', data: { color: 'red' } }]), InvalidChangeError);
    await assert.rejects(a.commitDeviceOwned('entry', [{ data: { location: newId(), parent: null, name: 'x', kind: 0, size: 0, mtime: 0 } }]), NotFoundError);
    // nothing of the failed transactions was written
    assert.equal(a.read((r) => a.log.size(r)), 0);
    assert.equal(a.counts().location, 0);
  });

  it('rolls back the whole transaction when one record in it is bad', async () => {
    const lib = track(await Library.create({ dataDir: tempDir(), name: 'x' }));
    await assert.rejects(
      lib.write((tx) => {
        tx.create('tag', tagData);
        tx.put('location', locationData(newId()));
      }),
      OwnershipError,
    );
    assert.equal(lib.counts().tag, 0);
    const [t] = await lib.commitShared([{ model: 'tag', op: 'create', data: tagData }]);
    assert.equal(t.seq, 1, 'the log sequence did not skip');
  });

  it('keeps the HLC across a restart, and numbers the next run\'s changes under a new origin', async () => {
    const dataDir = tempDir();
    let wall = 1_000_000;
    const lib = await Library.create({ dataDir, name: 'x', now: () => wall });
    const [t1] = await lib.commitShared([{ model: 'tag', op: 'create', data: tagData }]);
    await lib.close();
    wall = 10; // the clock stepped back while we were down
    const again = track(await Library.open({ dataDir, libraryId: lib.id, now: () => wall }));
    const [t2] = await again.commitShared([{ model: 'tag', op: 'create', data: tagData }]);
    assert.ok(t2.hlc.ms >= t1.hlc.ms && (t2.hlc.ms > t1.hlc.ms || t2.hlc.counter > t1.hlc.counter));
    assert.notDeepEqual(t2.hlc.device, t1.hlc.device, 'a new incarnation: a restored copy could never reuse the numbers or stamps of the one before');
    assert.deepEqual([t2.device, t2.seq], [t1.device, 1]);
  });

  it('refuses a remote stamp beyond the drift bound, reports it and applies the rest', async () => {
    const dir = tempDir();
    let wallA = 1_000_000_000;
    const a = track(await Library.create({ dataDir: `${dir}/a`, name: 'x', now: () => wallA }));
    const b = track(await Library.create({ dataDir: `${dir}/b`, name: 'x', libraryId: a.id, now: () => 1_000_000_000 }));
    const [ok] = await a.commitShared([{ model: 'tag', op: 'create', data: tagData }]);
    wallA += 6 * 60_000; // a's clock runs 6 minutes ahead
    const [ahead] = await a.commitShared([{ model: 'tag', op: 'create', data: { ...tagData, name: 'future' } }]);
    const drift: ClockDriftError[] = [];
    b.on('clockDrift', (e) => drift.push(e));
    const report = await b.applyShared([ok, ahead]);
    assert.equal(report.shared.length, 1);
    assert.equal(report.refused.length, 1);
    assert.equal(drift.length, 1);
    assert.match(drift[0].message, /ahead/);
    assert.equal(b.counts().tag, 1);
    assert.ok(b.clock.last().ms < ahead.hlc.ms, 'the refused stamp was not adopted');
    // applying the accepted one adopted its stamp
    assert.ok(b.clock.last().ms >= ok.hlc.ms);
  });

  it('applies device-owned state only from its owner, newest stamp wins', async () => {
    const [a, b] = track(await pair());
    const [loc] = await a.commitDeviceOwned('location', [{ data: locationData(a.deviceId) }]);
    assert.equal((await b.applyState('location', [loc])).applied, 1);
    // duplicate and older copies change nothing
    assert.equal((await b.applyState('location', [loc])).stale, 1);
    // b forges a record for a's location
    const forged: StateRecord = { ...loc, hlc: b.clock.now(), data: { ...loc.data, name: 'pwned' } };
    const report = await b.applyState('location', [forged]);
    assert.equal(report.rejected.length, 1);
    assert.ok(report.rejected[0].error instanceof OwnershipError);
    // a malformed record is rejected with a typed error, the rest applied
    const [loc2] = await a.commitDeviceOwned('location', [{ data: locationData(a.deviceId, 'other') }]);
    const bad = { ...loc2, uuid: new Uint8Array(3) };
    const r2 = await b.applyState('location', [bad, loc2]);
    assert.equal(r2.applied, 1);
    assert.ok(r2.rejected[0].error instanceof RecordFormatError);
    assert.equal(b.counts().location, 2);
  });

  it('parks records whose parent has not arrived, persistently, and applies them when it does', async () => {
    const [a, b] = await pair(false);
    const [loc] = await a.commitDeviceOwned('location', [{ data: locationData(a.deviceId) }]);
    const dir = (await a.commitDeviceOwned('entry', [{ data: { location: loc.uuid, parent: null, name: 'src', kind: ENTRY_KIND.dir, size: 0, mtime: 1 } }]))[0];
    const file = (await a.commitDeviceOwned('entry', [{ data: { location: loc.uuid, parent: dir.uuid, name: 'a.ts', kind: ENTRY_KIND.file, size: 5, mtime: 1 } }]))[0];
    const [tag] = await a.commitShared([{ model: 'tag', op: 'create', data: tagData }]);
    const [assignment] = await a.commitShared([{ model: 'tag_assignment', op: 'create', data: { tag: tag.uuid, workspace_key: 'k', path: 'src/a.ts' } }]);
    const [dev] = a.stateSince('device', a.deviceId, null, 10);

    // children first: the file before its directory, entries before their location, the assignment before its tag
    assert.equal((await b.applyState('entry', [file])).parked, 1);
    assert.equal((await b.applyShared([assignment])).parked, 1);
    assert.equal((await b.applyState('location', [loc])).parked, 1);
    assert.equal(b.parkedCount(), 3);

    // a restart keeps them
    const { id } = b;
    const dataDir = b.store.dir.split('/libraries/')[0];
    await b.close();
    const b2 = track(await Library.open({ dataDir, libraryId: id }));
    assert.equal(b2.parkedCount(), 3);

    await b2.applyState('device', [dev]); // releases the location, which releases the file
    assert.equal(b2.counts().location, 1);
    assert.equal(b2.counts().entry, 1, 'the file is in; its directory is only a stub so far');
    await b2.applyState('entry', [dir]);
    assert.equal(b2.counts().entry, 2);
    await b2.applyShared([tag]);
    assert.equal(b2.counts().tag_assignment, 1);
    assert.equal(b2.parkedCount(), 0);
    await pullAll(b2, a);
    assert.equal(b2.digest(), a.digest(), 'same contents as the replica that had everything in order');
    await a.close();
  });

  it('deleting a location deletes its entries here and on peers, and late entries do not come back', async () => {
    const [a, b] = track(await pair());
    const [loc] = await a.commitDeviceOwned('location', [{ data: locationData(a.deviceId) }]);
    const entries = await a.commitDeviceOwned(
      'entry',
      [1, 2, 3].map((i) => ({ data: { location: loc.uuid, parent: null, name: `f${i}`, kind: ENTRY_KIND.file, size: i, mtime: 1 } })),
    );
    const [tomb] = await a.deleteDeviceOwned('location', [loc.uuid]);
    assert.equal(a.counts().entry, 0);
    assert.equal(a.counts().location, 0);
    assert.ok(a.read((r) => a.registry.deviceOwnedModel('location').get(r, loc.uuid))!.deleted, 'tombstone kept');

    await b.applyState('location', [loc]);
    await b.applyState('entry', entries.slice(0, 2));
    await b.applyState('location', [tomb]);
    assert.equal(b.counts().entry, 0);
    // an entry written before the delete that arrives after it stays dead
    const late = await b.applyState('entry', [entries[2]]);
    assert.equal(late.stale, 1);
    assert.equal(b.counts().entry, 0);
    assert.equal(b.digest(), a.digest());
  });

  it("says a partner's change is readable ('visible') before it is durable ('applied'), once each", async () => {
    const [a, b] = track(await pair());
    const [tag] = await a.commitShared([{ model: 'tag', op: 'create', data: tagData }]);
    const seen: string[] = [];
    b.on('visible', () => {
      const row = b.read((r) => b.registry.sharedModel('tag').get(r, tag.uuid));
      seen.push(row ? 'visible+readable' : 'visible-but-missing');
    });
    b.on('applied', () => seen.push('applied'));
    const applying = b.applyShared([tag]);
    assert.deepEqual(seen, ['visible+readable'], 'visible fires in the same turn, before the flush');
    await applying;
    assert.deepEqual(seen, ['visible+readable', 'applied']);
    await b.applyShared([tag]); // already there: nothing changed, nothing said
    assert.deepEqual(seen, ['visible+readable', 'applied']);
  });

  it('merges concurrent edits of different fields of the same tag and note', async () => {
    const [a, b] = track(await pair());
    const [tag] = await a.commitShared([{ model: 'tag', op: 'create', data: tagData }]);
    await b.applyShared([tag]);
    const [rename] = await a.commitShared([{ model: 'tag', op: 'update', uuid: tag.uuid, data: { name: 'done' } }]);
    const [recolor] = await b.commitShared([{ model: 'tag', op: 'update', uuid: tag.uuid, data: { color: 'green' } }]);
    await a.applyShared([recolor]);
    await b.applyShared([rename]);
    for (const lib of [a, b]) {
      const row = lib.read((r) => lib.registry.sharedModel('tag').get(r, tag.uuid))!;
      assert.equal(row.data.name, 'done');
      assert.equal(row.data.color, 'green');
    }
    // the note and favorite of one file, edited on two machines, both survive; both create the same row
    const item = { workspace_key: 'github.com/acme/api', path: 'src/index.ts' };
    const [note] = await a.commitShared([{ model: 'user_metadata', op: 'create', data: { ...item, note: 'refactor' } }]);
    const [fav] = await b.commitShared([{ model: 'user_metadata', op: 'create', data: { ...item, favorite: true } }]);
    assert.deepEqual(note.uuid, fav.uuid);
    await a.applyShared([fav]);
    await b.applyShared([note]);
    for (const lib of [a, b]) {
      const row = lib.read((r) => lib.registry.sharedModel('user_metadata').get(r, note.uuid))!;
      assert.equal(row.data.note, 'refactor');
      assert.equal(row.data.favorite, true);
    }
    assert.equal(a.digest(), b.digest());
  });

  it('a delete wins over a concurrent edit; only a later create brings the row back', async () => {
    const [a, b] = track(await pair());
    const [tag] = await a.commitShared([{ model: 'tag', op: 'create', data: tagData }]);
    await b.applyShared([tag]);
    const [del] = await a.commitShared([{ model: 'tag', op: 'delete', uuid: tag.uuid }]);
    const [edit] = await b.commitShared([{ model: 'tag', op: 'update', uuid: tag.uuid, data: { name: 'renamed' } }]);
    assert.ok(edit.hlc.ms >= del.hlc.ms); // the edit is even stamped later
    await a.applyShared([edit]);
    await b.applyShared([del]);
    for (const lib of [a, b]) assert.equal(lib.counts().tag, 0);
    await assert.rejects(a.commitShared([{ model: 'tag', op: 'update', uuid: tag.uuid, data: { name: 'x' } }]), NotFoundError);
    const [again] = await a.commitShared([{ model: 'tag', op: 'create', uuid: tag.uuid, data: tagData }]);
    await b.applyShared([again]);
    for (const lib of [a, b]) assert.equal(lib.counts().tag, 1);
    assert.equal(a.digest(), b.digest());
  });

  it('rejects a membership row whose id does not match what it points at', async () => {
    const [a, b] = track(await pair());
    const [tag] = await a.commitShared([{ model: 'tag', op: 'create', data: tagData }]);
    const [as] = await a.commitShared([{ model: 'tag_assignment', op: 'create', data: { tag: tag.uuid, workspace_key: 'k', path: 'p' } }]);
    const report = await b.applyShared([tag, { ...as, uuid: newId() }]);
    assert.equal(report.rejected.length, 1);
    assert.ok(report.rejected[0].error instanceof RecordFormatError);
    assert.equal(b.counts().tag, 1);
  });

  it('computes the same digest in pages of any size as in one pass, tombstones included', async () => {
    const [a] = track(await pair());
    const [loc] = await a.commitDeviceOwned('location', [{ data: locationData(a.deviceId) }]);
    const entries = await a.commitDeviceOwned(
      'entry',
      Array.from({ length: 23 }, (_, i) => ({ data: { location: loc.uuid, parent: null, name: `f${i}.ts`, kind: ENTRY_KIND.file, size: i, mtime: 1_700_000_000_000 } })),
    );
    await a.deleteDeviceOwned('entry', [entries[3].uuid, entries[17].uuid]);
    const tags = await a.commitShared(Array.from({ length: 9 }, (_, i) => ({ model: 'tag', op: 'create' as const, data: { ...tagData, name: `t${i}` } })));
    await a.commitShared([{ model: 'tag', op: 'delete', uuid: tags[4].uuid }]);
    const whole = a.digest();
    for (const page of [1, 2, 7, 10_000]) assert.equal(await a.digestAsync(page), whole, `pages of ${page}`);
    await a.commitShared([{ model: 'tag', op: 'update', uuid: tags[0].uuid, data: { color: 'blue' } }]);
    assert.notEqual(await a.digestAsync(3), whole, 'a change shows');
  });

  it('keeps a location’s scan state locally: not synced, not in the digest, not clobbered by sync', async () => {
    const [a, b] = track(await pair());
    const [loc] = await a.commitDeviceOwned('location', [{ data: locationData(a.deviceId) }]);
    const before = a.digest();
    await a.setScanState(loc.uuid, 'scanning');
    assert.equal(a.scanState(loc.uuid)?.state, 'scanning');
    assert.equal(a.digest(), before);
    await b.applyState('location', [loc]);
    assert.equal(b.scanState(loc.uuid)?.state, null);
    await assert.rejects(b.setScanState(loc.uuid, 'x'), NotFoundError);
    await a.commitDeviceOwned('location', [{ uuid: loc.uuid, data: { ...loc.data, name: 'renamed' } }]);
    assert.equal(a.scanState(loc.uuid)?.state, 'scanning', 'the owner’s own update keeps it');
  });

  it('serves state since a watermark, tombstones included, oldest first', async () => {
    const lib = track(await Library.create({ dataDir: tempDir(), name: 'x' }));
    const [l1] = await lib.commitDeviceOwned('location', [{ data: locationData(lib.deviceId) }]);
    const [l2] = await lib.commitDeviceOwned('location', [{ data: locationData(lib.deviceId, 'b') }]);
    await lib.deleteDeviceOwned('location', [l1.uuid]);
    const all = lib.stateSince('location', lib.deviceId, null, 10);
    assert.deepEqual(all.map((r) => [idToString(r.uuid), r.deleted]), [
      [idToString(l2.uuid), false],
      [idToString(l1.uuid), true],
    ]);
    const after = lib.stateSince('location', lib.deviceId, encodeHlcTime(all[0].hlc), 10);
    assert.equal(after.length, 1);
    assert.equal(lib.countStateSince('location', lib.deviceId, null), 2);
  });
});
