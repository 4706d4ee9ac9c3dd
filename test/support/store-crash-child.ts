/**
 * Child process for the store crash test: commits forever on the store in
 * argv[2], printing `ack <n>` after each transaction's promise resolved.
 * Each transaction n inserts 3 rows (n, 0..2). Mixes single awaited commits
 * and concurrent bursts. The parent SIGKILLs it at random times. With
 * argv[3] === 'split', journal writes are split in two with a pause between.
 */
import * as fs from 'node:fs';
import { Store, type Writer } from '../../src/store';

export const CRASH_MIGRATIONS = [
  {
    version: 1,
    name: 'crash',
    statements: ['CREATE TABLE c(tx INTEGER NOT NULL, k INTEGER NOT NULL, pad BLOB, PRIMARY KEY (tx, k))'],
  },
];

function insert3(w: Writer, n: number): void {
  const pad = new Uint8Array(64 + (n % 97));
  pad.fill(n & 0xff);
  for (let k = 0; k < 3; k++) w.run('INSERT INTO c(tx, k, pad) VALUES (?, ?, ?)', [n, k, pad]);
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  const store = await Store.open({ dir, migrations: CRASH_MIGRATIONS, snapshotJournalBytes: 128 * 1024 });
  if (process.argv[3] === 'split') {
    // Write every batch in two pieces with a pause in between, so that kills
    // land in the middle of records (a torn tail), as a power loss could.
    const io = store.journalForTesting.io;
    store.journalForTesting.io = {
      ...io,
      writev: (fd, bufs, position, cb) => {
        const all = Buffer.concat(bufs);
        const cut = 1 + Math.floor(Math.random() * (all.length - 1));
        fs.write(fd, all, 0, cut, position, (err, first) => {
          if (err) return cb(err, 0);
          setTimeout(
            () => fs.write(fd, all, first, all.length - first, position + first, (err2, second) => cb(err2, first + second)),
            1,
          );
        });
      },
    };
  }
  let n = ((store.read((r) => r.value('SELECT max(tx) FROM c')) as number | null) ?? 0) + 1;
  const out = (s: string): void => void process.stdout.write(s);
  out('ready\n');
  for (;;) {
    if (Math.random() < 0.4) {
      const k = n++;
      await store.transaction((w) => insert3(w, k));
      out(`ack ${k}\n`);
    } else {
      const size = 2 + Math.floor(Math.random() * 40);
      const ps: Promise<void>[] = [];
      for (let i = 0; i < size; i++) {
        const k = n++;
        ps.push(store.transaction((w) => insert3(w, k)).then(() => out(`ack ${k}\n`)));
      }
      await Promise.all(ps);
    }
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`crash child failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
