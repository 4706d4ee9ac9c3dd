import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import type { Store, StoreEvent } from '../../src/store';
import { roomLimits } from '../../src/store/livefile';
import { TempDirs, countRows, insertMany, openStore } from '../support/store-helpers';

type SnapshotEvent = Extract<StoreEvent, { type: 'snapshot' }>;

async function openWithSnapshots(dir: string): Promise<{ store: Store; snaps: SnapshotEvent[] }> {
  const snaps: SnapshotEvent[] = [];
  const { store } = await openStore(dir, {
    onEvent: (e) => {
      if (e.type === 'snapshot') snaps.push(e);
    },
  });
  return { store, snaps };
}

function integrity(store: Store): unknown {
  return store.read((r) => r.value('PRAGMA integrity_check'));
}

/** Every row of v, for comparing a database before and after a reopen. */
function dump(store: Store): string {
  const rows = store.read((r) => r.rows('SELECT id, i, t, b FROM v ORDER BY id'));
  return crypto.createHash('sha256').update(JSON.stringify(rows, (_k, x) => (x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x))).digest('hex');
}

async function insertBlobs(store: Store, n: number, size: number, start = 0): Promise<void> {
  await store.transaction((w) => {
    for (let k = start; k < start + n; k++) w.run('INSERT INTO v(i, b) VALUES (?, ?)', [k, crypto.randomBytes(size)]);
  });
}

describe('store: snapshots from the live database file', function () {
  this.timeout(30_000);
  const tmp = new TempDirs();
  const saved = { ...roomLimits };
  afterEach(() => Object.assign(roomLimits, saved));
  after(() => tmp.cleanup());

  it('writes snapshots straight from the database file, and they reopen identical', async () => {
    const dir = tmp.make();
    let { store, snaps } = await openWithSnapshots(dir);
    await insertMany(store, 50);
    await insertBlobs(store, 50, 3000, 1000);
    await store.snapshot();
    assert.equal(snaps.length, 1);
    assert.equal(snaps[0].live, true, 'no export needed');
    await insertMany(store, 10, 2000); // journal tail
    const before = dump(store);
    await store.closeWithoutSnapshot();

    ({ store, snaps } = await openWithSnapshots(dir));
    assert.equal(dump(store), before);
    assert.equal(integrity(store), 'ok');
    await insertMany(store, 10, 3000);
    await store.snapshot(); // loaded from the snapshot into a buffer of its own: live again
    assert.equal(snaps.at(-1)!.live, true);
    const after = dump(store);
    await store.close();
    ({ store } = await openWithSnapshots(dir));
    assert.equal(dump(store), after);
    assert.equal(integrity(store), 'ok');
    await store.close();
  });

  it('keeps the file in its buffer while the database grows well past its first size', async () => {
    roomLimits.minSlack = 64 * 1024;
    roomLimits.growMargin = 256 * 1024;
    const dir = tmp.make();
    const { store, snaps } = await openWithSnapshots(dir);
    for (let k = 0; k < 40; k++) await insertBlobs(store, 20, 2000, k * 20); // ~1.6 MB in 40 transactions of ~40 KB
    await store.snapshot();
    assert.equal(snaps.at(-1)!.live, true, 'the buffer grew ahead of the file: MEMFS never replaced it');
    const before = dump(store);
    await store.close();
    const { store: again } = await openWithSnapshots(dir);
    assert.equal(dump(again), before);
    assert.equal(integrity(again), 'ok');
    await again.close();
  });

  it('falls back to an export when MEMFS replaced the file, then moves the database back into a buffer of its own', async () => {
    roomLimits.minSlack = 64 * 1024;
    roomLimits.growMargin = 64 * 1024;
    const dir = tmp.make();
    let { store, snaps } = await openWithSnapshots(dir);
    await insertMany(store, 5);
    await insertBlobs(store, 300, 4000); // one transaction far larger than the room: MEMFS copies the file
    await store.snapshot();
    assert.equal(snaps.at(-1)!.live, false, 'the buffer is no longer the file: exported instead');
    assert.ok(snaps.at(-1)!.moveMs > 0, 'and moved');
    await insertMany(store, 5, 100); // statements prepared again on the moved database, journaled as usual
    await store.snapshot();
    assert.equal(snaps.at(-1)!.live, true, 'live again after the move');
    await insertMany(store, 5, 200);
    const before = dump(store);
    assert.equal(integrity(store), 'ok');
    await store.closeWithoutSnapshot();
    ({ store } = await openWithSnapshots(dir));
    assert.equal(dump(store), before);
    assert.equal(countRows(store), 315);
    assert.equal(store.seq, 1 + 5 + 1 + 5 + 5);
    await store.close();
  });

  it('notices a file shrunk by a rolled-back transaction (never writes a stale buffer)', async () => {
    roomLimits.minSlack = 64 * 1024;
    roomLimits.growMargin = 16 * 1024 * 1024; // the buffer runs far ahead of the file
    const dir = tmp.make();
    let { store, snaps } = await openWithSnapshots(dir);
    await insertMany(store, 20);
    // More than the 4 MiB page cache: SQLite writes pages past the end of the
    // file before the end of the transaction; the rollback truncates the file,
    // which makes MEMFS copy it into a new array.
    await assert.rejects(
      store.transaction((w) => {
        for (let k = 0; k < 1500; k++) w.run('INSERT INTO v(i, b) VALUES (?, ?)', [k, crypto.randomBytes(4000)]);
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    await insertMany(store, 20, 100);
    await store.snapshot();
    assert.equal(snaps.at(-1)!.live, false);
    const before = dump(store);
    await store.closeWithoutSnapshot();
    ({ store } = await openWithSnapshots(dir));
    assert.equal(dump(store), before);
    assert.equal(countRows(store), 40);
    assert.equal(integrity(store), 'ok');
    await store.close();
  });
});
