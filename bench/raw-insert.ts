/**
 * The baseline for writing entries: plain sql.js prepared inserts of the
 * same rows into the entry table alone (no journal, no stamps, no
 * bookkeeping), in transactions of one batch each. Shared by bench:store
 * and bench:sync.
 */
import { performance } from 'node:perf_hooks';
import { registry } from '../src/engine/registry';
import type { StateRecord } from '../src/models/model';
import { loadSqlJs } from '../src/store/sqljs';
import type { EntryTree } from './entries';

/** The tree's pages, reporting how long generating each took (subtracted from timed sections). */
export function* timedBatches(tree: EntryTree, size: number, took: (ms: number) => void): Generator<StateRecord[]> {
  const it = tree.batches(size);
  for (;;) {
    const t0 = performance.now();
    const next = it.next();
    took(performance.now() - t0);
    if (next.done) return;
    yield next.value;
  }
}

/** Inserts every entry of the tree, `batch` rows per transaction; returns rows per second (generating the rows not counted). */
export async function rawInsert(tree: EntryTree, batch = 1000): Promise<number> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database();
  db.exec('PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY;');
  for (const s of registry.deviceOwnedModel('entry').schema) db.exec(s);
  const stmt = db.prepare(
    'INSERT INTO entry (uuid, owner_no, hlc, deleted, location_id, parent_id, name, kind, size, mtime) VALUES (?, 1, ?, 0, 1, ?, ?, ?, ?, ?)',
  );
  const ids = new Map<number, number>();
  let rowid = 0;
  let genMs = 0;
  let i = 0;
  const t0 = performance.now();
  for (const rows of timedBatches(tree, batch, (ms) => (genMs += ms))) {
    db.exec('BEGIN');
    for (const r of rows) {
      const d = r.data;
      const parentIndex = d.parent ? Math.floor((i - 1) / 20 / 20) * 20 : -1;
      stmt.run([r.uuid, tree.timeOf(r), parentIndex >= 0 ? ids.get(parentIndex) ?? null : null, d.name as string, d.kind as number, d.size as number, d.mtime as number]);
      rowid++;
      if (d.kind === 1) ids.set(i, rowid);
      i++;
    }
    db.exec('COMMIT');
  }
  const ms = performance.now() - t0 - genMs;
  stmt.free();
  db.close();
  return tree.total / (ms / 1000);
}
