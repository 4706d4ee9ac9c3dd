/**
 * Acknowledged means durable, at the library level: a child commits in a
 * loop and is SIGKILLed at random points; after each kill the library
 * reopens with every acknowledged change, its log sequence without gaps or
 * reuse, its clock above everything it stamped, and no half transaction.
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
    const acked = new Set<number>();
    for (let round = 0; round < KILLS; round++) {
      const r = await runUntilKilled([child, dataDir, id], 100, 500);
      id = /^library (\S+)$/m.exec(r.out)?.[1] ?? id;
      for (const m of r.out.matchAll(/^ack (\d+)$/gm)) acked.add(Number(m[1]));

      const lib = await Library.open({ dataDir, libraryId: idFromString(id) });
      try {
        const seqs = lib.read((r) => r.rows('SELECT seq FROM peer_log WHERE origin = ? ORDER BY seq', [lib.deviceId]).map((x) => x[0] as number));
        const max = seqs.length ? seqs[seqs.length - 1] : 0;
        assert.deepEqual(seqs, Array.from({ length: max }, (_, i) => i + 1), `round ${round}: the log has gaps`);
        for (const s of acked) assert.ok(s <= max, `round ${round}: acknowledged change ${s} lost (log ends at ${max})`);
        assert.equal(lib.ownLogSeq, max, 'the log sequence continues where the log ends');
        assert.equal(lib.vector().get(idKey(lib.deviceId))?.seq ?? 0, max);
        assert.equal(lib.counts().tag, max, 'one tag per log entry: row and log entry were written together');
        const entries = lib.counts().entry;
        assert.equal(entries % 50, 0, `round ${round}: ${entries} entries is not whole transactions of 50`);
        // the clock is above every stamp it issued before the crash
        const newest = lib.read((r) => r.value('SELECT max(hlc) FROM peer_log') as Uint8Array | null);
        if (newest) assert.ok(compareHlc(lib.clock.last(), decodeHlc(newest)) >= 0);
      } finally {
        await lib.close();
      }
    }
    assert.ok(acked.size >= KILLS, `only ${acked.size} commits were acknowledged in ${KILLS} rounds`);
  });
});
