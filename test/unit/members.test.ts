import assert from 'node:assert/strict';
import { idKey, newId, toHex } from '../../src/core/ids';
import { Library } from '../../src/engine/library';
import { pullAll } from '../../src/engine/local-pull';
import { memberId } from '../../src/engine/members';
import { NotFoundError } from '../../src/engine/errors';
import { Store } from '../../src/store';
import { MIGRATIONS } from '../../src/engine/schema';
import { cleanupTempDirs, tempDir } from '../support/tmp';

import { deviceKeyPair, type DeviceKeyPair } from '../../src/core/signing';

/** Each library's device key (its id is derived from it). */
const keys = new WeakMap<Library, DeviceKeyPair>();
const keyOf = (lib: Library) => keys.get(lib)!.publicKey;
const partnerKeys = (lib: Library) => new Map(lib.partners().map((p) => [idKey(p.device), p.publicKey ? toHex(p.publicKey) : null]));

describe('library members (pairing and unpairing through sync)', () => {
  const open: Library[] = [];
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close();
  });
  after(cleanupTempDirs);

  async function three(): Promise<[Library, Library, Library]> {
    const dir = tempDir();
    const [ka, kb, kc] = [deviceKeyPair(), deviceKeyPair(), deviceKeyPair()];
    const a = await Library.create({ dataDir: `${dir}/a`, name: 'lib', deviceName: 'a', keyPair: ka });
    const b = await Library.create({ dataDir: `${dir}/b`, name: 'lib', libraryId: a.id, secret: a.secret, deviceName: 'b', keyPair: kb });
    const c = await Library.create({ dataDir: `${dir}/c`, name: 'lib', libraryId: a.id, secret: a.secret, deviceName: 'c', keyPair: kc });
    keys.set(a, ka).set(b, kb).set(c, kc);
    open.push(a, b, c);
    // a founded the library; b and c pinned it as its anchor when they paired (as a joiner does from the invite).
    for (const lib of [a, b, c]) await lib.pinAnchors([{ device: a.deviceId, publicKey: ka.publicKey, name: 'a' }]);
    return [a, b, c];
  }

  it('a member added on one device becomes a partner, with its key, on every device that syncs it', async () => {
    const [a, b, c] = await three();
    const [ka, kb, kc] = [keyOf(a), keyOf(b), keyOf(c)];
    let events = 0;
    a.on('partners', () => events++);
    await a.addMember({ device: a.deviceId, publicKey: ka, name: 'a' });
    await a.addMember({ device: b.deviceId, publicKey: kb, name: 'b' });
    assert.ok(events >= 1, 'partners event');
    assert.deepEqual(partnerKeys(a), new Map([[idKey(b.deviceId), toHex(kb)]]), 'self is a member, not a partner');

    await pullAll(a, b); // b learns it was granted
    await b.addMember({ device: c.deviceId, publicKey: kc, name: 'c' }); // b invites c
    await pullAll(b, a);
    await pullAll(a, b);
    await pullAll(a, c);
    for (const [lib, others] of [
      [a, [b, c]],
      [b, [a, c]],
      [c, [a, b]],
    ] as const) {
      const keys = partnerKeys(lib);
      assert.equal(keys.size, 2, `${lib.name} has two partners`);
      for (const o of others) assert.ok(keys.has(idKey(o.deviceId)));
    }
    assert.equal(partnerKeys(c).get(idKey(b.deviceId)), toHex(kb));
    assert.equal(a.members().filter((m) => m.live).length, 3);
  });

  it('unpairing removes the device from every partner list; its stale updates do not bring it back; a new pairing does', async () => {
    const [a, b, c] = await three();
    for (const lib of [a, b, c]) await a.addMember({ device: lib.deviceId, publicKey: keyOf(lib), name: 'x' });
    await pullAll(a, b);
    await pullAll(a, c);
    assert.ok(partnerKeys(b).has(idKey(c.deviceId)));

    // c renames its own member row (concurrently), a unpairs c.
    await c.write((tx) => tx.update('member', memberId(c.deviceId), { name: 'renamed' }));
    await a.unpair(c.deviceId);
    assert.ok(!partnerKeys(a).has(idKey(c.deviceId)));
    await pullAll(c, a); // the stale update arrives after the delete
    await pullAll(a, b);
    assert.ok(!partnerKeys(a).has(idKey(c.deviceId)), 'an update does not revive an unpaired member');
    assert.ok(!partnerKeys(b).has(idKey(c.deviceId)), 'b learned of the unpairing through sync');
    assert.equal(b.read((r) => r.value('SELECT count(*) FROM log_ack WHERE partner = ?', [c.deviceId])), 0);

    // c learns it was unpaired: it stops syncing with everyone.
    await pullAll(a, c);
    assert.equal(c.partners().length, 0);

    // Pairing c again is a later create: it is back everywhere, with its key (its id is its key's).
    await b.addMember({ device: c.deviceId, publicKey: keyOf(c), name: 'c again' });
    await pullAll(b, a);
    assert.equal(partnerKeys(a).get(idKey(c.deviceId)), toHex(keyOf(c)));
  });

  it('unpairing a device that is not paired is a clear error; a directly added partner is removed', async () => {
    const [a, b] = await three();
    await assert.rejects(a.unpair(newId()), NotFoundError);
    await a.addPartner(b.deviceId, 'b', keyOf(b));
    await a.unpair(b.deviceId);
    assert.equal(a.partners().length, 0);
  });

  it("a member with a malformed key, or another device's key, is refused; members need 32-byte keys", async () => {
    const [a, b, c] = await three();
    await assert.rejects(a.addMember({ device: b.deviceId, publicKey: new Uint8Array(5), name: 'b' }), /32-byte/);
    await assert.rejects(
      a.write((tx) => tx.create('member', { device: b.deviceId, public_key: 'zz', name: 'b' })),
      /its key is not the one its device id is made from/,
    );
    await assert.rejects(a.addMember({ device: b.deviceId, publicKey: keyOf(c), name: 'b' }), /its key is not the one its device id is made from/);
    assert.equal(a.partners().length, 0);
    assert.deepEqual(
      a.members().map((m) => idKey(m.device)),
      [idKey(a.deviceId)],
      'only the anchor',
    );
  });

  it('migration 3 adds the member table to a library created before it', async () => {
    const dir = tempDir();
    const store = await Store.open({ dir, migrations: MIGRATIONS.filter((m) => m.version < 3) });
    assert.equal(store.read((r) => r.value("SELECT count(*) FROM sqlite_master WHERE name = 'member'")), 0);
    await store.close();
    const again = await Store.open({ dir, migrations: MIGRATIONS });
    assert.equal(again.read((r) => r.value("SELECT count(*) FROM sqlite_master WHERE name = 'member'")), 1);
    await again.close();
  });
});
