/**
 * Issue 12, device-owned rows: a device's files and folders are authored
 * only by it. Each owner seals (signs) the LtHash digest of its rows; a
 * device holding them knows whether they are exactly what the owner
 * sealed, serves another owner's rows only then, and puts back what a
 * relay brought when it is not. Each test plays a relay that lies.
 */
import assert from 'node:assert/strict';
import { idEquals } from '../../src/core/ids';
import { encodeHlcTime } from '../../src/core/hlc';
import { deviceIdOf, deviceKeyPair } from '../../src/core/signing';
import { Library } from '../../src/engine/library';
import { makeSeal, stateOf } from '../../src/engine/owner-seals';
import { OwnershipError } from '../../src/models/errors';
import { ENTRY_KIND } from '../../src/models/entry';
import type { StateRecord } from '../../src/models/model';
import { cleanupTempDirs, tempDir } from '../support/tmp';

const locationData = (device: Uint8Array, name: string) => ({ device, volume: null, path: `/p/${name}`, name, workspace_key: `ws/${name}`, entry_count: 0, total_bytes: 0 });

/** Every device-owned row of `owner` that `lib` holds, as text (to compare holders). */
function rowsOf(lib: Library, owner: Uint8Array): string[] {
  const out: string[] = [];
  for (const m of lib.registry.deviceOwned) {
    for (const r of lib.stateSince(m.name, owner, null, 100_000)) out.push(`${m.name} ${Buffer.from(r.uuid).toString('hex')} ${JSON.stringify(r, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))}`);
  }
  return out.sort();
}

