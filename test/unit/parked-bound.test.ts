/**
 * Issue 12, "Resources are bounded per partner": records that wait for a
 * parent (parked) were bounded per library only (200,000), so one partner
 * could fill that room with rows whose parent never comes, and every other
 * partner's records that needed to wait were refused from then on. Now each
 * partner has its share (MAX_PARKED_PER_PARTNER); one that exceeds it is
 * cut off, and the others keep the room and keep syncing.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { idEquals, toHex, type Id } from '../../src/core/ids';
import { deviceIdOf, deviceKeyPair, type DeviceKeyPair } from '../../src/core/signing';
import { Library, MAX_PARKED, MAX_PARKED_PER_PARTNER } from '../../src/engine/library';
import { MemoryHub } from '../../src/engine/memory-transport';
import type { Link } from '../../src/engine/transport';
import type { StateRecord } from '../../src/models/model';
import { encodeMessage } from '../../src/protocol';
import { PeerSync } from '../../src/sync/peer-sync';
import { cleanupTempDirs, tempDir } from '../support/tmp';

/** Device rows of devices no one paired: in a library with members, each waits for its member record (which never comes). */
function strangers(n: number): StateRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const id = deviceIdOf(deviceKeyPair().publicKey);
    return {
      uuid: id,
      hlc: { ms: Date.now(), counter: 0, device: id },
      deleted: false,
      data: { name: `made-up ${i}`, os: 'linux', hostname: 'x', app_version: null, created_at: 1, updated_at: 1, last_seen_at: 1 },
    };
  });
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('records waiting for a parent are bounded per partner (issue 12)', function () {
  this.timeout(30_000);
  const open: Library[] = [];
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close();
  });
  after(cleanupTempDirs);

  /** A library founded by the first device, with every device a member; `limit`: the per-partner share on each. */
  async function members(names: string[], limit: number): Promise<{ libs: Library[]; keys: DeviceKeyPair[] }> {
    const dir = tempDir();
    const keys = names.map(() => deviceKeyPair());
    const libs: Library[] = [];
    for (const [i, name] of names.entries()) {
      const first = libs[0];
      libs.push(await Library.create({ dataDir: path.join(dir, name), name: 'lib', deviceName: name, keyPair: keys[i], libraryId: first?.id, secret: first?.secret, maxParkedPerPartner: limit }));
    }
    open.push(...libs);
    const [a] = libs;
    for (const lib of libs) await lib.pinAnchors([{ device: a.deviceId, publicKey: keys[0].publicKey, name: names[0] }]);
    const { shared } = await a.write((tx) => {
      for (const [i, lib] of libs.entries()) tx.create('member', { device: lib.deviceId, public_key: toHex(keys[i].publicKey), name: names[i] });
    });
    for (const lib of libs.slice(1)) await lib.applyShared(shared);
    return { libs, keys };
  }

  it('a partner gets its share of the room: beyond it its records are not taken, and another partner still has room', async () => {
    assert.ok(MAX_PARKED_PER_PARTNER < MAX_PARKED, 'a share, not the whole room');
    const { libs } = await members(['a', 'b', 'm'], 100);
    const [a, b, m] = libs;
    const fromM = await a.fromPartner(m.deviceId, () => a.applyState('device', strangers(300)));
    assert.equal(fromM.parked, 100);
    assert.equal(fromM.deferred, 200);
    assert.equal(fromM.overSenderLimit, 200);
    const fromB = await a.fromPartner(b.deviceId, () => a.applyState('device', strangers(30)));
    assert.equal(fromB.parked, 30, "m's flood took none of b's room");
    assert.equal(fromB.overSenderLimit, 0);
    assert.equal(a.parkedCount(), 130);
    // Unattributed (this device's own catch-up of a restart, say): only the library's room applies.
    const unattributed = await a.applyState('device', strangers(10));
    assert.equal(unattributed.parked, 10);
  });

  it('over the network: the partner that exceeds its share is cut off and named; the library keeps syncing with everyone else', async () => {
    const { libs } = await members(['a', 'b', 'm'], 50);
    const [a, b, m] = libs;
    const hub = new MemoryHub();
    const links: Link[] = [];
    const syncs = libs.map((lib) => {
      const t = hub.transport(lib.deviceId);
      if (lib === m) t.on('link', (l: Link) => links.push(l));
      return new PeerSync(lib, t, lib === a ? { cutOffMs: 60_000 } : {});
    });
    const [syncA] = syncs;
    for (const s of syncs) s.on('error', () => undefined); // reported: named below through the cut-off
    const cutOffs: Id[] = [];
    syncA.on('cutOff', (e) => cutOffs.push(e.peer));
    try {
      for (const s of syncs) s.partnersChanged();
      for (const s of syncs) s.start();
      await until('all linked', () => syncs.every((s) => s.readyPeers().length === 2));
      // m's engine is honest; these frames are what m adds on its link to a.
      const toA = links.find((l) => idEquals(l.remote, a.deviceId))!;
      for (let i = 0; i < 3; i++) toA.send(encodeMessage({ type: 'state-batch', model: 'device', records: strangers(40), seal: null }));
      await until('a cut m off', () => cutOffs.some((p) => idEquals(p, m.deviceId)));
      assert.ok(a.parkedCount() <= 50, `at most m's share waits on a (${a.parkedCount()})`);
      await b.commitShared([{ model: 'tag', op: 'create', data: { name: 'after', color: null, icon: null, description: null, namespace: null } }]);
      await until('b still reaches a', () => a.counts().tag === 1);
      assert.ok(syncA.readyPeers().some((p) => idEquals(p, b.deviceId)));
      assert.ok(!syncA.readyPeers().some((p) => idEquals(p, m.deviceId)), 'm stays cut off');
    } finally {
      for (const s of syncs) await s.stop();
    }
  });
});
