/**
 * Backfill and catch-up scenarios over the simulated network: several
 * serving peers, a serving peer lost mid-way, a restart mid-way, a device
 * away while the others prune, manual backfill and full resync, and
 * concurrent edits and deletes of the same records.
 */
import assert from 'node:assert/strict';
import { rebuildOwnerStates } from '../../src/models/owner-state';
import type { Library } from '../../src/engine/library';
import { idKey, type Id } from '../../src/core/ids';
import type { BackfillProgress } from '../../src/sync/backfill';
import { ENTRY_KIND } from '../../src/models/entry';
import { Cluster, type Node } from '../sim/cluster';
import { cleanupTempDirs } from '../support/tmp';

const tag = (name: string, color: string | null = null) => ({ name, color, icon: null, description: null, namespace: null });

/** A location of `lib`'s device with `n` entries (a directory per 20), committed in transactions of 500. */
async function addTree(lib: Library, n: number, prefix = 'f'): Promise<void> {
  const [loc] = await lib.commitDeviceOwned('location', [
    { data: { device: lib.deviceId, volume: null, path: `/src/${prefix}`, name: prefix, workspace_key: `ws/${prefix}`, entry_count: n, total_bytes: 0 } },
  ]);
  let dir: Id | null = null;
  for (let i = 0; i < n; i += 500) {
    await lib.write((tx) => {
      for (let j = i; j < Math.min(n, i + 500); j++) {
        const isDir = j % 20 === 0;
        const rec = tx.put('entry', { location: loc.uuid, parent: isDir ? null : dir, name: `${prefix}${j}`, kind: isDir ? ENTRY_KIND.dir : ENTRY_KIND.file, size: j, mtime: 1_700_000_000_000 + j });
        if (isDir) dir = rec.uuid;
      }
    });
  }
}

/** Counts the device-owned records a library applies through catch-up pages (those move its watermark). */
function countPages(lib: Library, into: { rows: number; byModel: Map<string, number> }): void {
  const apply = lib.applyState.bind(lib);
  lib.applyState = async (model, records, checkpoint) => {
    if (checkpoint) {
      into.rows += records.length;
      into.byModel.set(model, (into.byModel.get(model) ?? 0) + records.length);
    }
    return apply(model, records, checkpoint);
  };
}

interface Replicas {
  digests(): string[];
  describe(): string;
  differences(): string;
}

function sameEverywhere(c: Replicas, what: string): void {
  const digests = c.digests();
  assert.ok(
    digests.every((d) => d === digests[0]),
    `${what}: replicas differ\n${c.describe()}\n${c.differences().slice(0, 3000)}`,
  );
}

/** Log entries left once everything is pruned: the newest change of each origin, kept to prove a snapshot base. */
function heads(lib: Library): number {
  return [...lib.vector().values()].filter((v) => v.seq > 0).length;
}

function noErrors(nodes: Node[]): void {
  for (const n of nodes) assert.deepEqual(n.errors.map((e) => e.message), [], `${n.name} reported errors`);
}

