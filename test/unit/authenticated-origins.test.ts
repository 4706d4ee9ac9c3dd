/**
 * Regression tests for issue 12 ("Authenticated origins"): a device's id is
 * its key's, every shared change is signed by its writer for one library,
 * and member records cannot bind an id to another key or be edited by
 * anyone but their device. Each test plays a paired device that lies, and
 * checks that the receiver refuses the lie, says why, and loses nothing.
 */
import assert from 'node:assert/strict';
import { idEquals, toHex } from '../../src/core/ids';
import { deviceIdOf, deviceKeyPair, sign, type DeviceKeyPair } from '../../src/core/signing';
import { Library } from '../../src/engine/library';
import { memberId } from '../../src/engine/members';
import { changeSigningBytes } from '../../src/engine/records';
import { encodeHlcTime as encodeTime } from '../../src/core/hlc';
import { registry } from '../../src/engine/registry';
import { OwnershipError } from '../../src/models/errors';
import type { SharedChange } from '../../src/models/model';
import { cleanupTempDirs, tempDir } from '../support/tmp';

const tagData = (name: string) => ({ name, color: null, icon: null, description: null, namespace: null });

/** `ch` as `key` would sign it for `library`, with `edit` applied first (a device forging, or re-signing what it changed). */
function resign(library: Uint8Array, key: DeviceKeyPair, ch: SharedChange, edit: Partial<SharedChange> = {}): SharedChange {
  const body = { ...ch, ...edit, publicKey: edit.publicKey ?? key.publicKey };
  return { ...body, signature: sign(key, changeSigningBytes(library, registry.sharedModel(body.model), body)) };
}

function tagNames(lib: Library): string[] {
  return lib.read((r) => r.rows('SELECT name FROM tag WHERE live = 1 ORDER BY name').map((row) => row[0] as string));
}

