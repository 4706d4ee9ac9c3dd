import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Store } from '../../src/store';
import { scanJournal } from '../../src/store/journal';
import { CRASH_MIGRATIONS } from '../support/store-crash-child';
import { runUntilKilled } from '../support/crash';
import { TempDirs, journalFiles } from '../support/store-helpers';

const CHILD = path.join(__dirname, '..', 'support', 'store-crash-child.ts');
const ROUNDS = 22;

interface Round {
  acked: number[];
  stderr: string;
  killedAfterMs: number;
}

/** Runs the child until `ready`, lets it commit for a random 50–400 ms, SIGKILLs it. */
async function runChild(dir: string, split: boolean): Promise<Round> {
  const { out, stderr, killedAfterMs } = await runUntilKilled(['--import', 'tsx', CHILD, dir, split ? 'split' : 'whole']);
  const acked: number[] = [];
  for (const line of out.split('\n')) {
    const m = /^ack (\d+)$/.exec(line);
    if (m) acked.push(Number(m[1]));
  }
  return { acked, stderr, killedAfterMs };
}

describe('store: crash safety (SIGKILL)', function () {
  this.timeout(90_000);
  const tmp = new TempDirs();
  after(() => tmp.cleanup());

  it(`loses no acknowledged transaction and keeps none partially over ${ROUNDS} kills`, async () => {
    const dir = tmp.make('lsync-crash-');
    const allAcked = new Set<number>();
    let torn = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const r = await runChild(dir, round % 3 !== 0);
      assert.ok(r.acked.length > 0 || round > 0, `round ${round}: child acknowledged nothing (${r.stderr})`);
      for (const n of r.acked) allAcked.add(n);
      if (round % 6 === 3) {
        // also simulate a torn write after the kill
        // (garbage where the next record would have gone, in the preallocated space)
        const js = journalFiles(dir);
        const file = js[js.length - 1];
        const scan = scanJournal(fs.readFileSync(file), file);
        const at = scan.torn ? scan.torn.dataEnd : scan.end;
        const fd = fs.openSync(file, 'r+');
        fs.writeSync(fd, crypto.randomBytes(1 + Math.floor(Math.random() * 300)), 0, undefined, at);
        fs.closeSync(fd);
      }
      const store = await Store.open({
        dir,
        migrations: CRASH_MIGRATIONS,
        onEvent: (e) => {
          if (e.type === 'torn-tail') torn++;
        },
      });
      try {
        const bad = store.read((rd) => rd.rows('SELECT tx, count(*) FROM c GROUP BY tx HAVING count(*) <> 3'));
        assert.deepEqual(bad, [], `round ${round}: transactions with partial rows`);
        const present = new Set(store.read((rd) => rd.rows('SELECT DISTINCT tx FROM c')).map((row) => row[0] as number));
        const missing = [...allAcked].filter((n) => !present.has(n));
        assert.deepEqual(missing, [], `round ${round}: acknowledged transactions lost (killed after ${r.killedAfterMs} ms)`);
        // the pad blob identifies the transaction too
        const wrongPad = store.read((rd) => rd.value('SELECT count(*) FROM c WHERE length(pad) <> 64 + tx % 97'));
        assert.equal(wrongPad, 0);
      } finally {
        // alternate: sometimes leave the journal for the next child to replay, sometimes snapshot
        if (round % 2 === 0) await store.close();
        else await store.closeWithoutSnapshot();
      }
    }
    assert.ok(allAcked.size > ROUNDS, `only ${allAcked.size} acknowledged transactions`);
    assert.ok(torn >= 3, `torn tails recovered: ${torn}`);
    if (process.env.STORE_CRASH_DEBUG) console.log(`acked ${allAcked.size}, torn tails ${torn}`);
  });
});
