/**
 * One version of a device-owned row as bytes: what its owner's state hash
 * (owner-state.ts) adds up, so it must be the same on every device, built
 * from a received record or read back from a table. It covers everything
 * that is synced: the model, the row's uuid, its 8-byte stamp, whether it
 * is a tombstone, and each field's value in the model's field order (a
 * tombstone's non-identity fields are null, as they are stored). Local ids
 * never enter it.
 */
import type { SqlValue } from '../store';

const TAG_NULL = 0;
const TAG_BYTES = 1;
const TAG_NUMBER = 2;
const TAG_TEXT = 3;

let scratch = Buffer.alloc(64 * 1024);
let at = 0;

/** Makes room for `n` more bytes at `at`. */
function need(n: number): void {
  if (at + n <= scratch.length) return;
  const bigger = Buffer.alloc(Math.max(2 * scratch.length, at + n));
  scratch.copy(bigger, 0, 0, at);
  scratch = bigger;
}

/** The bytes of one row version (valid until the next call: hash them at once). */
export function rowVersion(model: string, uuid: Uint8Array, time: Uint8Array, deleted: boolean, values: readonly SqlValue[]): Uint8Array {
  at = 0;
  need(model.length + 64);
  at += scratch.write(model, at, 'latin1');
  scratch[at++] = 0;
  scratch.set(uuid, at);
  at += uuid.length;
  scratch.set(time, at);
  at += time.length;
  scratch[at++] = deleted ? 1 : 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      need(1);
      scratch[at++] = TAG_NULL;
    } else if (v instanceof Uint8Array) {
      need(5 + v.length);
      scratch[at++] = TAG_BYTES;
      at = scratch.writeUInt32LE(v.length, at);
      scratch.set(v, at);
      at += v.length;
    } else if (typeof v === 'number') {
      need(9);
      scratch[at++] = TAG_NUMBER;
      at = scratch.writeDoubleLE(v, at);
    } else {
      const s = String(v);
      need(5 + 3 * s.length);
      scratch[at++] = TAG_TEXT;
      const n = scratch.write(s, at + 4, 'utf8');
      scratch.writeUInt32LE(n, at);
      at += 4 + n;
    }
  }
  return scratch.subarray(0, at);
}