describe('authenticated origins (issue 12 regressions)', function () {
  this.timeout(30_000);
  after(cleanupTempDirs);

  /** Three devices of one library, each with its own key; nothing synced yet. */
  async function trio() {
    const keys = [deviceKeyPair(), deviceKeyPair(), deviceKeyPair()];
    const a = await Library.create({ dataDir: tempDir('lls-auth-a-'), name: 'auth', keyPair: keys[0] });
    const b = await Library.create({ dataDir: tempDir('lls-auth-b-'), name: 'auth', keyPair: keys[1], libraryId: a.id, secret: a.secret });
    const c = await Library.create({ dataDir: tempDir('lls-auth-c-'), name: 'auth', keyPair: keys[2], libraryId: a.id, secret: a.secret });
    // a founded the library: every device pinned it as the anchor of its membership when it paired.
    for (const lib of [a, b, c]) await lib.pinAnchors([{ device: a.deviceId, publicKey: keys[0].publicKey, name: 'a' }]);
    return { a, b, c, keys, close: () => Promise.all([a.close(), b.close(), c.close()]) };
  }

  it("a device's id is derived from its key", async () => {
    const { a, b, keys, close } = await trio();
    try {
      assert.ok(idEquals(a.deviceId, deviceIdOf(keys[0].publicKey)));
      assert.ok(idEquals(b.deviceId, deviceIdOf(keys[1].publicKey)));
    } finally {
      await close();
    }
  });

  it('a change relayed any number of times still verifies, and applies', async () => {
    const { a, b, c, close } = await trio();
    try {
      const changes = await a.commitShared([{ model: 'tag', op: 'create', data: tagData('from-a') }]);
      // B takes them from A, C from B's log: the same bytes, the same signature.
      assert.equal((await b.applyShared(changes)).rejected.length, 0);
      const relayed = b.changesSince(new Map(), 100).changes.filter((ch) => idEquals(ch.device, a.deviceId));
      const report = await c.applyShared(relayed);
      assert.deepEqual(report.rejected, []);
      assert.deepEqual(tagNames(c), ['from-a']);
    } finally {
      await close();
    }
  });

  it("claiming another device's origin with its next sequence numbers is refused, and its real changes still apply", async () => {
    const { a, b, c, keys, close } = await trio();
    try {
      const [real1] = await a.commitShared([{ model: 'tag', op: 'create', data: tagData('real-1') }]);
      const [real2] = await a.commitShared([{ model: 'tag', op: 'create', data: tagData('real-2') }]);
      await c.applyShared([real1]);
      // C (a paired device, or a stolen one) writes as A, with A's next seq: once with its own key, once keeping A's key.
      const asA = { ...real2, data: tagData('forged'), uuid: real2.uuid };
      const withOwnKey = resign(a.id, keys[2], asA);
      const withAsKey = { ...resign(a.id, keys[2], asA), publicKey: keys[0].publicKey };
      const report = await b.applyShared([real1, withOwnKey, withAsKey]);
      assert.equal(report.shared.length, 1, 'only the real change applies');
      assert.equal(report.rejected.length, 2);
      assert.ok(report.rejected.every((r) => r.error instanceof OwnershipError), report.rejected.map((r) => r.error.message).join('\n'));
      assert.match(report.rejected[0].error.message, /key it carries is not device/);
      assert.match(report.rejected[1].error.message, /signature does not verify/);
      // A's real change with that seq is not stale on B: it applies.
      assert.equal((await b.applyShared([real2])).shared.length, 1);
      assert.deepEqual(tagNames(b), ['real-1', 'real-2']);
    } finally {
      await close();
    }
  });

  it("a state response that names another owner's rows cannot move the watermark of the owner asked for", async () => {
    const { a, b, c, close } = await trio();
    try {
      await a.ready();
      await a.addPartner(b.deviceId, 'b');
      await a.addPartner(c.deviceId, 'c');
      const [loc] = await b.commitDeviceOwned('location', [{ data: { device: b.deviceId, volume: null, path: '/b', name: 'b', workspace_key: 'ws', entry_count: 0, total_bytes: 0 } }]);
      const [late] = await c.commitDeviceOwned('location', [{ data: { device: c.deviceId, volume: null, path: '/c', name: 'c', workspace_key: 'ws', entry_count: 0, total_bytes: 0 } }]);
      // a asked a relay for b's locations; the relay answers with c's (newer) row and says it holds b's complete through then.
      const through = late.hlc;
      const report = await a.applyState('location', [late], { owner: b.deviceId, through: encodeTime(through) });
      assert.equal(report.rejected.length, 1, 'the record of another owner is refused');
      assert.ok(report.rejected[0].error instanceof OwnershipError);
      assert.match(report.rejected[0].error.message, /asked for the rows of device/);
      assert.equal(a.watermark(b.deviceId, 'location'), null, "b's watermark did not move: its real rows are still asked for");
      const honest = await a.applyState('location', [loc], { owner: b.deviceId, through: encodeTime(loc.hlc) });
      assert.deepEqual([honest.rejected.length, honest.applied + honest.parked], [0, 1], "b's row is still taken");
      assert.notEqual(a.watermark(b.deviceId, 'location'), null, 'and an honest page moves the watermark');
    } finally {
      await close();
    }
  });

  it('a change with any byte altered after signing is refused', async () => {
    const { a, b, close } = await trio();
    try {
      const [ch] = await a.commitShared([{ model: 'tag', op: 'create', data: tagData('signed') }]);
      const altered: SharedChange[] = [
        { ...ch, data: tagData('altered') },
        { ...ch, seq: ch.seq + 1 },
        { ...ch, op: 'update' },
        { ...ch, hlc: { ...ch.hlc, ms: ch.hlc.ms + 1 } },
        { ...ch, signature: Uint8Array.from(ch.signature, (x, i) => (i === 0 ? x ^ 1 : x)) },
      ];
      const report = await b.applyShared(altered);
      assert.equal(report.shared.length, 0);
      assert.equal(report.rejected.length, altered.length);
      assert.deepEqual(tagNames(b), []);
      assert.equal((await b.applyShared([ch])).shared.length, 1, 'the original still applies');
      // Once it is held: the same change again is nothing new; altered copies are still refused, not passed over
      // (a relay that alters what it relays is named, though the change itself is already here).
      const again = await b.applyShared([ch]);
      assert.deepEqual([again.stale, again.rejected.length], [1, 0]);
      const late = await b.applyShared(altered.filter((x) => x.seq === ch.seq));
      assert.equal(late.rejected.length, altered.length - 1, late.rejected.map((r) => r.error.message).join('; '));
      assert.deepEqual(tagNames(b), ['signed']);
    } finally {
      await close();
    }
  });

  it('a change signed for one library is refused by another', async () => {
    const { a, close } = await trio();
    const key = deviceKeyPair();
    const other = await Library.create({ dataDir: tempDir('lls-auth-o-'), name: 'other', keyPair: key });
    try {
      const [ch] = await a.commitShared([{ model: 'tag', op: 'create', data: tagData('for-auth') }]);
      const report = await other.applyShared([ch]);
      assert.equal(report.rejected.length, 1);
      assert.match(report.rejected[0].error.message, /signature does not verify/);
    } finally {
      await Promise.all([other.close(), close()]);
    }
  });

  it("a member record cannot bind a device's id to another key (create or update), whoever signs it", async () => {
    const { a, b, c, keys, close } = await trio();
    try {
      await a.addMember({ device: a.deviceId, publicKey: keys[0].publicKey, name: 'a' });
      await a.addMember({ device: b.deviceId, publicKey: keys[1].publicKey, name: 'b' });
      await a.addMember({ device: c.deviceId, publicKey: keys[2].publicKey, name: 'c' });
      const grants = a.changesSince(new Map(), 100).changes;
      assert.deepEqual((await c.applyShared(grants)).rejected, []);
      assert.deepEqual(
        c.partners().map((p) => toHex(p.publicKey!)).sort(),
        [toHex(keys[0].publicKey), toHex(keys[1].publicKey)].sort(),
      );
      // C, paired, tries to take B's place: B's id with C's key, as a new member record and as an update.
      const create = await c.commitShared([{ model: 'member', op: 'create', data: { device: b.deviceId, public_key: toHex(keys[2].publicKey), name: 'b' } }]).catch((e: Error) => e);
      assert.ok(create instanceof Error && /its key is not the one its device id is made from/.test(create.message), String(create));
      // Signed by C, for real, in C's own log (what C's engine would send if it were built to lie).
      const [mine] = await c.commitShared([{ model: 'tag', op: 'create', data: tagData('c-tag') }]);
      const asC = (seq: number, op: SharedChange['op'], data: SharedChange['data']) =>
        resign(a.id, keys[2], { ...mine, model: 'member', uuid: memberId(b.deviceId), seq, op, data, hlc: { ...mine.hlc, counter: mine.hlc.counter + seq } });
      const forged = [
        asC(mine.seq + 1, 'create', { device: b.deviceId, public_key: toHex(keys[2].publicKey), name: 'b' }),
        asC(mine.seq + 2, 'update', { public_key: toHex(keys[2].publicKey) }),
      ];
      const report = await a.applyShared(forged);
      assert.equal(report.shared.length, 0);
      assert.deepEqual(
        report.rejected.map((r) => r.error instanceof OwnershipError),
        [true, true],
      );
      const bOnA = a.members().find((m) => idEquals(m.device, b.deviceId))!;
      assert.equal(toHex(bOnA.publicKey), toHex(keys[1].publicKey), "B's key is unchanged on A");
    } finally {
      await close();
    }
  });

  it('only a device itself renames its member record', async () => {
    const { a, b, c, keys, close } = await trio();
    try {
      await a.addMember({ device: a.deviceId, publicKey: keys[0].publicKey, name: 'a' });
      await a.addMember({ device: b.deviceId, publicKey: keys[1].publicKey, name: 'b' });
      await a.addMember({ device: c.deviceId, publicKey: keys[2].publicKey, name: 'c' });
      const grants = a.changesSince(new Map(), 100).changes;
      await b.applyShared(grants);
      await c.applyShared(grants);
      const rename = await c.commitShared([{ model: 'member', op: 'update', uuid: memberId(b.deviceId), data: { name: 'impostor' } }]).catch((e: Error) => e);
      assert.ok(rename instanceof Error && /only that device itself may change its member record/.test(rename.message), String(rename));
      const own = await b.commitShared([{ model: 'member', op: 'update', uuid: memberId(b.deviceId), data: { name: 'b, renamed' } }]);
      assert.deepEqual((await a.applyShared(own)).rejected, []);
      assert.equal(a.members().find((m) => idEquals(m.device, b.deviceId))?.name, 'b, renamed');
    } finally {
      await close();
    }
  });

  it('a library opened without its key refuses to write shared changes, with a clear error', async () => {
    const key = deviceKeyPair();
    const dir = tempDir('lls-auth-k-');
    const lib = await Library.create({ dataDir: dir, name: 'k', keyPair: key });
    const id = lib.id;
    await lib.close();
    const wrong = await Library.open({ dataDir: dir, libraryId: id, keyPair: deviceKeyPair() });
    try {
      await assert.rejects(wrong.commitShared([{ model: 'tag', op: 'create', data: tagData('x') }]), /opened without device .* key/);
      assert.deepEqual(tagNames(wrong), []);
    } finally {
      await wrong.close();
    }
    const right = await Library.open({ dataDir: dir, libraryId: id, keyPair: key });
    try {
      await right.commitShared([{ model: 'tag', op: 'create', data: tagData('x') }]);
      assert.deepEqual(tagNames(right), ['x']);
    } finally {
      await right.close();
    }
  });

  it('a key of small order (one anyone can sign for) is refused: no id derived from it writes anything', async () => {
    const { a, b, close } = await trio();
    try {
      // The identity point: with it, (R = identity, S = 0) "verifies" for every message in Node's Ed25519.
      const identity = new Uint8Array(32);
      identity[0] = 1;
      const signature = new Uint8Array(64);
      signature.set(identity, 0);
      const [real] = await a.commitShared([{ model: 'tag', op: 'create', data: tagData('real') }]);
      const device = deviceIdOf(identity);
      const forged: SharedChange = { ...real, device, incarnation: new Uint8Array(0), hlc: { ...real.hlc, device }, seq: 1, publicKey: identity, signature, data: tagData('anyone') };
      const report = await b.applyShared([forged]);
      assert.equal(report.shared.length, 0);
      assert.match(report.rejected[0]?.error.message ?? '', /key it carries is not device/);
    } finally {
      await close();
    }
  });

  it('a damaged key pair (secret and public halves of different keys) is refused when the library opens', async () => {
    const key = deviceKeyPair();
    const dir = tempDir('lls-auth-d-');
    const lib = await Library.create({ dataDir: dir, name: 'd', keyPair: key });
    const id = lib.id;
    await lib.close();
    const damaged = { publicKey: key.publicKey, secretKey: deviceKeyPair().secretKey };
    await assert.rejects(Library.open({ dataDir: dir, libraryId: id, keyPair: damaged }), /key pair is damaged/);
  });
  it('in a library paired by invite, device rows of a device that is neither a member nor a partner are held back, not taken (100,001 forged devices stalled every Hello); they apply once it is paired', async () => {
    const { a, b, keys, close } = await trio();
    try {
      // Paired by invite: member records of a (the inviter) and b, from a.
      const { shared: members } = await a.write((tx) => {
        tx.create('member', { device: a.deviceId, public_key: toHex(keys[0].publicKey), name: 'a' });
        tx.create('member', { device: b.deviceId, public_key: toHex(keys[1].publicKey), name: 'b' });
      });
      assert.equal((await b.applyShared(members)).shared.length, 2);
      const deviceRow = (id: Uint8Array, name: string) => ({
        uuid: id,
        hlc: { ms: Date.now(), counter: 0, device: id },
        deleted: false,
        data: { name, os: 'linux', hostname: name, app_version: null, created_at: 1, updated_at: 1, last_seen_at: 1 },
      });
      const strangerKey = deviceKeyPair();
      const stranger = deviceIdOf(strangerKey.publicKey);
      const flood = [deviceRow(stranger, 'stranger'), ...Array.from({ length: 300 }, (_, i) => deviceRow(deviceIdOf(deviceKeyPair().publicKey), `made-up ${i}`))];
      const devicesBefore = b.counts().device;
      const report = await b.applyState('device', flood);
      assert.equal(b.counts().device, devicesBefore, 'no device row of a stranger is taken');
      assert.equal(report.applied, 0);
      assert.equal(report.parked + report.deferred, flood.length, 'each waits for its device to be paired, or is fetched again later');
      // The partner's own device row is taken as before.
      await a.ready();
      const own = a.stateSince('device', a.deviceId, null, 10);
      assert.equal((await b.applyState('device', own)).applied, own.length);
      // Paired by a member: the stranger's row that waited applies.
      const [grant] = await a.write((tx) => tx.create('member', { device: stranger, public_key: toHex(strangerKey.publicKey), name: 'stranger' })).then((c) => c.shared);
      await b.applyShared([grant]);
      assert.ok(b.read((r) => registry.deviceOwnedModel('device').get(r, stranger)), 'applied once its device is a member');
    } finally {
      await close();
    }
  });
});
