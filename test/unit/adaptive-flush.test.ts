import assert from 'node:assert/strict';
import { adaptiveFdatasync, diskJournalIo, SHARED_FLUSH_WINDOW_MS, type FlushLane } from '../../src/store/journal';
import { TempDirs, countRows, insertMany, openStore } from '../support/store-helpers';

/** A disk whose flushes take `ms` of a fake clock, blocking or on a fake pool (calls back at once). */
function fakeDisk(lane: FlushLane = { last: null }) {
  const disk = { ms: 0.2, clock: 0, fail: null as NodeJS.ErrnoException | null, calls: [] as ('blocking' | 'background')[] };
  const flush = adaptiveFdatasync({
    lane,
    now: () => disk.clock,
    sync: () => {
      disk.calls.push('blocking');
      disk.clock += disk.ms;
      if (disk.fail) throw disk.fail;
    },
    async: (_fd, cb) => {
      disk.calls.push('background');
      disk.clock += disk.ms;
      cb(disk.fail);
    },
  });
  const run = (n: number) => {
    const errors: (Error | null)[] = [];
    for (let i = 0; i < n; i++) flush(3, (e) => errors.push(e));
    return errors;
  };
  return { disk, flush, run };
}

describe('journal flushes: blocking while the disk is fast, on the thread pool once it is slow', () => {
  const dirs = new TempDirs();
  afterEach(() => dirs.cleanup());

  it('measures the first flush on the pool, then blocks while flushes stay fast', () => {
    const { disk, run } = fakeDisk();
    run(5);
    assert.deepEqual(disk.calls, ['background', 'blocking', 'blocking', 'blocking', 'blocking']);
  });

  it('moves to the pool when flushes slow down, and back once they are fast again', () => {
    const { disk, flush, run } = fakeDisk();
    run(3);
    disk.ms = 40; // a stall, or a slow disk
    disk.calls.length = 0;
    run(3);
    assert.deepEqual(disk.calls, ['blocking', 'background', 'background'], 'one slow blocking flush is enough to stop blocking');
    disk.ms = 0.2;
    disk.calls.length = 0;
    run(40);
    assert.equal(disk.calls[0], 'background');
    assert.equal(disk.calls.at(-1), 'blocking', 'back to blocking once the average is low again');
    assert.equal(flush.counts.blocking + flush.counts.background, 46);
  });

  it('a failed blocking flush calls back with the error, as a failed background one does', () => {
    const { disk, run } = fakeDisk();
    run(2);
    disk.fail = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const errors = run(2);
    assert.deepEqual(disk.calls, ['background', 'blocking', 'blocking', 'blocking']);
    assert.equal(errors.length, 2);
    for (const e of errors) assert.equal((e as NodeJS.ErrnoException).code, 'EIO');
  });

  it('while another store of the process flushes too, flushes go to the pool (where they overlap) instead of taking turns blocking', () => {
    const lane: FlushLane = { last: null };
    const one = fakeDisk(lane);
    const two = fakeDisk(lane);
    one.run(3);
    assert.deepEqual(one.disk.calls, ['background', 'blocking', 'blocking']);
    two.disk.clock = one.disk.clock; // the same moment
    two.run(1);
    one.run(1);
    assert.deepEqual(two.disk.calls, ['background']);
    assert.equal(one.disk.calls.at(-1), 'background', 'the other store flushed just now');
    one.disk.clock += SHARED_FLUSH_WINDOW_MS + 1; // the other is quiet again
    one.run(1);
    assert.equal(one.disk.calls.at(-1), 'blocking');
  });

  it('a store on a real disk commits durably with blocking flushes: its rows are there after a reopen', async () => {
    const dir = dirs.make();
    const fdatasync = adaptiveFdatasync({ maxBlockingMs: Infinity, lane: { last: null } }); // always blocking after the first
    const { store } = await openStore(dir, { journalIo: { ...diskJournalIo(), fdatasync } });
    await insertMany(store, 20);
    assert.ok(fdatasync.counts.blocking >= 19, `flushes: ${JSON.stringify(fdatasync.counts)}`);
    await store.close();
    const { store: reopened } = await openStore(dir);
    assert.equal(countRows(reopened), 20);
    await reopened.close();
  });
});
