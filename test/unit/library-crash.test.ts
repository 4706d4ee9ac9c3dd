/**
 * Acknowledged means durable, at the library level: a child commits in a
 * loop and is SIGKILLed at random points; after each kill the library
 * reopens with every acknowledged change, each run's log sequence without
 * gaps, a new origin for the next run's changes, its clock above everything
 * it stamped, and no half transaction.
 */
import assert from 'node:assert/strict';
import { idFromString, idKey } from '../../src/core/ids';
import { Library } from '../../src/engine/library';
import { compareHlc, decodeHlc } from '../../src/core/hlc';
import { bundleForTest } from '../support/bundle';
import { runUntilKilled } from '../support/crash';
import { cleanupTempDirs, tempDir } from '../support/tmp';

const KILLS = 20;

describe('library: crash safety (SIGKILL)', function () {
  this.timeout(120_000);
  after(cleanupTempDirs);

  it(`keeps every acknowledged change and no partial transaction over ${KILLS} kills`, async () => {
    // Bundle the child once: starting it is then quick enough for 20 rounds.
    const child = await bundleForTest('test/support/library-crash-child.ts', 'child.js');
    const dataDir = tempDir();
    let id = 'new';
    /** origin (hex) → acknowledged seqs */
    const acked = new Map<string, Set<number>>();
    let ackCount = 0;
    for (let round = 0; round < KILLS; round++) {
      const r = await runUntilKilled([child, dataDir, id], 100, 500);
      id = /^library (\S+)$/m.exec(r.out)?.[1] ?? id;
      for (const m of r.out.matchAll(/^ack ([0-9a-f]{32}) (\d+)$/gm)) {
        if (!acked.has(m[1])) acked.set(m[1], new Set());
        acked.get(m[1])!.add(Number(m[2]));
        ackCount++;
      }

      const lib = await Library.open({ dataDir, libraryId: idFromString(id) });
      try {
        let entries_ = 0;
        for (const origin of lib.read((r) => r.rows('SELECT DISTINCT origin FROM peer_log').map((x) => x[0] as Uint8Array))) {
          const seqs = lib.read((r) => r.rows('SELECT seq FROM peer_log WHERE origin = ? ORDER BY seq', [origin]).map((x) => x[0] as number));
          const max = seqs.length ? seqs[seqs.length - 1] : 0;
          assert.deepEqual(seqs, Array.from({ length: max }, (_, i) => i + 1), `round ${round}: the log of a run has gaps`);
          for (const s of acked.get(idKey(origin)) ?? []) assert.ok(s <= max, `round ${round}: acknowledged change ${s} lost (log ends at ${max})`);
          assert.equal(lib.vector().get(idKey(origin))?.seq ?? 0, max);
          entries_ += max;
        }
        for (const [origin, seqs] of acked) assert.ok(seqs.size === 0 || lib.vector().has(origin), `round ${round}: a run's acknowledged changes are gone`);
        assert.ok(!lib.vector().has(idKey(lib.origin)), 'this run numbers under an origin no earlier run used');
        assert.equal(lib.counts().tag, entries_, 'one tag per log entry: row and log entry were written together');
        const entries = lib.counts().entry;
        assert.equal(entries % 50, 0, `round ${round}: ${entries} entries is not whole transactions of 50`);
        // the clock is above every stamp it issued before the crash
        const newest = lib.read((r) => r.value('SELECT max(hlc) FROM peer_log') as Uint8Array | null);
        if (newest) assert.ok(compareHlc(lib.clock.last(), decodeHlc(newest)) >= 0);
      } finally {
        await lib.close();
      }
    }
    assert.ok(ackCount >= KILLS, `only ${ackCount} commits were acknowledged in ${KILLS} rounds`);
  });
});
