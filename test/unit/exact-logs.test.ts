/**
 * Regression tests for issue 11 ("Exact logs"): each defect the issue names
 * has a test named after it that failed before its fix.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { idKey, newId, type Id } from '../../src/core/ids';
import { encodeHlcTime } from '../../src/core/hlc';
import { Library } from '../../src/engine/library';
import { MemoryHub } from '../../src/engine/memory-transport';
import { ENTRY_KIND } from '../../src/models/entry';
import type { JournalIo } from '../../src/store';
import { PeerSync } from '../../src/sync/peer-sync';
import { decodeMessage, encodeMessage } from '../../src/protocol';
import { Cluster } from '../sim/cluster';
import { cleanupTempDirs, tempDir } from '../support/tmp';

const tagData = (name: string) => ({ name, color: null, icon: null, description: null, namespace: null });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, done: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(5);
  }
}

function sameEverywhere(c: Cluster, what: string): void {
  const digests = c.digests();
  assert.ok(digests.every((d) => d === digests[0]), `${what}: replicas differ\n${c.describe()}\n${c.differences().slice(0, 3000)}`);
}

function assignments(lib: Library, pathPrefix: string): string[] {
  return lib.read((r) => r.rows('SELECT path FROM tag_assignment WHERE live = 1 AND path LIKE ? ORDER BY path', [`${pathPrefix}%`]).map((row) => row[0] as string));
}

/** A journal whose fdatasync can be held back (the write has reached the OS, the disk has not confirmed it) or made to fail. */
function holdableDisk(lib: Library) {
  const journal = lib.store.journalForTesting;
  const base = journal.io;
  const held: (() => void)[] = [];
  const disk = { holding: false, failing: false, release: () => held.splice(0).forEach((f) => f()) };
  const io: JournalIo = {
    ...base,
    fdatasync(fd, cb) {
      if (disk.failing) return void setImmediate(() => cb(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })));
      if (disk.holding) return void held.push(() => base.fdatasync(fd, cb));
      base.fdatasync(fd, cb);
    },
  };
  journal.io = io;
  return disk;
}

