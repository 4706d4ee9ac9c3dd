/**
 * Issue 12: a record that claims to be this device's own, and that this
 * device did not write, is refused. A device takes back rows of its own
 * from a partner (what a restore from an old copy needs) only as a whole
 * set that hashes to one of its own seals; a partner that lies about them
 * is named, and a device restored from an old copy still gets back every
 * row it sealed, also when it wrote new rows before it caught up.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { idKey, newId } from '../../src/core/ids';
import { decodeHlcTime, encodeHlcTime } from '../../src/core/hlc';
import { Library } from '../../src/engine/library';
import { ENTRY_KIND } from '../../src/models/entry';
import type { StateRecord } from '../../src/models/model';
import { decodeMessage, encodeMessage } from '../../src/protocol';
import { Cluster, type Node } from '../sim/cluster';
import { cleanupTempDirs, tempDir } from '../support/tmp';
import { deviceKeyPair } from '../../src/core/signing';

const locationData = (device: Uint8Array, name: string) => ({ device, volume: null, path: `/p/${name}`, name, workspace_key: `ws/${name}`, entry_count: 0, total_bytes: 0 });

async function addFilesTo(lib: Library, location: Uint8Array, names: readonly string[]): Promise<void> {
  await lib.commitDeviceOwned(
    'entry',
    names.map((name, i) => ({ data: { location, parent: null, name, kind: ENTRY_KIND.file, size: i, mtime: 0 } })),
  );
}

const addFiles = (n: Node, location: Uint8Array, names: readonly string[]) => addFilesTo(n.library, location, names);

function fileNames(n: Node, owner: Uint8Array): string[] {
  return n.library
    .stateSince('entry', owner, null, 10_000)
    .filter((r) => !r.deleted)
    .map((r) => String(r.data.name))
    .sort();
}

function sameEverywhere(c: Cluster, what: string): void {
  const digests = c.digests();
  assert.ok(digests.every((d) => d === digests[0]), `${what}: replicas differ\n${c.describe()}\n${c.differences().slice(0, 3000)}`);
}

describe("a device's own rows come back only as it sealed them (issue 12)", function () {
  this.timeout(120_000);
  after(cleanupTempDirs);

  it('a relay rebuilds, page by page, the set of rows it last held as their owner sealed them, after the owner changed, added and deleted rows', async () => {
    const keys = [deviceKeyPair(), deviceKeyPair()];
    const o = await Library.create({ dataDir: tempDir('lls-own-o-'), name: 'own', keyPair: keys[0] });
    const p = await Library.create({ dataDir: tempDir('lls-own-p-'), name: 'own', keyPair: keys[1], libraryId: o.id, secret: o.secret });
    try {
      await o.addPartner(p.deviceId, 'p', keys[1].publicKey);
      await p.addPartner(o.deviceId, 'o', keys[0].publicKey);
      const [loc] = await o.commitDeviceOwned('location', [{ data: locationData(o.deviceId, 'code') }]);
      const files = await o.commitDeviceOwned(
        'entry',
        Array.from({ length: 9 }, (_, i) => ({ data: { location: loc.uuid, parent: null, name: `f${i}.ts`, kind: ENTRY_KIND.file, size: i, mtime: 0 } })),
      );
      const relay = async (seal: boolean) => {
        for (const m of o.registry.deviceOwned) {
          const recs = o.stateSince(m.name, o.deviceId, null, 1000);
          if (recs.length) await p.fromPartner(o.deviceId, () => p.applyState(m.name, recs, { owner: o.deviceId, through: o.completeThrough(o.deviceId, m.name) }, seal ? o.sealFor(o.deviceId) : null));
        }
      };
      await relay(true);
      assert.equal(p.ownerProof(o.deviceId).state, 'verified');
      const before = Object.fromEntries(o.registry.deviceOwned.map((m) => [m.name, o.stateSince(m.name, o.deviceId, null, 1000)]));
      // The owner changes rows (a rename, a deletion, a new file); the relay takes them without a seal they match.
      await o.write((tx) => {
        tx.put('entry', { ...files[2].data, name: 'renamed.ts' }, files[2].uuid);
        tx.remove('entry', files[5].uuid);
        tx.put('entry', { location: loc.uuid, parent: null, name: 'new.ts', kind: ENTRY_KIND.file, size: 1, mtime: 0 });
      });
      await relay(false);
      assert.notEqual(p.ownerProof(o.deviceId).state, 'verified');
      const set = p.sealedRows(o.deviceId);
      assert.ok(set, 'the last sealed set can be rebuilt');
      for (const m of o.registry.deviceOwned) {
        for (const limit of [1, 2, 3, 1000]) {
          const got: StateRecord[] = [];
          let after: Uint8Array | null = null;
          for (;;) {
            assert.equal(p.countSealedStateSince(set, m.name, after), before[m.name].length - got.length, `${m.name}: what remains, counted, pages of ${limit}`);
            const page = p.sealedStateSince(set, m.name, after, limit);
            got.push(...page);
            if (page.length < limit) break;
            after = encodeHlcTime(page[page.length - 1].hlc);
          }
          const text = (rs: StateRecord[]) => rs.map((r) => `${idKey(r.uuid)} ${JSON.stringify(r.data, (_k, v) => (v instanceof Uint8Array ? idKey(v) : v))} ${r.deleted}`);
          assert.deepEqual(text(got), text(before[m.name]), `${m.name} as sealed, in pages of ${limit}`);
        }
      }
    } finally {
      await Promise.all([o.close(), p.close()]);
    }
  });

  it('a device knows a seal of its own it lost (restored from an older copy) from one it made itself, across restarts', async () => {
    const key = deviceKeyPair();
    const dataDir = tempDir('lls-own-lost-');
    let lib = await Library.create({ dataDir, name: 'own', keyPair: key });
    const id = lib.id;
    const reopen = async () => {
      await lib.close();
      lib = await Library.open({ dataDir, libraryId: id, keyPair: key });
      await lib.ready();
    };
    try {
      await lib.ready();
      const [loc] = await lib.commitDeviceOwned('location', [{ data: locationData(lib.deviceId, 'code') }]);
      const first = lib.ownSeal()!;
      await reopen();
      assert.equal(lib.lostOwnSeal(first), false, 'a seal of an earlier run of this copy: known');
      await lib.close();
      const backup = tempDir('lls-own-backup-');
      fs.cpSync(dataDir, backup, { recursive: true });
      lib = await Library.open({ dataDir, libraryId: id, keyPair: key });
      await addFilesTo(lib, loc.uuid, ['later.ts']);
      const later = lib.ownSeal()!;
      await reopen();
      assert.equal(lib.lostOwnSeal(later), false, 'after a restart: still known');
      await lib.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.cpSync(backup, dataDir, { recursive: true });
      lib = await Library.open({ dataDir, libraryId: id, keyPair: key });
      await lib.ready();
      assert.equal(lib.lostOwnSeal(first), false, 'restored: a seal the copy made is known');
      assert.equal(lib.lostOwnSeal(later), true, 'one made after the copy is lost');
      assert.ok(lib.recoveryWindow([later]), 'and gives the stamps its rows may have');
      await lib.recovered([later]);
      await reopen();
      assert.equal(lib.lostOwnSeal(later), false, 'once taken back, not again (after a restart either)');
    } finally {
      await lib.close();
    }
  });

  it('a partner cannot make a device take a row in its own name: the forged row is refused and the partner named', async () => {
    const c = new Cluster(1201);
    try {
      const [a, m] = [await c.add('a'), await c.add('liar')];
      await c.connectAll();
      const [loc] = await a.library.commitDeviceOwned('location', [{ data: locationData(a.library.deviceId, 'code') }]);
      await addFiles(a, loc.uuid, ['one.ts', 'two.ts']);
      await c.run(1000);
      assert.equal(m.library.ownerProof(a.library.deviceId).state, 'verified', 'the partner holds them as sealed');
      // From now on the partner lies to a: its Hello says it holds newer rows of a's own, and every page of
      // a's own locations it serves gets one more, stamped as a's (within the drift bound), and no seal.
      const aId = a.library.deviceId;
      const forgedUuid = newId();
      const stamp = { ms: Date.now() + 60_000, counter: 0, device: aId };
      const forged: StateRecord = { uuid: forgedUuid, hlc: stamp, deleted: false, data: locationData(aId, 'planted') };
      let served = 0;
      c.net.tamper = (from, to, frame) => {
        if (idKey(from) !== idKey(m.library.deviceId) || idKey(to) !== idKey(aId)) return [frame];
        const msg = decodeMessage(frame);
        if (msg.type === 'hello') {
          const watermarks = msg.watermarks.map((w) => (idKey(w.owner) === idKey(aId) && w.model === 'location' ? { ...w, hlc: encodeHlcTime(stamp), rows: w.rows + 1 } : w));
          return [encodeMessage({ ...msg, watermarks })];
        }
        if (msg.type === 'state-response' && idKey(msg.owner) === idKey(aId) && msg.model === 'location') {
          served++;
          // Without a seal (with a's, the row newer than it gives the lie away at once).
          return [encodeMessage({ ...msg, records: [...msg.records, forged], hasMore: false, remaining: 0, seal: null })];
        }
        return [frame];
      };
      // A new session (and Hello) between them.
      c.net.partition([aId], [m.library.deviceId]);
      await c.run(500);
      c.net.heal();
      await c.run(3000);
      assert.ok(served > 0, 'a asked the partner for its own rows');
      assert.equal(a.library.stateSince('location', aId, null, 100).filter((r) => idKey(r.uuid) === idKey(forgedUuid)).length, 0, 'a holds no row it did not write');
      const own = a.library.ownerProof(aId);
      assert.equal(own.held?.rows, 4, 'its device row, the location and two files: nothing added');
      assert.ok((a.blamed.get(idKey(m.library.deviceId)) ?? 0) > 0, `the lie is reported against the partner: ${a.errors.map((e) => e.message).join('; ')}`);
      assert.ok(a.errors.length < 50, `and it is not asked again and again (${a.errors.length} errors: ${[...new Set(a.errors.map((e) => e.message))].join('; ')})`);
      assert.ok(decodeHlcTime(own.held!.newest).ms < stamp.ms, 'nor sealed its stamp');
    } finally {
      await c.close();
    }
  });

  it('a partner that changes one field of a row in the set it sends, under the seal, is cut off as a forger, and nothing of it is taken', async () => {
    const c = new Cluster(1203);
    try {
      const [a, m] = [await c.add('a'), await c.add('liar')];
      await c.connectAll();
      const aId = a.library.deviceId;
      const [loc] = await a.library.commitDeviceOwned('location', [{ data: locationData(aId, 'code') }]);
      await addFiles(a, loc.uuid, ['one.ts']);
      await c.run(1000);
      c.backup(a);
      await addFiles(a, loc.uuid, ['two.ts']);
      await c.run(1000);
      c.net.partition([aId], [m.library.deviceId]);
      await c.restore(a);
      // The partner holds two.ts, which a lost; it sends it renamed, the seal kept.
      let forged = 0;
      c.net.tamper = (from, to, frame) => {
        if (idKey(from) !== idKey(m.library.deviceId) || idKey(to) !== idKey(aId)) return [frame];
        const msg = decodeMessage(frame);
        if (msg.type !== 'state-response' || msg.model !== 'entry' || !msg.records.some((r) => r.data.name === 'two.ts')) return [frame];
        forged++;
        return [encodeMessage({ ...msg, records: msg.records.map((r) => (r.data.name === 'two.ts' ? { ...r, data: { ...r.data, name: 'planted.ts' } } : r)) })];
      };
      c.net.heal();
      await c.run(3000);
      assert.ok(forged > 0, 'a asked for the rows it lost');
      assert.deepEqual(fileNames(a, aId), ['one.ts'], 'nothing of the forged set is taken');
      assert.ok((a.blamed.get(idKey(m.library.deviceId)) ?? 0) > 0, 'and the partner is named');
      assert.ok(a.errors.some((e) => /not what this device sealed/.test(e.message)), a.errors.map((e) => e.message).join('; '));
      c.net.tamper = null;
    } finally {
      await c.close();
    }
  });

  it('a row in its own name applied by any other path is refused', async () => {
    const c = new Cluster(1204);
    try {
      const [a, b] = [await c.add('a'), await c.add('b')];
      const aId = a.library.deviceId;
      const planted: StateRecord = { uuid: newId(), hlc: { ms: Date.now(), counter: 0, device: aId }, deleted: false, data: locationData(aId, 'planted') };
      const report = await a.library.fromPartner(b.library.deviceId, () => a.library.applyState('location', [planted], { owner: aId, through: null }));
      assert.equal(report.applied, 0);
      assert.equal(report.rejected.length, 1);
      assert.match(report.rejected[0].error.message, /own name/);
      assert.equal(a.library.stateSince('location', aId, null, 10).length, 0);
    } finally {
      await c.close();
    }
  });

  it('a device restored from an old copy gets back every row it sealed, also after writing new ones before it caught up', async () => {
    const c = new Cluster(1202);
    try {
      const [a, p, q] = [await c.add('a'), await c.add('p'), await c.add('q')];
      await c.connectAll();
      const aId = a.library.deviceId;
      const [loc] = await a.library.commitDeviceOwned('location', [{ data: locationData(aId, 'code') }]);
      await addFiles(a, loc.uuid, ['one.ts', 'two.ts']);
      await c.run(1000);
      c.backup(a);
      await addFiles(a, loc.uuid, ['three.ts', 'four.ts']);
      await c.run(1000);
      assert.equal(p.library.ownerProof(aId).state, 'verified');
      assert.deepEqual(fileNames(p, aId), ['four.ts', 'one.ts', 'three.ts', 'two.ts']);
      // Restored while cut off from the others, it writes before it can catch up.
      c.net.partition([aId], [p.library.deviceId, q.library.deviceId]);
      await c.restore(a);
      assert.deepEqual(fileNames(a, aId), ['one.ts', 'two.ts'], 'the copy predates two files');
      await addFiles(a, loc.uuid, ['five.ts']);
      await c.run(300);
      // q hears of five.ts first (it holds a's rows as sealed before, plus five.ts), then p.
      const rebuilt: number[] = [];
      const serve = Library.prototype.sealedStateSince;
      Library.prototype.sealedStateSince = function (set, ...rest) {
        rebuilt.push(set.changed.size);
        return serve.call(this, set, ...rest);
      };
      try {
        c.net.heal();
        c.net.partition([aId], [p.library.deviceId]);
        await c.run(2000);
        c.net.heal();
        await c.run(5000);
      } finally {
        Library.prototype.sealedStateSince = serve;
      }
      assert.ok(rebuilt.some((n) => n > 0), `a's rows were served to it as last sealed, rebuilt from what changed since (${rebuilt.join(',')})`);
      for (const n of [a, p, q]) assert.deepEqual(fileNames(n, aId), ['five.ts', 'four.ts', 'one.ts', 'three.ts', 'two.ts'], `${n.name} holds every file of a's`);
      for (const n of [p, q]) assert.equal(n.library.ownerProof(aId).state, 'verified', `${n.name} holds them as a sealed them`);
      sameEverywhere(c, 'after the restore');
    } finally {
      await c.close();
    }
  });
});
