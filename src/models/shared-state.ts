/**
 * What this device holds of one shared model, kept current in the same
 * transaction as every merge: how many rows, and a 128-bit multiset sum of
 * their whole stored state (stamps, liveness, every field and its stamp).
 *
 * Two devices whose version vectors are equal and that wait for nothing
 * (no parked change) hold the same rows, so their sums must match. When
 * they do not, one holds effects the other lacks (from a snapshot whose
 * base it never adopted, say, when the devices whose log had them are
 * gone): sync merges the other's rows of that model (sync/shared-catch-up.ts).
 */
import { createHash } from 'node:crypto';
import type { Reader, SqlValue, Writer } from '../store';
import { addDigest, sumBytes, sumLanes, SUM_BYTES } from './owner-state';
import { canonical } from './sql';

export interface SharedState {
  readonly model: string;
  readonly rows: number;
  readonly sum: Uint8Array;
}

function rowDigest(row: readonly SqlValue[]): Uint8Array {
  return createHash('sha256').update(row.map(canonical).join(',')).digest().subarray(0, SUM_BYTES);
}

/** Replaces `before` (a stored row, null if none) by `after` (null if none) in the model's state. */
export function updateSharedState(w: Writer, model: string, before: readonly SqlValue[] | null, after: readonly SqlValue[] | null): void {
  const cur = w.rows('SELECT rows, sum FROM shared_state WHERE model = ?', [model])[0];
  const lanes = sumLanes(cur ? (cur[1] as Uint8Array) : null);
  let rows = cur ? (cur[0] as number) : 0;
  if (before) {
    addDigest(lanes, rowDigest(before), -1);
    rows--;
  }
  if (after) {
    addDigest(lanes, rowDigest(after), 1);
    rows++;
  }
  w.run('INSERT INTO shared_state (model, rows, sum) VALUES (?, ?, ?) ON CONFLICT(model) DO UPDATE SET rows = excluded.rows, sum = excluded.sum', [model, rows, sumBytes(lanes)]);
}

/** The state computed from the rows themselves (a library from before states were kept; checks). */
export function computeSharedState(r: Reader, model: string, selectAll: string): SharedState {
  const lanes = new Int32Array(4);
  let rows = 0;
  for (const row of r.rows(selectAll)) {
    addDigest(lanes, rowDigest(row), 1);
    rows++;
  }
  return { model, rows, sum: sumBytes(lanes) };
}

export function readSharedStates(r: Reader): SharedState[] {
  return r.rows('SELECT model, rows, sum FROM shared_state ORDER BY model').map((row) => ({ model: row[0] as string, rows: row[1] as number, sum: row[2] as Uint8Array }));
}