describe('exact logs (issue 11 regressions)', function () {
  this.timeout(120_000);
  after(cleanupTempDirs);

  it('a device restored from an old copy of its data does not reuse its sequence numbers: its new tags reach every peer', async () => {
    const c = new Cluster(1101);
    try {
      const [a, b, r] = [await c.add('a'), await c.add('b'), await c.add('restored')];
      await c.connectAll();
      const [tag] = await a.library.commitShared([{ model: 'tag', op: 'create', data: tagData('review') }]);
      await c.run(200);
      c.backup(r);
      for (let i = 1; i <= 5; i++) await r.library.commitShared([{ model: 'tag_assignment', op: 'create', data: { tag: tag.uuid, workspace_key: 'ws', path: `before/${i}.ts` } }]);
      await c.run(500);
      assert.equal(assignments(a.library, 'before/').length, 5, 'the five tags reached the others before the restore');
      await c.restore(r);
      assert.equal(assignments(r.library, 'before/').length, 0, 'the restored copy predates them');
      await c.run(2000);
      assert.equal(assignments(r.library, 'before/').length, 5, 'it caught its own five tags up from the others');
      for (const name of ['one', 'two', 'three']) {
        const [t] = await r.library.commitShared([{ model: 'tag', op: 'create', data: tagData(name) }]);
        await r.library.commitShared([{ model: 'tag_assignment', op: 'create', data: { tag: t.uuid, workspace_key: 'ws', path: 'after/file.ts' } }]);
      }
      await c.run(5000);
      for (const n of [a, b]) assert.equal(assignments(n.library, 'after/').length, 3, `${n.name} has the three tags written after the restore`);
      sameEverywhere(c, 'after the restore');
    } finally {
      await c.close();
    }
  });

  it('a device that re-joins a library it was in (same device id, new copy) gets its writes to every peer', async () => {
    const c = new Cluster(1102, { antiEntropyMs: 1000 });
    try {
      const [a, b, away] = [await c.add('a'), await c.add('b'), await c.add('away')];
      await c.connectAll();
      // A partner away the whole time never acknowledges anything: the others keep their logs (no snapshot path).
      c.net.partition([away.library.deviceId], [a.library.deviceId, b.library.deviceId]);
      await b.library.commitShared([{ model: 'tag', op: 'create', data: tagData('old') }]);
      await c.run(500);
      // b leaves and joins again: a new copy of the library under the same device id.
      await c.rejoin(b);
      await c.run(2000);
      assert.equal(b.library.counts().tag, 1, 'its old tag came back from the others');
      await b.library.commitShared([{ model: 'tag', op: 'create', data: tagData('new') }]);
      await c.run(3000);
      assert.equal(a.library.counts().tag, 2, 'the tag written after re-joining reached the other device');
      c.net.heal();
      await c.run(3000);
      sameEverywhere(c, 'after re-joining');
    } finally {
      await c.close();
    }
  });

  it('peers are never served a commit before it is durable, and a journal failure stops sync instead of serving phantom data', async () => {
    const hub = new MemoryHub({ reconnectDelayMs: 20 });
    const dir = tempDir();
    const libraryId = newId();
    const secret = randomBytes(32);
    const [a, b] = [
      await Library.create({ dataDir: path.join(dir, 'a'), name: 't', libraryId, secret, deviceName: 'a' }),
      await Library.create({ dataDir: path.join(dir, 'b'), name: 't', libraryId, secret, deviceName: 'b' }),
    ];
    const syncs: PeerSync[] = [];
    let disk: ReturnType<typeof holdableDisk> | null = null;
    try {
      await Promise.all([a.ready(), b.ready()]);
      await a.addPartner(b.deviceId);
      await b.addPartner(a.deviceId);
      for (const lib of [a, b]) {
        const s = new PeerSync(lib, hub.transport(lib.deviceId), { antiEntropyMs: 50, heartbeatMs: 50, requestTimeoutMs: 1000, deadAfterMs: 60_000 });
        syncs.push(s);
        s.start();
      }
      await until('both are ready', () => syncs.every((s) => s.state === 'ready'));
      disk = holdableDisk(a);
      disk.holding = true;
      const held = a.commitShared([{ model: 'tag', op: 'create', data: tagData('not yet durable') }]);
      await sleep(600); // a dozen anti-entropy rounds: b asks a for what it lacks
      assert.equal(b.counts().tag, 0, 'b was not served a change whose journal record was not yet on disk');
      disk.holding = false;
      disk.release();
      await held;
      await until('the change reached b once durable', () => b.counts().tag === 1);

      disk.failing = true;
      const failed = await a.commitShared([{ model: 'tag', op: 'create', data: tagData('never durable') }]).then(
        () => null,
        (e: Error) => e,
      );
      assert.ok(failed, 'the commit whose journal write failed was refused');
      await sleep(600);
      assert.equal(b.counts().tag, 1, 'b was never served the phantom change');
      assert.equal(syncs[0].state, 'failed', 'sync stopped on the device whose journal failed');
      assert.match(String(syncs[0].failure?.message), /journal|disk|ENOSPC/i, 'and says why');
    } finally {
      if (disk) {
        disk.holding = false;
        disk.release();
      }
      for (const s of syncs) await s.stop().catch(() => undefined);
      await a.close().catch(() => undefined);
      await b.close();
    }
  });

  it('a relay does not vouch for rows it has parked: completeThrough never passes a parked row', async () => {
    const dir = tempDir();
    const libraryId = newId();
    const secret = randomBytes(32);
    const owner = await Library.create({ dataDir: path.join(dir, 'owner'), name: 't', libraryId, secret, deviceName: 'owner' });
    const relay = await Library.create({ dataDir: path.join(dir, 'relay'), name: 't', libraryId, secret, deviceName: 'relay' });
    try {
      await Promise.all([owner.ready(), relay.ready()]);
      await relay.addPartner(owner.deviceId, 'owner');
      const [loc] = await owner.commitDeviceOwned('location', [
        { data: { device: owner.deviceId, volume: null, path: '/p', name: 'p', workspace_key: 'ws', entry_count: 3, total_bytes: 0 } },
      ]);
      const entries = await owner.commitDeviceOwned(
        'entry',
        [1, 2, 3].map((i) => ({ data: { location: loc.uuid, parent: null, name: `f${i}`, kind: ENTRY_KIND.file, size: i, mtime: 0 } })),
      );
      // The relay receives the owner's device row, then a page of entries whose location it does not have yet.
      await relay.applyState('device', owner.stateSince('device', owner.deviceId, null, 10), { owner: owner.deviceId, through: owner.completeThrough(owner.deviceId, 'device') });
      const report = await relay.applyState('entry', entries, { owner: owner.deviceId, through: owner.completeThrough(owner.deviceId, 'entry') });
      assert.equal(report.parked, 3, 'the entries wait for their location');
      const through = relay.completeThrough(owner.deviceId, 'entry');
      const firstParked = encodeHlcTime(entries[0].hlc);
      assert.ok(through === null || Buffer.compare(Buffer.from(through), Buffer.from(firstParked)) < 0, 'the relay vouches for nothing at or past a row it cannot serve');
      // Once the location arrives the entries apply, and the relay vouches for them.
      await relay.applyState('location', [loc], { owner: owner.deviceId, through: owner.completeThrough(owner.deviceId, 'location') });
      assert.equal(relay.counts().entry, 3);
      assert.deepEqual(relay.completeThrough(owner.deviceId, 'entry'), owner.completeThrough(owner.deviceId, 'entry'));
    } finally {
      await owner.close();
      await relay.close();
    }
  });

  it('one origin cannot starve the catch-up of all others: changes a device refuses from one origin do not stop the rest', async () => {
    // Whichever of the two writers' origins sorts first in the relay's log, the refused one is tried in both places.
    for (const [seed, aheadFirst] of [
      [1103, true],
      [1104, false],
    ] as const) {
      const c = new Cluster(seed, { pageSize: 5 });
      try {
        // The relay's clock is 4 minutes ahead, the far writer's 9: the relay accepts the writer's stamps (5 minute bound), the late device refuses them.
        const relay = await c.add('relay', 4 * 60_000);
        const far = await c.add('far', 9 * 60_000);
        const near = await c.add('near');
        const late = await c.add('late');
        await c.connectAll([late]);
        const writers = aheadFirst ? [far, near] : [near, far];
        for (const w of writers) for (let i = 0; i < 12; i++) await w.library.commitShared([{ model: 'tag', op: 'create', data: tagData(`${w.name}${i}`) }]);
        await c.run(500);
        assert.equal(relay.library.counts().tag, 24, 'the relay holds both writers\' changes');
        // The late device reaches only the relay.
        c.net.partition([late.library.deviceId], [far.library.deviceId, near.library.deviceId]);
        await c.join(late);
        await c.run(3000);
        const nearTags = late.library.read((r) => Number(r.value("SELECT count(*) FROM tag WHERE name LIKE 'near%'")));
        assert.equal(nearTags, 12, `seed ${seed}: every change of the origin it accepts arrived (${nearTags} of 12)`);
      } finally {
        await c.close();
      }
    }
  });

  it('a row known only from an update or a delete still goes out in a snapshot (it stalled catch-up for good)', async () => {
    const dir = tempDir();
    const a = await Library.create({ dataDir: path.join(dir, 'a'), name: 't' });
    const b = await Library.create({ dataDir: path.join(dir, 'b'), name: 't', libraryId: a.id, secret: a.secret });
    const c = await Library.create({ dataDir: path.join(dir, 'c'), name: 't', libraryId: a.id, secret: a.secret });
    try {
      const [t] = await a.commitShared([{ model: 'tag', op: 'create', data: tagData('todo') }]);
      const [u] = await a.commitShared([{ model: 'tag', op: 'update', uuid: t.uuid, data: { color: 'red' } }]);
      const [d] = await a.commitShared([{ model: 'tag', op: 'delete', uuid: t.uuid }]);
      await b.applyShared([u]); // its create never arrived (lost with a device, or still on its way)
      await c.applyShared([d]);
      for (const lib of [b, c]) {
        const rows = lib.sharedRows('tag', null, 10);
        const bytes = encodeMessage({ type: 'shared-change-response', requestId: 1, changes: [], hasMore: false, snapshot: { model: 'tag', rows, after: null, hasMore: false, base: [] }, pruned: [] });
        const back = decodeMessage(bytes);
        assert.equal(back.type === 'shared-change-response' ? back.snapshot?.rows.length : 0, 1);
        const merged = await Library.create({ dataDir: tempDir(), name: 't', libraryId: a.id, secret: a.secret });
        await merged.applySnapshotRows('tag', rows);
        const tagState = (l: Library) => l.sharedStates().find((x) => x.model === 'tag');
        assert.deepEqual(tagState(merged), tagState(lib), 'the row merged from the snapshot is the row');
        await merged.close();
      }
    } finally {
      for (const l of [a, b, c]) await l.close();
    }
  });

  it('a change held above a gap that can never close still reaches every device\'s log (seed 1275: its vector never covered it)', async () => {
    const c = new Cluster(1105);
    try {
      const [a, b, r] = [await c.add('a'), await c.add('b'), await c.add('restored')];
      await c.connectAll();
      await c.run(200);
      c.backup(r);
      // Offline, the device writes two changes; only the second ever leaves it (the first one's frame was lost), then it goes back to its backup.
      c.net.partition([r.library.deviceId], [a.library.deviceId, b.library.deviceId]);
      await r.library.commitShared([{ model: 'tag', op: 'create', data: tagData('lost') }]);
      const [second] = await r.library.commitShared([{ model: 'tag', op: 'create', data: tagData('kept') }]);
      assert.equal(second.seq, 2);
      const held = (n: typeof a) => n.library.read((rd) => n.library.log.holds(rd, second));
      await a.library.applyShared([second]);
      assert.ok(held(a), 'the first device holds the second change above the gap');
      await c.restore(r);
      c.net.heal();
      await c.run(35_000); // past one anti-entropy round: the restored device got it from a after its Hello to b
      for (const n of [a, b, r]) {
        assert.equal(n.library.read((rd) => Number(rd.value("SELECT count(*) FROM tag WHERE name = 'kept'"))), 1, `${n.name} has the tag`);
        assert.ok(held(n), `${n.name} holds the change in its log (only a log entry can go on to whoever lacks it)`);
      }
      sameEverywhere(c, 'after the restore');
    } finally {
      await c.close();
    }
  });

  it('acknowledgements name only origins this device holds: a partner cannot grow the ack table without bound', async () => {
    const dir = tempDir();
    const lib = await Library.create({ dataDir: dir, name: 't', deviceName: 'a' });
    try {
      await lib.ready();
      const partner = newId();
      await lib.addPartner(partner);
      const [t] = await lib.commitShared([{ model: 'tag', op: 'create', data: tagData('x') }]);
      const made: { origin: Id; seq: number }[] = [];
      for (let i = 0; i < 1000; i++) made.push({ origin: newId(), seq: 1 });
      await lib.recordAcks(partner, [...made, { origin: t.hlc.device, seq: t.seq }]);
      const rows = lib.read((r) => Number(r.value('SELECT count(*) FROM log_ack')));
      assert.equal(rows, 1, 'only the ack for an origin in the log was recorded');
      assert.equal(lib.read((r) => lib.log.acks(r, partner)).get(idKey(t.hlc.device)), t.seq);
    } finally {
      await lib.close();
    }
  });
});
