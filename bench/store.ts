/**
 * bench:store — the durable store and the engine's write paths at library
 * scale, each figure beside its baseline measured in the same run.
 * Last line: one JSON object. BENCH_N scales the library (default 1,000,000).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { Library } from '../src/engine/library';
import { loadSqlJs } from '../src/store/sqljs';
import { EntryTree } from './entries';
import { registry } from '../src/engine/registry';

const N = Number(process.env.BENCH_N ?? 1_000_000);
const BATCH = 1000;
const COMMIT_SECONDS = Number(process.env.BENCH_COMMIT_SECONDS ?? 2);
const root = mkdtempSync(path.join(os.tmpdir(), 'lls-bench-store-'));
const say = (s: string) => process.stdout.write(s + '\n');
const tagData = (i: number) => ({ name: `tag ${i}`, color: 'red', icon: null, description: null, namespace: null });

async function rawInsert(tree: EntryTree): Promise<number> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database();
  db.exec('PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY;');
  for (const s of registry.deviceOwnedModel('entry').schema) db.exec(s);
  const stmt = db.prepare(
    'INSERT INTO entry (uuid, owner_no, hlc, deleted, location_id, parent_id, name, kind, size, mtime) VALUES (?, 1, ?, 0, 1, ?, ?, ?, ?, ?)',
  );
  const ids = new Map<number, number>();
  let rowid = 0;
  const t0 = performance.now();
  let i = 0;
  for (const batch of tree.batches(BATCH)) {
    db.exec('BEGIN');
    for (const r of batch) {
      const d = r.data;
      const parentIndex = d.parent ? Math.floor((i - 1) / 20 / 20) * 20 : -1;
      stmt.run([r.uuid, tree.timeOf(r), parentIndex >= 0 ? ids.get(parentIndex) ?? null : null, d.name as string, d.kind as number, d.size as number, d.mtime as number]);
      rowid++;
      if (d.kind === 1) ids.set(i, rowid);
      i++;
    }
    db.exec('COMMIT');
  }
  const rate = N / ((performance.now() - t0) / 1000);
  stmt.free();
  db.close();
  return rate;
}

async function commitLoop(lib: Library, concurrency: number): Promise<number> {
  let n = 0;
  const deadline = performance.now() + COMMIT_SECONDS * 1000;
  const t0 = performance.now();
  const worker = async () => {
    while (performance.now() < deadline) {
      await lib.commitShared([{ model: 'tag', op: 'create', data: tagData(n) }]);
      n++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return n / ((performance.now() - t0) / 1000);
}

function nativeCommits(): number {
  const db = new Database(path.join(root, 'native.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const tag = registry.sharedModel('tag');
  for (const s of tag.schema) db.exec(s);
  db.exec('CREATE TABLE peer_log (origin BLOB NOT NULL, seq INTEGER NOT NULL, hlc BLOB NOT NULL, model TEXT NOT NULL, uuid BLOB NOT NULL, op INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (origin, seq)) WITHOUT ROWID');
  const insTag = db.prepare(
    'INSERT INTO tag (uuid, hlc, created_hlc, live, name, name_hlc, color, color_hlc, icon, icon_hlc, description, description_hlc, namespace, namespace_hlc) VALUES (?, ?, ?, 1, ?, ?, ?, ?, NULL, ?, NULL, ?, NULL, ?)',
  );
  const insLog = db.prepare('INSERT INTO peer_log (origin, seq, hlc, model, uuid, op, data) VALUES (?, ?, ?, ?, ?, 0, ?)');
  const origin = Buffer.alloc(16, 1);
  const tx = db.transaction((i: number) => {
    const uuid = Buffer.alloc(16);
    uuid.writeUInt32BE(i);
    const hlc = Buffer.alloc(24);
    hlc.writeUInt32BE(i, 4);
    insTag.run(uuid, hlc, hlc, `tag ${i}`, hlc, 'red', hlc, hlc, hlc, hlc);
    insLog.run(origin, i + 1, hlc, 'tag', uuid, tag.codec.encode(tagData(i)));
  });
  let n = 0;
  const t0 = performance.now();
  const deadline = t0 + COMMIT_SECONDS * 1000;
  while (performance.now() < deadline) tx(n++);
  const rate = n / ((performance.now() - t0) / 1000);
  db.close();
  return rate;
}

async function main(): Promise<void> {
  const tree = new EntryTree(N);
  say(`bench:store — ${N.toLocaleString()} entries, batches of ${BATCH}, ${os.cpus().length} cores, Node ${process.version}`);

  const rawInsertRowsPerSec = await rawInsert(tree);
  say(`raw sql.js prepared inserts (baseline) ${Math.round(rawInsertRowsPerSec).toLocaleString()} rows/s`);

  const dataDir = path.join(root, 'lib');
  let lib = await Library.create({ dataDir, name: 'bench', now: () => Date.now() + 10 * 365 * 86400_000 });
  const { device, location } = tree.parents();
  await lib.applyState('device', [device]);
  await lib.applyState('location', [location]);
  let t0 = performance.now();
  for (const batch of tree.batches(BATCH)) {
    const r = await lib.applyState('entry', batch);
    if (r.applied !== batch.length) throw new Error(`applied ${r.applied} of ${batch.length}`);
  }
  const applyRowsPerSec = N / ((performance.now() - t0) / 1000);
  say(`apply remote entry state (durable, all bookkeeping) ${Math.round(applyRowsPerSec).toLocaleString()} rows/s  = ${(applyRowsPerSec / rawInsertRowsPerSec).toFixed(2)} × raw (target ≥ 0.75)`);
  if (lib.counts().entry !== N) throw new Error(`expected ${N} entries, have ${lib.counts().entry}`);

  const commitsPerSec = await commitLoop(lib, 1);
  const nativeCommitsPerSec = nativeCommits();
  say(`durable 1-row shared commits, one at a time ${Math.round(commitsPerSec).toLocaleString()}/s (target ≥ 2500); better-sqlite3 WAL synchronous=FULL ${Math.round(nativeCommitsPerSec).toLocaleString()}/s`);
  const groupCommitsPerSec = await commitLoop(lib, 64);
  say(`durable 1-row shared commits, 64 concurrent (group commit) ${Math.round(groupCommitsPerSec).toLocaleString()}/s (target ≥ 8000)`);

  // Reopen from snapshot + journal: snapshot now, then leave a journal tail behind.
  const id = lib.id;
  await lib.store.snapshot();
  for (let i = 0; i < 200; i++) await lib.commitShared([{ model: 'tag', op: 'create', data: tagData(i) }]);
  await lib.store.closeWithoutSnapshot(); // as after a crash: the journal tail is replayed on open
  t0 = performance.now();
  lib = await Library.open({ dataDir, libraryId: id, now: () => Date.now() + 10 * 365 * 86400_000 });
  const openMs = performance.now() - t0;
  const entries = lib.counts().entry;
  await lib.close();
  if (entries !== N) throw new Error(`reopened with ${entries} entries`);
  say(`open ${N.toLocaleString()}-entry library from snapshot + journal ${openMs.toFixed(0)} ms (target ≤ 500)`);

  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  say(`peak RSS ${peakRssMB.toFixed(0)} MB (target ≤ 400)`);
  rmSync(root, { recursive: true, force: true });
  const round = (x: number) => Math.round(x);
  process.stdout.write(
    JSON.stringify({
      entries: N,
      commitsPerSec: round(commitsPerSec),
      nativeCommitsPerSec: round(nativeCommitsPerSec),
      groupCommitsPerSec: round(groupCommitsPerSec),
      applyRowsPerSec: round(applyRowsPerSec),
      rawInsertRowsPerSec: round(rawInsertRowsPerSec),
      applyVsRaw: Number((applyRowsPerSec / rawInsertRowsPerSec).toFixed(3)),
      openMs: round(openMs),
      peakRssMB: round(peakRssMB),
    }) + '\n',
  );
}

main().catch((e) => {
  rmSync(root, { recursive: true, force: true });
  console.error(e);
  process.exit(1);
});