describe('backfill and catch-up scenarios', function () {
  this.timeout(180_000);
  after(cleanupTempDirs);

  it('a fresh device backfills from two peers while both keep writing, with honest progress', async () => {
    const c = new Cluster(101, { pageSize: 200 });
    try {
      const [a, b] = [await c.add('a'), await c.add('b')];
      const fresh = await c.add('fresh');
      await addTree(a.library, 3000, 'a');
      await addTree(b.library, 3000, 'b');
      await a.library.commitShared([{ model: 'tag', op: 'create', data: tag('todo') }]);
      await c.connectAll([fresh]);
      await c.run(100);
      sameEverywhere(new ClusterView(c, [a, b]), 'a and b before the join');

      const states: string[] = [];
      const progress: BackfillProgress[] = [];
      const servedBy = new Map<string, number>();
      let writes = 0;
      await c.join(fresh, () => {
        fresh.sync.on('state', (s) => states.push(s));
        fresh.sync.on('progress', (p) => progress.push(p));
        fresh.sync.on('applied', (e) => {
          const n = e.report.state.get('entry')?.length ?? 0;
          if (n) servedBy.set(idKey(e.peer), (servedBy.get(idKey(e.peer)) ?? 0) + n);
        });
      });
      // Both keep writing while the fresh device pulls.
      while (fresh.sync.state !== 'ready' && writes < 200) {
        await a.library.commitShared([{ model: 'tag', op: 'create', data: tag(`a${writes}`) }]);
        await b.library.write((tx) => tx.put('volume', { device: b.library.deviceId, mount_point: '/', name: `disk ${writes}`, filesystem: 'ext4', total_bytes: 1e9, available_bytes: writes, removable: false }, b.library.deviceId));
        writes++;
        await c.run(2);
      }
      assert.ok(writes >= 3, `the backfill took a few turns (${writes})`);
      await c.run(3000);
      sameEverywhere(c, 'after the backfill');
      assert.equal(fresh.sync.state, 'ready');
      assert.ok(fresh.library.backfilled, 'the backfill is recorded as complete');
      assert.ok(states.includes('ready'));
      assert.equal(fresh.library.counts().entry, 6000);
      // Each owner's rows came from a partner that had them; both partners served.
      assert.equal(servedBy.size, 2, `rows came from both partners: ${JSON.stringify([...servedBy])}`);
      // Progress: announced up front, received climbs to it, and it ends done.
      const firstFull = progress.find((p) => p.announced >= 6000);
      assert.ok(firstFull && firstFull.received < firstFull.announced / 2, 'the whole amount was announced early in the backfill');
      const entryProgress = progress.map((p) => p.models.entry?.received ?? 0);
      assert.ok(entryProgress.every((v, i) => i === 0 || v >= entryProgress[i - 1] || progress[i].received === 0), 'received only grows within a round');
      const last = progress[progress.length - 1];
      assert.ok(last.done);
      assert.equal(last.received, last.announced);
      noErrors(c.nodes);
    } finally {
      await c.close();
    }
  });

  it('the serving peer lost mid-backfill: another partner continues from the checkpoint, nothing fetched twice or skipped', async () => {
    const c = new Cluster(102, { pageSize: 250 });
    try {
      const [a, b] = [await c.add('a'), await c.add('b')];
      const fresh = await c.add('fresh');
      await addTree(a.library, 4000, 'a');
      await c.connectAll([fresh]);
      await c.run(100);
      assert.equal(b.library.counts().entry, 4000, 'b holds a copy of a\'s rows');
      const pages = { rows: 0, byModel: new Map<string, number>() };
      countPages(fresh.library, pages);
      // Only a can reach the fresh device at first.
      c.net.partition([b.library.deviceId], [fresh.library.deviceId]);
      await c.join(fresh);
      while (pages.byModel.get('entry') === undefined || pages.byModel.get('entry')! < 1000) await c.run(1);
      const before = fresh.library.counts().entry;
      assert.ok(before > 0 && before < 4000, `mid-way (${before})`);
      c.net.crash(a.library.deviceId);
      c.net.heal();
      await c.run(5000);
      assert.equal(fresh.library.counts().entry, 4000);
      assert.equal(pages.byModel.get('entry'), 4000, 'every entry arrived in exactly one applied page');
      sameEverywhere(new ClusterView(c, [b, fresh]), 'b and the fresh device');
      assert.equal(fresh.sync.state, 'ready');
    } finally {
      await c.close();
    }
  });

  it('a device restarted mid-backfill resumes at its persisted checkpoint', async () => {
    const c = new Cluster(103, { pageSize: 250 });
    try {
      const a = await c.add('a');
      const fresh = await c.add('fresh');
      await addTree(a.library, 3000, 'a');
      await c.connectAll([fresh]);
      const pages = { rows: 0, byModel: new Map<string, number>() };
      countPages(fresh.library, pages);
      await c.join(fresh);
      while ((pages.byModel.get('entry') ?? 0) < 1000) await c.run(1);
      await c.restart(fresh);
      assert.ok(!fresh.library.backfilled, 'not complete yet after the restart');
      const resumedAt = fresh.library.counts().entry;
      countPages(fresh.library, pages);
      await c.run(3000);
      assert.equal(fresh.library.counts().entry, 3000);
      assert.equal(pages.byModel.get('entry'), 3000, `resumed at ${resumedAt}: nothing fetched twice, nothing skipped`);
      assert.ok(fresh.library.backfilled);
      sameEverywhere(c, 'after resuming');
    } finally {
      await c.close();
    }
  });

  it('a device away while the others prune their logs gets a snapshot and converges', async () => {
    const c = new Cluster(104, { pruneIntervalMs: 100, pruneAbsentAfterMs: 60_000 });
    try {
      const [a, b, away] = [await c.add('a'), await c.add('b'), await c.add('away')];
      await c.connectAll();
      const [t1] = await a.library.commitShared([{ model: 'tag', op: 'create', data: tag('keep', 'red') }]);
      const [t2] = await a.library.commitShared([{ model: 'tag', op: 'create', data: tag('drop') }]);
      await c.run(500);
      c.net.partition([away.library.deviceId], [a.library.deviceId, b.library.deviceId]);
      // While it is away: edits, a delete, notes, and enough time for the others to stop waiting for it.
      await a.library.commitShared([{ model: 'tag', op: 'update', uuid: t1.uuid, data: { color: 'blue' } }]);
      await b.library.commitShared([{ model: 'tag', op: 'delete', uuid: t2.uuid }]);
      for (let i = 0; i < 30; i++) await b.library.commitShared([{ model: 'user_metadata', op: 'create', data: { workspace_key: 'ws', path: `n${i}.md`, note: `note ${i}` } }]);
      // The away device edits too (offline first).
      await away.library.commitShared([{ model: 'tag', op: 'update', uuid: t1.uuid, data: { name: 'kept' } }]);
      await c.run(100_000);
      const pruned = a.library.read((r) => a.library.log.size(r)) + b.library.read((r) => b.library.log.size(r));
      assert.ok(c.stats.pruned > 0, 'the others pruned');
      let snapshots = 0;
      away.sync.on('snapshot', () => snapshots++);
      c.net.heal();
      await c.run(5000);
      assert.ok(snapshots >= 1, `the away device merged a snapshot (log left: ${pruned})`);
      sameEverywhere(c, 'after the snapshot');
      const row = away.library.read((r) => away.library.registry.sharedModel('tag').get(r, t1.uuid))!;
      assert.deepEqual([row.data.name, row.data.color, row.live], ['kept', 'blue', true], 'per-field merge across the snapshot');
      assert.equal(away.library.read((r) => away.library.registry.sharedModel('tag').get(r, t2.uuid))!.live, false, 'the delete came with the snapshot');
      assert.equal(away.library.counts().user_metadata, 30);
      // Its own change made while away reached the others.
      assert.equal(b.library.read((r) => b.library.registry.sharedModel('tag').get(r, t1.uuid))!.data.name, 'kept');
      // And live sync goes on afterwards.
      await a.library.commitShared([{ model: 'tag', op: 'create', data: tag('after') }]);
      await c.run(200);
      sameEverywhere(c, 'after a later change');
    } finally {
      await c.close();
    }
  });

  it('a fresh device joining after every log was pruned backfills shared data from a snapshot', async () => {
    const c = new Cluster(105, { pruneIntervalMs: 100 });
    try {
      const [a, b] = [await c.add('a'), await c.add('b')];
      const fresh = await c.add('fresh');
      await c.connectAll([fresh]);
      const [t] = await a.library.commitShared([{ model: 'tag', op: 'create', data: tag('t') }]);
      await b.library.commitShared([{ model: 'tag_assignment', op: 'create', data: { tag: t.uuid, workspace_key: 'ws', path: 'x.ts' } }]);
      await a.library.commitShared([{ model: 'album', op: 'create', data: { name: 'album', description: null } }]);
      await c.run(1000);
      assert.equal(a.library.read((r) => a.library.log.size(r)), heads(a.library), 'a pruned its whole log but each origin\'s newest change (the proof of a snapshot base)');
      let snapshots = 0;
      await c.join(fresh, () => fresh.sync.on('snapshot', () => snapshots++));
      await c.run(2000);
      sameEverywhere(c, 'after joining');
      assert.ok(snapshots >= 1, 'the shared rows came as a snapshot');
      assert.equal(fresh.library.counts().tag_assignment, 1);
      // The vector moved to what the snapshot reflected: later changes come through the log.
      await b.library.commitShared([{ model: 'tag', op: 'update', uuid: t.uuid, data: { color: 'red' } }]);
      await c.run(200);
      sameEverywhere(c, 'after a later change');
      assert.ok(fresh.library.vector().size >= 2);
      noErrors(c.nodes);
    } finally {
      await c.close();
    }
  });

  it('backfill from a chosen peer and full resync pull everything again and repair what was lost', async () => {
    const c = new Cluster(106, { pageSize: 300 });
    try {
      const [a, b, me] = [await c.add('a'), await c.add('b'), await c.add('me')];
      await addTree(a.library, 1000, 'a');
      await addTree(b.library, 500, 'b');
      await c.connectAll();
      await c.run(500);
      sameEverywhere(c, 'synced');
      // Simulate damage: rows lost here without any stamp moving (e.g. a restored old copy of the database, whose owner states
      // describe the rows it has).
      await me.library.store.transaction((w) => {
        w.run(`DELETE FROM entry WHERE rowid % 7 = 0 AND kind = ${ENTRY_KIND.file}`);
        rebuildOwnerStates(w, me.library.registry.deviceOwned);
      });
      const lost = me.library.counts().entry;
      assert.ok(lost < 1500);
      const pages = { rows: 0, byModel: new Map<string, number>() };
      countPages(me.library, pages);
      const served = new Set<string>();
      me.sync.on('applied', (e) => served.add(idKey(e.peer)));
      const backfilled = me.sync.backfillFrom(a.library.deviceId);
      await c.run(3000);
      await backfilled;
      assert.equal(me.library.counts().entry, 1500, 'repaired');
      assert.deepEqual([...served], [idKey(a.library.deviceId)], 'only the chosen peer served');
      assert.equal(pages.byModel.get('entry'), 1500);
      sameEverywhere(c, 'after backfill from a');

      await me.library.store.transaction((w) => w.run(`DELETE FROM entry WHERE rowid % 5 = 0 AND kind = ${ENTRY_KIND.file}`));
      const resynced = me.sync.fullResync();
      await c.run(3000);
      await resynced;
      assert.equal(me.library.counts().entry, 1500);
      assert.ok(me.library.backfilled);
      assert.equal(me.sync.state, 'ready');
      sameEverywhere(c, 'after a full resync');
      await assert.rejects(me.sync.backfillFrom(new Uint8Array(16)), /not connected/);
    } finally {
      await c.close();
    }
  });

  it('pages, snapshots and live batches of large notes are split to fit the frame limit', async () => {
    const c = new Cluster(109, { pruneIntervalMs: 100 });
    try {
      const [a, b, late] = [await c.add('a'), await c.add('b'), await c.add('late')];
      await c.connectAll([late]);
      const big = (i: number) => `${i} `.padEnd(60_000, 'x'); // 300 of them are ~18 MB: more than two 8 MiB frames
      // Live: one transaction of 150 notes goes out as one batch, split.
      await a.library.commitShared(Array.from({ length: 150 }, (_, i) => ({ model: 'user_metadata', op: 'create' as const, data: { workspace_key: 'ws', path: `live${i}.md`, note: big(i) } })));
      await c.run(500);
      assert.equal(b.library.counts().user_metadata, 150, 'the live batch arrived in parts');
      // Catch-up: b is away while 150 more are written.
      c.net.partition([a.library.deviceId], [b.library.deviceId]);
      await a.library.commitShared(Array.from({ length: 150 }, (_, i) => ({ model: 'user_metadata', op: 'create' as const, data: { workspace_key: 'ws', path: `away${i}.md`, note: big(i) } })));
      c.net.heal();
      await c.run(2000);
      assert.equal(b.library.counts().user_metadata, 300, 'the log pages were cut to fit');
      // Snapshot: the logs are pruned by now; a late device gets the rows in pages that fit.
      assert.equal(a.library.read((r) => a.library.log.size(r)), heads(a.library));
      await c.join(late);
      await c.run(2000);
      assert.equal(late.library.counts().user_metadata, 300, 'the snapshot pages were cut to fit');
      sameEverywhere(c, 'with large notes');
      noErrors(c.nodes);
    } finally {
      await c.close();
    }
  });

  it('concurrent edits of the same tag and note on two devices merge per field', async () => {
    const c = new Cluster(107);
    try {
      const [a, b] = [await c.add('a'), await c.add('b')];
      await c.connectAll();
      const [t] = await a.library.commitShared([{ model: 'tag', op: 'create', data: tag('todo', 'red') }]);
      const [note] = await a.library.commitShared([{ model: 'user_metadata', op: 'create', data: { workspace_key: 'ws', path: 'a.ts', note: 'first' } }]);
      await c.run(100);
      c.net.partition([a.library.deviceId], [b.library.deviceId]);
      await a.library.commitShared([{ model: 'tag', op: 'update', uuid: t.uuid, data: { name: 'from a', color: 'green' } }]);
      await c.run(5);
      await b.library.commitShared([{ model: 'tag', op: 'update', uuid: t.uuid, data: { name: 'from b' } }]);
      await a.library.commitShared([{ model: 'user_metadata', op: 'update', uuid: note.uuid, data: { note: 'edited on a' } }]);
      await b.library.commitShared([{ model: 'user_metadata', op: 'update', uuid: note.uuid, data: { favorite: true } }]);
      c.net.heal();
      await c.run(3000);
      sameEverywhere(c, 'after healing');
      const tg = b.library.read((r) => b.library.registry.sharedModel('tag').get(r, t.uuid))!;
      assert.deepEqual([tg.data.name, tg.data.color], ['from b', 'green'], 'the later name wins; the color only a set is kept');
      const md = a.library.read((r) => a.library.registry.sharedModel('user_metadata').get(r, note.uuid))!;
      assert.deepEqual([md.data.note, md.data.favorite], ['edited on a', true], 'the note from a and the favorite from b are both kept');
      noErrors(c.nodes);
    } finally {
      await c.close();
    }
  });

  it('a delete on one device while another edits the same record: it stays deleted everywhere', async () => {
    const c = new Cluster(108);
    try {
      const [a, b] = [await c.add('a'), await c.add('b')];
      await c.connectAll();
      const [t] = await a.library.commitShared([{ model: 'tag', op: 'create', data: tag('doomed') }]);
      const [note] = await a.library.commitShared([{ model: 'user_metadata', op: 'create', data: { workspace_key: 'ws', path: 'b.ts', note: 'x' } }]);
      const [as] = await a.library.commitShared([{ model: 'tag_assignment', op: 'create', data: { tag: t.uuid, workspace_key: 'ws', path: 'b.ts' } }]);
      await c.run(100);
      c.net.partition([a.library.deviceId], [b.library.deviceId]);
      await a.library.commitShared([
        { model: 'tag', op: 'delete', uuid: t.uuid },
        { model: 'user_metadata', op: 'delete', uuid: note.uuid },
      ]);
      await c.run(50);
      // b edits after the deletes (a later stamp), not knowing of them.
      await b.library.commitShared([
        { model: 'tag', op: 'update', uuid: t.uuid, data: { color: 'blue' } },
        { model: 'user_metadata', op: 'update', uuid: note.uuid, data: { note: 'still here?' } },
        { model: 'tag_assignment', op: 'delete', uuid: as.uuid },
      ]);
      c.net.heal();
      await c.run(3000);
      sameEverywhere(c, 'after healing');
      for (const n of [a, b]) {
        const tg = n.library.read((r) => n.library.registry.sharedModel('tag').get(r, t.uuid))!;
        const md = n.library.read((r) => n.library.registry.sharedModel('user_metadata').get(r, note.uuid))!;
        assert.equal(tg.live, false, `${n.name}: an edit concurrent with the delete does not revive the tag`);
        assert.equal(md.live, false, `${n.name}: nor the note`);
        assert.equal(n.library.counts().tag_assignment, 0);
      }
      noErrors(c.nodes);
    } finally {
      await c.close();
    }
  });
});

/** Digests of some of a cluster's nodes (for checks before everyone has joined). */
class ClusterView implements Replicas {
  constructor(
    private readonly c: Cluster,
    private readonly nodes: Node[],
  ) {}
  digests(): string[] {
    return this.nodes.map((n) => n.library.digest());
  }
  describe(): string {
    return this.c.describe();
  }
  differences(): string {
    return '';
  }
}
