/**
 * Issue 11, defect 6: "A partner that is gone for good freezes pruning
 * everywhere." With the absence horizon off by default, one device that was
 * never unpaired kept every peer log growing. By default now a partner not
 * heard from for 30 days stops holding the log back; when it returns, it
 * gets a snapshot instead of the pruned log, and converges.
 *
 * PeerSync over the real-time memory transport, every device's wall clock
 * moved ahead together (a library's `now`) to pass the 30 days.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { newId } from '../../src/core/ids';
import { Library } from '../../src/engine/library';
import { MemoryHub } from '../../src/engine/memory-transport';
import { DEFAULT_SYNC_OPTIONS, PeerSync } from '../../src/sync/peer-sync';
import { cleanupTempDirs, tempDir } from '../support/tmp';

const DAY = 86_400_000;
const tag = (name: string) => ({ name, color: null, icon: null, description: null, namespace: null });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('a partner that is gone for good no longer freezes pruning (issue 11, defect 6)', function () {
  this.timeout(30_000);
  after(cleanupTempDirs);

  it('by default a partner away longer than 30 days stops holding the log back, and gets a snapshot when it returns', async () => {
    assert.equal(DEFAULT_SYNC_OPTIONS.pruneAbsentAfterMs, 30 * DAY, 'the default horizon');
    let skew = 0;
    const now = () => Date.now() + skew;
    const dir = tempDir();
    const libraryId = newId();
    const secret = new Uint8Array(32).fill(7);
    const libs: Library[] = [];
    for (const name of ['a', 'b', 'away']) libs.push(await Library.create({ dataDir: path.join(dir, name), name: 'lib', libraryId, secret, deviceName: name, now }));
    const [a, b, away] = libs;
    for (const x of libs) for (const y of libs) if (x !== y) await x.addPartner(y.deviceId, y.name);
    const hub = new MemoryHub();
    // The default horizon (not set here); pruning checked often.
    const syncs = libs.map((lib) => new PeerSync(lib, hub.transport(lib.deviceId), { pruneIntervalMs: 20 }));
    const [syncA, syncB, syncAway] = syncs;
    const errors: Error[] = [];
    for (const s of syncs) s.on('error', (e) => errors.push(e.error));
    try {
      for (const s of syncs) s.start();
      await until('everyone ready', () => syncs.every((s) => s.state === 'ready' && s.readyPeers().length === 2));
      const [t] = await a.commitShared([{ model: 'tag', op: 'create', data: tag('first') }]);
      await until('the tag everywhere', () => libs.every((l) => l.counts().tag === 1));

      // The laptop goes away (never unpaired). The others go on editing.
      syncAway.pause();
      await until('the others see it offline', () => syncA.readyPeers().length === 1 && syncB.readyPeers().length === 1);
      for (let i = 0; i < 5; i++) await a.commitShared([{ model: 'tag', op: 'create', data: tag(`a${i}`) }]);
      await b.commitShared([{ model: 'tag', op: 'update', uuid: t.uuid, data: { color: 'red' } }]);
      await sleep(200);
      const logSize = (l: Library) => l.read((r) => l.log.size(r));
      assert.ok(logSize(a) >= 6 && logSize(b) >= 6, `within the horizon the absent partner holds the log back (a: ${logSize(a)}, b: ${logSize(b)})`);
      assert.equal(a.read((r) => a.log.unacked(r, away.deviceId)) >= 6, true);

      // 31 days later (every clock), the others edit again and prune everything they both hold.
      skew += 31 * DAY;
      await a.commitShared([{ model: 'tag', op: 'delete', uuid: t.uuid }]);
      await b.commitShared([{ model: 'user_metadata', op: 'create', data: { workspace_key: 'ws', path: 'x.md', note: 'while away' } }]);
      // Pruned down to the newest change of each origin (kept to prove a snapshot base).
      const heads = (l: Library) => [...l.vector().values()].filter((v) => v.seq > 0).length;
      await until('both logs pruned', () => logSize(a) === heads(a) && logSize(b) === heads(b));
      // Offline first: the away device edits too before it comes back.
      await away.commitShared([{ model: 'tag', op: 'create', data: tag('from the laptop') }]);

      let snapshots = 0;
      syncAway.on('snapshot', () => snapshots++);
      syncAway.resume();
      await until('digests equal', () => syncAway.state === 'ready' && a.digest() === away.digest() && b.digest() === away.digest());
      assert.ok(snapshots >= 1, 'the returning partner merged a snapshot instead of the pruned log');
      assert.equal(away.read((r) => away.registry.sharedModel('tag').get(r, t.uuid))!.live, false, 'the delete came with the snapshot');
      assert.equal(away.counts().tag, 6, 'a0–a4 and its own new tag (the first one deleted)');
      assert.equal(away.counts().user_metadata, 1);
      assert.equal(a.counts().tag, 6, 'its offline change reached the others');
      // And live sync goes on.
      await b.commitShared([{ model: 'tag', op: 'create', data: tag('after') }]);
      await until('the later change everywhere', () => libs.every((l) => l.counts().tag === 7));
      assert.deepEqual(errors, []);
    } finally {
      for (const s of syncs) await s.stop();
      for (const l of libs) await l.close();
    }
  });
  it('a partner that stays connected but never acknowledges stops holding the log back after the horizon, and still converges', async () => {
    let skew = 0;
    const now = () => Date.now() + skew;
    const dir = tempDir();
    const libraryId = newId();
    const secret = new Uint8Array(32).fill(7);
    const a = await Library.create({ dataDir: path.join(dir, 'a'), name: 'lib', libraryId, secret, deviceName: 'a', now });
    const mute = await Library.create({ dataDir: path.join(dir, 'mute'), name: 'lib', libraryId, secret, deviceName: 'mute', now });
    await a.addPartner(mute.deviceId, 'mute');
    await mute.addPartner(a.deviceId, 'a');
    const logSize = () => a.read((r) => a.log.size(r));
    try {
      for (let i = 0; i < 5; i++) await a.commitShared([{ model: 'tag', op: 'create', data: tag(`t${i}`) }]);
      // The partner is heard from all along (its link is up, its frames come) and acknowledges nothing.
      await a.partnerSeen(mute.deviceId);
      assert.equal(await a.prune({ absentAfterMs: 30 * DAY }), 0, 'within the horizon it holds the log back');
      skew += 31 * DAY;
      await a.partnerSeen(mute.deviceId);
      await a.commitShared([{ model: 'tag', op: 'create', data: tag('today') }]);
      const removed = await a.prune({ absentAfterMs: 30 * DAY });
      assert.equal(removed, 5, 'it no longer holds the log back: pruned down to the head that proves a snapshot base');
      assert.equal(logSize(), 1);

      // It still gets everything (a snapshot stands in for what was pruned).
      const hub = new MemoryHub();
      const syncs = [a, mute].map((lib) => new PeerSync(lib, hub.transport(lib.deviceId)));
      try {
        for (const s of syncs) s.start();
        await until('digests equal', () => a.digest() === mute.digest());
        assert.equal(mute.counts().tag, 6);
      } finally {
        for (const s of syncs) await s.stop();
      }
    } finally {
      await a.close();
      await mute.close();
    }
  });
});