describe("owner seals: a device's own rows, whoever relays them (issue 12)", function () {
  this.timeout(30_000);
  after(cleanupTempDirs);

  /** The owner (o), an honest relay (p), a lying relay (l) and the device that takes rows from them (r). */
  async function quartet() {
    const keys = [deviceKeyPair(), deviceKeyPair(), deviceKeyPair(), deviceKeyPair()];
    const o = await Library.create({ dataDir: tempDir('lls-seal-o-'), name: 'seal', keyPair: keys[0] });
    const [p, l, r] = await Promise.all(
      [1, 2, 3].map((i) => Library.create({ dataDir: tempDir(`lls-seal-${i}-`), name: 'seal', keyPair: keys[i], libraryId: o.id, secret: o.secret })),
    );
    const all = [o, p, l, r];
    for (const lib of all) {
      for (const [i, other] of all.entries()) if (other !== lib) await lib.addPartner(other.deviceId, `d${i}`, keys[i].publicKey);
    }
    const [loc] = await o.commitDeviceOwned('location', [{ data: locationData(o.deviceId, 'code') }]);
    const files = await o.commitDeviceOwned(
      'entry',
      [1, 2, 3].map((i) => ({ data: { location: loc.uuid, parent: null, name: `f${i}.ts`, kind: ENTRY_KIND.file, size: i, mtime: 0 } })),
    );
    return { o, p, l, r, keys, loc, files, close: () => Promise.all(all.map((x) => x.close())) };
  }

  /** What `from` holds of `owner`, applied on `to` as pages sent by `from` (each model, with `from`'s seal of it). */
  async function relay(from: Library, to: Library, owner: Uint8Array, edit: (model: string, recs: StateRecord[]) => StateRecord[] = (_m, r) => r) {
    for (const m of from.registry.deviceOwned) {
      const recs = edit(m.name, from.stateSince(m.name, owner, null, 100_000));
      if (recs.length === 0) continue;
      await to.fromPartner(from.deviceId, () => to.applyState(m.name, recs, { owner, through: from.completeThrough(owner, m.name) }, from.sealFor(owner)));
    }
  }

  it('rows taken from their owner, with its seal, are verified; a relay then serves and vouches for them', async () => {
    const { o, p, r, close } = await quartet();
    try {
      assert.equal(o.ownerProof(o.deviceId).state, 'verified', 'its own rows always');
      await relay(o, p, o.deviceId);
      const proof = p.ownerProof(o.deviceId);
      assert.equal(proof.state, 'verified');
      assert.equal(proof.held?.rows, 5, 'device row, location, three files');
      assert.ok(typeof proof.since === 'number');
      assert.ok(p.servable(o.deviceId));
      assert.ok(p.sealFor(o.deviceId), 'it sends the seal with them');
      await relay(p, r, o.deviceId);
      assert.equal(r.ownerProof(o.deviceId).state, 'verified', 'and so does the next one, from the relay');
      assert.deepEqual(rowsOf(r, o.deviceId), rowsOf(o, o.deviceId));
    } finally {
      await close();
    }
  });

  it('without a seal, relayed rows are unproven: the relay sends no seal with them', async () => {
    const { o, p, close } = await quartet();
    try {
      for (const m of o.registry.deviceOwned) {
        const recs = o.stateSince(m.name, o.deviceId, null, 1000);
        if (recs.length) await p.fromPartner(o.deviceId, () => p.applyState(m.name, recs, { owner: o.deviceId, through: o.completeThrough(o.deviceId, m.name) }));
      }
      assert.equal(p.ownerProof(o.deviceId).state, 'unproven');
      assert.ok(!p.servable(o.deviceId));
      assert.equal(p.sealFor(o.deviceId), null);
      // The seal arrives (in a Hello): now they are.
      await p.takeSeals([o.ownSeal()!]);
      assert.equal(p.ownerProof(o.deviceId).state, 'verified');
    } finally {
      await close();
    }
  });

  it('a seal not signed by its owner is refused (and one of a device that is not of the library is not kept)', async () => {
    const { o, r, keys, close } = await quartet();
    try {
      const real = o.ownSeal()!;
      const held = stateOf(o.ownerStates().filter((s) => idEquals(s.owner, o.deviceId)))!;
      // The liar signs a seal in the owner's name with its own key, and alters a real one.
      const forged = makeSeal(o.id, keys[2], o.deviceId, real.sealedAt, held);
      const altered = { ...real, rows: real.rows + 1 };
      const { refused, kept } = await r.takeSeals([forged, altered]);
      assert.equal(kept, 0);
      assert.equal(refused.length, 2);
      assert.ok(refused.every((e) => e instanceof OwnershipError), refused.map((e) => e.message).join('; '));
      // A stranger's seal verifies (its own key) but names no device of the library: not kept.
      const stranger = deviceKeyPair();
      const strangerId = deviceIdOf(stranger.publicKey);
      assert.deepEqual(await r.takeSeals([makeSeal(o.id, stranger, strangerId, real.sealedAt, held)]), { kept: 0, refused: [] });
      assert.deepEqual(r.ownerProofs().map((x) => Buffer.from(x.owner).toString('hex')), [Buffer.from(r.deviceId).toString('hex')], 'only its own');
    } finally {
      await close();
    }
  });

  it("a real seal's signature under other fields is refused, even once the real seal was checked; so is a seal dated past the drift bound", async () => {
    const { o, r, keys, close } = await quartet();
    try {
      const real = o.ownSeal()!;
      assert.equal((await r.takeSeals([real])).kept, 1, 'the real one is checked and kept');
      const far = new Uint8Array(8).fill(0xff);
      const reused = { ...real, sealedAt: far, rows: real.rows + 100 };
      const { refused, kept } = await r.takeSeals([reused]);
      assert.equal(kept, 0);
      assert.equal(refused.length, 1);
      assert.ok(refused[0] instanceof OwnershipError);
      // Only its base changed (what a partner's evidence of a restore rests on): refused too, though the rest was checked.
      const rebased = { ...real, base: new Uint8Array(8).fill(0x7f) };
      const other = await r.takeSeals([rebased]);
      assert.equal(other.refused.length, 1, 'a seal whose base was changed is refused');
      assert.ok(other.refused[0] instanceof OwnershipError);
      // Signed by the owner, but dated (it says) an hour ahead: it would outrank every later real seal.
      const held = stateOf(o.ownerStates().filter((x) => idEquals(x.owner, o.deviceId)))!;
      const ahead = makeSeal(o.id, keys[0], o.deviceId, Buffer.from(encodeHlcTime({ ms: Date.now() + 3_600_000, counter: 0 })), held);
      const late = await r.takeSeals([ahead]);
      assert.equal(late.kept, 0);
      assert.match(late.refused[0]?.message ?? '', /past this device's clock/);
    } finally {
      await close();
    }
  });

  it('a relay that forges one field of one file, into a device that held none of them: it is put back to nothing, and the honest relay then brings them verified', async () => {
    const { o, p, l, r, files, close } = await quartet();
    try {
      await relay(o, l, o.deviceId); // the liar holds them verified, as an honest relay would
      await relay(l, r, o.deviceId, (m, recs) => (m === 'entry' ? recs.map((x) => (idEquals(x.uuid, files[1].uuid) ? { ...x, data: { ...x.data, size: 999_999 } } : x)) : recs));
      const proof = r.ownerProof(o.deviceId);
      assert.equal(proof.state, 'mismatch', 'same newest row as the seal, other rows');
      assert.ok(!r.servable(o.deviceId), 'never passed on with a seal');
      assert.equal(r.sealFor(o.deviceId), null);
      assert.deepEqual(r.relaysSinceSealed(o.deviceId)!.map((x) => Buffer.from(x).toString('hex')), [Buffer.from(l.deviceId).toString('hex')]);
      assert.equal(await r.rollBack(o.deviceId), false, 'never sealed here: nothing to go back to');
      assert.deepEqual(rowsOf(r, o.deviceId), [], 'every row of it goes, the forged one with them');
      assert.equal(r.watermark(o.deviceId, 'entry'), null, 'and they are asked for again');
      await relay(o, p, o.deviceId);
      await relay(p, r, o.deviceId);
      assert.equal(r.ownerProof(o.deviceId).state, 'verified');
      assert.deepEqual(rowsOf(r, o.deviceId), rowsOf(o, o.deviceId));
    } finally {
      await close();
    }
  });

  it("a relay that deletes another device's location (its files purged) over verified rows: all of it is put back as last sealed", async () => {
    const { o, l, r, loc, files, close } = await quartet();
    try {
      await relay(o, r, o.deviceId);
      await relay(o, l, o.deviceId);
      assert.equal(r.ownerProof(o.deviceId).state, 'verified');
      const before = rowsOf(r, o.deviceId);
      // The owner renames a file (a newer seal); the liar relays a tombstone of the location instead, stamped as the rename.
      const [renamed] = await o.commitDeviceOwned('entry', [{ uuid: files[0].uuid, data: { location: loc.uuid, parent: null, name: 'renamed.ts', kind: ENTRY_KIND.file, size: 1, mtime: 0 } }]);
      const tombstone: StateRecord = { uuid: loc.uuid, hlc: renamed.hlc, deleted: true, data: { device: o.deviceId } };
      await r.fromPartner(l.deviceId, () => r.applyState('location', [tombstone], { owner: o.deviceId, through: null }, o.ownSeal()));
      assert.equal(r.counts().entry, 0, 'the files went with it');
      assert.equal(r.ownerProof(o.deviceId).state, 'mismatch');
      assert.equal(await r.rollBack(o.deviceId), true);
      assert.deepEqual(rowsOf(r, o.deviceId), before, 'location and files as they were');
      assert.equal(r.counts().entry, 3);
      assert.equal(r.ownerProof(o.deviceId).state, 'verified', 'exactly what it sealed before');
      // The owner sends the rename itself: taken, and verified at its newest seal.
      await r.fromPartner(o.deviceId, () => r.applyState('entry', [renamed], undefined, o.ownSeal()));
      assert.equal(r.ownerProof(o.deviceId).state, 'verified');
      assert.deepEqual(rowsOf(r, o.deviceId), rowsOf(o, o.deviceId));
    } finally {
      await close();
    }
  });
});
