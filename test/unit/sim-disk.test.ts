/**
 * The simulator's disk (test/sim/sim-disk.ts): what a power loss leaves of
 * the journal is what completed fdatasyncs made durable; a torn tail keeps
 * whole records and part of the next; a full disk fails writes; and a store
 * on it reopens after any of these with every acknowledged commit.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Store } from '../../src/store';
import { Random } from '../support/random';
import { SimDisk } from '../sim/sim-disk';
import { VirtualClock } from '../sim/virtual-clock';
import { cleanupTempDirs, tempDir } from '../support/tmp';

function sync(disk: SimDisk, fd: number): Promise<void> {
  return new Promise((res, rej) => disk.fdatasync(fd, (e) => (e ? rej(e) : res())));
}
function writev(disk: SimDisk, fd: number, bufs: Buffer[], at: number): Promise<number> {
  return new Promise((res, rej) => disk.writev(fd, bufs, at, (e, n) => (e ? rej(e) : res(n))));
}

describe('simulator: disk', () => {
  after(cleanupTempDirs);

  it('fsyncs complete on the virtual clock; a power loss zeroes what none made durable', async () => {
    const clock = new VirtualClock();
    const disk = new SimDisk(clock, new Random(1), 3);
    const file = path.join(tempDir(), 'journal-00000001.log');
    const fd = fs.openSync(file, 'w+');
    try {
      await writev(disk, fd, [Buffer.from('aaaa')], 0);
      let synced = false;
      const p = sync(disk, fd).then(() => (synced = true));
      assert.equal(disk.syncing, true);
      await writev(disk, fd, [Buffer.from('bbbb')], 4); // after the sync was issued: not covered by it
      while (!synced) {
        clock.step();
        await p.catch(() => undefined);
      }
      assert.equal(disk.clean, false);
      const loss = disk.powerLoss();
      assert.deepEqual(loss, { files: 1, lostBytes: 4, keptBytes: 0 });
      assert.equal(fs.readFileSync(file).toString('latin1'), 'aaaa\0\0\0\0');
      assert.equal(disk.clean, true);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a sync in flight when the power goes never completes; a torn tail keeps whole records, then part of one', async () => {
    const clock = new VirtualClock();
    const disk = new SimDisk(clock, new Random(2), 3);
    const dir = tempDir();
    const kept = new Set<number>();
    for (let round = 0; round < 40; round++) {
      const file = path.join(dir, `j${round}.log`);
      const fd = fs.openSync(file, 'w+');
      try {
        await writev(disk, fd, [Buffer.alloc(10, 1), Buffer.alloc(10, 2), Buffer.alloc(10, 3)], 0);
        const p = sync(disk, fd);
        const loss = disk.powerLoss(new Random(round));
        await assert.rejects(
          (async () => {
            while (clock.step());
            await p;
          })(),
          /EIO/,
        );
        kept.add(loss.keptBytes);
        const bytes = fs.readFileSync(file);
        assert.equal(bytes.subarray(loss.keptBytes).every((b) => b === 0), true, 'nothing after the cut');
      } finally {
        fs.closeSync(fd);
      }
    }
    assert.ok([0, 10, 20, 30].every((k) => kept.has(k)), `whole records kept: ${[...kept].sort((a, b) => a - b)}`);
    assert.ok([...kept].some((k) => k % 10 !== 0), 'and sometimes part of the next');
  });

  it('a full disk fails journal writes with ENOSPC: the store fails, and reopens with what was acknowledged', async () => {
    const clock = new VirtualClock();
    const disk = new SimDisk(clock, new Random(3), 3);
    const dir = tempDir();
    const migrations = [{ version: 1, name: 't', statements: ['CREATE TABLE t (x INTEGER)'] }];
    disk.instant = true;
    const store = await Store.open({ dir, migrations, journalIo: disk });
    disk.instant = false;
    const acked: number[] = [];
    const done: Promise<unknown>[] = [];
    for (let i = 1; i <= 5; i++) done.push(store.transaction((w) => w.run('INSERT INTO t VALUES (?)', [i])).then(() => acked.push(i), () => undefined));
    await new Promise((r) => setImmediate(r));
    while (acked.length < 5 && clock.step()) await new Promise((r) => setImmediate(r));
    disk.full = true;
    await assert.rejects(store.transaction((w) => w.run('INSERT INTO t VALUES (6)')), /ENOSPC/);
    await assert.rejects(store.transaction((w) => w.run('INSERT INTO t VALUES (7)')));
    assert.equal(disk.stats.enospc > 0, true);
    store.crashForTesting();
    disk.full = false;
    disk.powerLoss();
    const again = await Store.open({ dir, migrations, journalIo: disk });
    try {
      assert.deepEqual(
        again.read((r) => r.rows('SELECT x FROM t ORDER BY x').map((row) => row[0])),
        [1, 2, 3, 4, 5],
      );
    } finally {
      again.crashForTesting();
    }
  });
});
