import assert from 'node:assert/strict';
import { idKey } from '../../src/core/ids';
import { Library } from '../../src/engine/library';
import type { SharedChange } from '../../src/models/model';
import { cleanupTempDirs, tempDir } from '../support/tmp';

const tag = (name: string) => ({ model: 'tag', op: 'create' as const, data: { name, color: null, icon: null, description: null, namespace: null } });

async function threeDevices(): Promise<Library[]> {
  const dir = tempDir();
  const a = await Library.create({ dataDir: `${dir}/a`, name: 'l' });
  const b = await Library.create({ dataDir: `${dir}/b`, name: 'l', libraryId: a.id });
  const c = await Library.create({ dataDir: `${dir}/c`, name: 'l', libraryId: a.id });
  return [a, b, c];
}

describe('peer log', () => {
  let libs: Library[] = [];
  afterEach(async () => {
    for (const l of libs) await l.close();
    libs = [];
  });
  after(cleanupTempDirs);

  it('numbers own changes 1, 2, 3 in the log and the version vector, under an origin of this run', async () => {
    const [a] = (libs = await threeDevices());
    const changes = await a.commitShared([tag('x'), tag('y'), tag('z')]);
    assert.deepEqual(changes.map((c) => c.seq), [1, 2, 3]);
    const v = a.vector().get(idKey(a.origin))!;
    assert.equal(v.seq, 3);
    assert.deepEqual(v.hlc, changes[2].hlc);
  });

  it('the vector advances only over contiguous changes: a gap is never skipped', async () => {
    const [a, b] = (libs = await threeDevices());
    const [c1, , c3] = await a.commitShared([tag('1'), tag('2'), tag('3')]);
    await b.applyShared([c1, c3]); // c2 dropped
    assert.equal(b.vector().get(idKey(a.origin))!.seq, 1);
    assert.equal(b.counts().tag, 2, 'c3 is applied even though c2 is missing');
    // asking a for what b lacks returns c2 (and c3 again, harmlessly)
    const have = new Map([[idKey(a.origin), 1]]);
    const page = a.changesSince(have, 10);
    assert.deepEqual(page.changes.map((c) => c.seq), [2, 3]);
    const r = await b.applyShared(page.changes);
    assert.equal(r.stale, 1, 'c3 was a duplicate');
    assert.equal(b.vector().get(idKey(a.origin))!.seq, 3);
  });

  it('pages with hasMore and relays other origins’ changes', async () => {
    const [a, b, c] = (libs = await threeDevices());
    await a.commitShared([tag('1'), tag('2'), tag('3')]);
    await b.applyShared(a.changesSince(new Map(), 10).changes);
    await b.commitShared([tag('b1')]);
    const first = b.changesSince(new Map(), 2);
    assert.equal(first.changes.length, 2);
    assert.ok(first.hasMore);
    await c.applyShared(first.changes);
    let have = new Map([...c.vector()].map(([k, v]) => [k, v.seq]));
    const rest = b.changesSince(have, 10);
    assert.equal(rest.hasMore, false);
    await c.applyShared(rest.changes);
    assert.equal(c.counts().tag, 4);
    have = new Map([...c.vector()].map(([k, v]) => [k, v.seq]));
    assert.equal(b.changesSince(have, 10).changes.length, 0);
  });

  it('prunes only what every partner acked; a partner that never acked counts as zero', async () => {
    const [a, b, c] = (libs = await threeDevices());
    await a.commitShared([tag('1'), tag('2'), tag('3'), tag('4')]);
    assert.equal(await a.prune(), 0, 'no partners yet: nothing is pruned');
    await a.addPartner(b.deviceId, 'b');
    await a.addPartner(c.deviceId, 'c');
    await a.recordAcks(b.deviceId, [{ origin: a.origin, seq: 4 }]);
    assert.equal(await a.prune(), 0, 'c never acked');
    await a.recordAcks(c.deviceId, [{ origin: a.origin, seq: 2 }]);
    await a.recordAcks(c.deviceId, [{ origin: a.origin, seq: 1 }]); // acks never move back
    assert.equal(await a.prune(), 2);
    assert.equal(a.read((r) => a.log.size(r)), 2);
    // the pruned range is reported so a lagging peer gets a snapshot instead
    const page = a.changesSince(new Map([[idKey(a.origin), 1]]), 10);
    assert.deepEqual(page.pruned.map(idKey), [idKey(a.origin)]);
    assert.equal(page.changes.length, 0);
    const ok = a.changesSince(new Map([[idKey(a.origin), 2]]), 10);
    assert.deepEqual(ok.changes.map((ch: SharedChange) => ch.seq), [3, 4]);
    // pruning the log does not change any row (rows carry their own stamps)
    const before = a.digest();
    await a.recordAcks(c.deviceId, [{ origin: a.origin, seq: 4 }]);
    assert.equal(await a.prune(), 1, 'the newest change of an origin stays: it proves a snapshot base');
    assert.deepEqual(a.changesSince(new Map([[idKey(a.origin), 3]]), 10).changes.map((ch: SharedChange) => ch.seq), [4]);
    assert.equal(a.digest(), before);
    // an unpaired partner's acks no longer hold pruning back
    await a.commitShared([tag('5')]);
    await a.removePartner(c.deviceId);
    await a.recordAcks(b.deviceId, [{ origin: a.origin, seq: 5 }]);
    assert.equal(await a.prune(), 1);
  });

  it('keeps a change that waits for its parent in the log, and a snapshot base stops below it', async () => {
    const [a, b, c] = (libs = await threeDevices());
    const [t] = await a.commitShared([tag('parent')]);
    const [as1] = await b.applyShared([]).then(() =>
      c.commitShared([{ model: 'tag_assignment', op: 'create', data: { tag: t.uuid, workspace_key: 'ws', path: 'x' } }]).then(() => []),
    );
    void as1;
    // c's assignment reaches b before a's tag: it is parked on b.
    const cChanges = c.changesSince(new Map(), 10).changes;
    await b.applyShared(cChanges);
    assert.equal(b.parkedCount(), 1);
    await b.addPartner(a.deviceId);
    await b.recordAcks(a.deviceId, [{ origin: c.origin, seq: 1 }]);
    assert.equal(await b.prune(), 0, 'acked by everyone, but not applied yet: kept');
    assert.deepEqual(
      b.snapshotBase().map((x) => [idKey(x.origin), x.seq]),
      [[idKey(c.origin), 0]],
      'a snapshot cannot vouch for a parked change',
    );
    await b.applyShared([t]);
    assert.equal(b.parkedCount(), 0);
    assert.deepEqual(
      b.snapshotBase().filter((x) => idKey(x.origin) === idKey(c.origin)).map((x) => x.seq),
      [1],
      'applied: the base names it',
    );
    assert.equal(await b.prune(), 0, 'and it stays, the newest change of its origin, to prove that base');
  });

  it('a partner away longer than the bound no longer holds the log back', async () => {
    let now = 1_700_000_000_000;
    const dir = tempDir();
    const a = await Library.create({ dataDir: `${dir}/a`, name: 'l', now: () => now });
    const b = await Library.create({ dataDir: `${dir}/b`, name: 'l', libraryId: a.id });
    libs = [a, b];
    await a.addPartner(b.deviceId);
    await a.commitShared([tag('1'), tag('2')]);
    assert.equal(await a.prune({ absentAfterMs: 60_000 }), 0, 'b was added just now');
    now += 61_000;
    assert.equal(await a.prune(), 0, 'without a bound: wait for b however long');
    assert.equal(await a.prune({ absentAfterMs: 60_000 }), 1, 'all but the newest, which proves a snapshot base');
    const [three] = await a.commitShared([tag('3')]);
    await a.recordAcks(b.deviceId, []); // heard from again
    assert.ok(a.partners()[0].lastSeen === now);
    assert.equal(await a.prune({ absentAfterMs: 60_000 }), 1, 'b is back, but has not acknowledged what it lacked for longer than the bound: it does not hold the log back yet');
    await a.recordAcks(b.deviceId, [{ origin: three.hlc.device, seq: three.seq }]);
    await a.commitShared([tag('4'), tag('5')]);
    assert.equal(await a.prune({ absentAfterMs: 60_000 }), 1, 'what it acknowledged goes');
    assert.equal(a.read((r) => a.log.size(r)), 2, 'once it acknowledges, it holds the log again: 4 is kept for it (5 is the head)');
  });

  it('adopting a snapshot base moves the vector up, drops what it covers, and closes gaps above it', async () => {
    const [a, b] = (libs = await threeDevices());
    const ch = await a.commitShared([tag('1'), tag('2'), tag('3'), tag('4'), tag('5')]);
    await b.applyShared([ch[0], ch[3], ch[4]]);
    assert.equal(b.vector().get(idKey(a.origin))!.seq, 1);
    // Proven by a's signed change at seq 3 (the head the partner sends with the base).
    assert.deepEqual(await b.adoptSnapshot([{ origin: a.origin, seq: 3 }], [ch[2]]), { unproven: [] });
    const v = b.vector().get(idKey(a.origin))!;
    assert.deepEqual([v.seq, v.pruned], [5, 2], 'held 4 and 5 already: contiguous to 5, entries below 3 not held');
    assert.equal(b.read((r) => b.log.size(r)), 3, '4, 5 and the head at 3, kept to prove the base to others');
    assert.deepEqual(b.changesSince(new Map(), 10).pruned.map(idKey), [idKey(a.origin)], 'asks below it get a snapshot in turn');
    // A base below what is held changes nothing; a base for one of its own earlier origins does not touch this run's numbers.
    await b.adoptSnapshot([{ origin: a.origin, seq: 2 }, { origin: b.deviceId, seq: 7 }], []);
    assert.equal(b.vector().get(idKey(a.origin))!.seq, 5);
    const [mine] = await b.commitShared([tag('b')]);
    assert.deepEqual([idKey(mine.hlc.device), mine.seq], [idKey(b.origin), 1], 'a new run numbers from 1 under an origin no peer can hold yet');
  });

  it("a snapshot base moves the vector only as far as the origin's own signed change proves (issue 12)", async () => {
    const [a, b, c] = (libs = await threeDevices());
    const ch = await a.commitShared([tag('1'), tag('2')]);
    // No proof, a proof of another seq, a proof from another origin, a forged proof: none moves b's vector for a.
    const [other] = await c.commitShared([tag('c')]);
    const forged = { ...ch[1], seq: 1_000_000_000 };
    for (const [base, heads] of [
      [[{ origin: a.origin, seq: 1_000_000_000 }], []],
      [[{ origin: a.origin, seq: 1_000_000_000 }], [ch[1]]],
      [[{ origin: a.origin, seq: 1 }], [other]],
      [[{ origin: a.origin, seq: 1_000_000_000 }], [forged]],
    ] as const) {
      assert.deepEqual((await b.adoptSnapshot(base, heads)).unproven.map(idKey), [idKey(a.origin)]);
      assert.equal(b.vector().get(idKey(a.origin))?.seq ?? 0, 0);
    }
    // a's real changes still apply.
    assert.equal((await b.applyShared(ch)).shared.length, 2);
  });
});
