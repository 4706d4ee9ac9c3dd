/**
 * What this device holds of one owner's rows of one device-owned model,
 * kept current in the same transaction as every change to those rows:
 *
 * - rows: how many (tombstones included; a directory stub is not a row);
 * - live: how many are not deleted;
 * - newest: the newest stamp among them (8-byte HLC time);
 * - hash: the LtHash (core/lthash.ts) of every row version held, each as
 *   row-version.ts encodes it (every synced field): two holders of the
 *   same rows get the same hash whatever the order they learned them in,
 *   and no one can make a different set of rows that has the same hash;
 * - sum: 16 bytes of its digest, which a Hello carries.
 *
 * Two devices that both hold an owner's rows complete up to the same
 * newest stamp must have the same sum; when they do not, one of them holds
 * rows the other lacks (a device restored from an old copy of its data,
 * whose peers hold rows it wrote after that copy was made), and sync pulls
 * the whole set to merge it (see sync/backfill.ts). The owner signs the
 * digest of its hashes (owner-seal.ts), so any device can check that what
 * it holds of an owner is exactly what the owner wrote, whoever relayed it.
 */
import { LtHash } from '../core/lthash';
import type { Id } from '../core/ids';
import { idKey } from '../core/ids';
import type { Reader, SqlValue, Writer } from '../store';

export const SUM_BYTES = 16;

export interface OwnerState {
  readonly owner: Id;
  readonly model: string;
  readonly rows: number;
  readonly live: number;
  /** 8-byte HLC time of the newest row held (tombstones included); null if none. */
  readonly newest: Uint8Array | null;
  readonly sum: Uint8Array;
  /** The LtHash of the rows (2 KB). */
  readonly hash: Uint8Array;
}

function newer(a: Uint8Array | null, b: Uint8Array | null): Uint8Array | null {
  if (!a) return b;
  if (!b) return a;
  for (let i = 0; i < 8; i++) if (a[i] !== b[i]) return a[i] > b[i] ? a : b;
  return a;
}

/** The 16-byte sum a Hello carries for an owner state's hash. */
export function sumOfHash(hash: LtHash): Uint8Array {
  return hash.digest().subarray(0, SUM_BYTES);
}

interface Pending {
  owner: Id;
  rows: number;
  live: number;
  hash: LtHash;
  newest: Uint8Array | null;
  /** A row was removed for good (not replaced by a newer version): the newest may have gone with it. */
  shrank: boolean;
}

/**
 * The changes one apply makes to owner states, gathered per owner and
 * written once at the end (`flush`).
 */
export class OwnerStateDelta {
  private readonly owners = new Map<string, Pending>();

  constructor(readonly model: string) {}

  private of(owner: Id, key = idKey(owner)): Pending {
    let p = this.owners.get(key);
    if (!p) this.owners.set(key, (p = { owner, rows: 0, live: 0, hash: new LtHash(), newest: null, shrank: false }));
    return p;
  }

  /** A row version (its row-version.ts bytes) is now held. */
  add(owner: Id, version: Uint8Array, time: Uint8Array, deleted: boolean, ownerKey?: string): void {
    const p = this.of(owner, ownerKey);
    p.rows++;
    if (!deleted) p.live++;
    p.hash.add(version);
    p.newest = newer(p.newest, time);
  }

  /** A row version is no longer held (`gone`: the row itself went, not replaced by a newer version). */
  remove(owner: Id, version: Uint8Array, deleted: boolean, gone = false, ownerKey?: string): void {
    const p = this.of(owner, ownerKey);
    p.rows--;
    if (!deleted) p.live--;
    p.hash.remove(version);
    if (gone) p.shrank = true;
  }

  get empty(): boolean {
    return this.owners.size === 0;
  }

  /**
   * Writes the gathered changes. `newestOf` gives an owner's newest stamp
   * from its rows, for an owner that lost rows for good.
   */
  flush(w: Writer, newestOf: (owner: Id) => Uint8Array | null): void {
    for (const p of this.owners.values()) {
      const cur = w.rows('SELECT rows, live, newest, hash FROM owner_state WHERE owner = ? AND model = ?', [p.owner, this.model])[0];
      const hash = new LtHash(cur ? (cur[3] as Uint8Array | null) : null);
      hash.combine(p.hash);
      const rows = (cur ? (cur[0] as number) : 0) + p.rows;
      const live = (cur ? (cur[1] as number) : 0) + p.live;
      const newest = p.shrank ? newestOf(p.owner) : newer(cur ? ((cur[2] as Uint8Array | null) ?? null) : null, p.newest);
      if (rows === 0) w.run('DELETE FROM owner_state WHERE owner = ? AND model = ?', [p.owner, this.model]);
      else
        w.run(
          'INSERT INTO owner_state (owner, model, rows, live, newest, sum, hash) VALUES (?, ?, ?, ?, ?, ?, ?) ' +
            'ON CONFLICT(owner, model) DO UPDATE SET rows = excluded.rows, live = excluded.live, newest = excluded.newest, sum = excluded.sum, hash = excluded.hash',
          [p.owner, this.model, rows, live, newest, sumOfHash(hash), hash.bytes()],
        );
    }
    this.owners.clear();
  }
}

/** What a model gives to compute owner states from its rows: each row version held. */
export interface RowScanner {
  readonly name: string;
  scanRows(r: Reader, add: (owner: Id, version: Uint8Array, time: Uint8Array, deleted: boolean) => void): void;
}

/**
 * Owner states computed from the rows themselves (not from what was kept):
 * to build them for a library from before they were kept, and to check
 * that what is kept is exact.
 */
export function computeOwnerStates(r: Reader, models: readonly RowScanner[]): OwnerState[] {
  const out: OwnerState[] = [];
  for (const m of models) {
    const per = new Map<string, { owner: Id; rows: number; live: number; hash: LtHash; newest: Uint8Array | null }>();
    m.scanRows(r, (owner, version, time, deleted) => {
      const k = idKey(owner);
      let p = per.get(k);
      if (!p) per.set(k, (p = { owner, rows: 0, live: 0, hash: new LtHash(), newest: null }));
      p.rows++;
      if (!deleted) p.live++;
      p.hash.add(version);
      p.newest = newer(p.newest, time);
    });
    for (const p of per.values()) out.push({ owner: p.owner, model: m.name, rows: p.rows, live: p.live, newest: p.newest, sum: sumOfHash(p.hash), hash: p.hash.bytes() });
  }
  return out;
}

/** Replaces every kept owner state by one computed from the rows. */
export function rebuildOwnerStates(w: Writer, models: readonly RowScanner[]): void {
  w.run('DELETE FROM owner_state');
  for (const s of computeOwnerStates(w, models)) {
    w.run('INSERT INTO owner_state (owner, model, rows, live, newest, sum, hash) VALUES (?, ?, ?, ?, ?, ?, ?)', [s.owner, s.model, s.rows, s.live, s.newest, s.sum, s.hash]);
  }
}

const STATE_COLUMNS = 'owner, model, rows, live, newest, sum, hash';

/** Every owner state held, or those of one model. */
export function readOwnerStates(r: Reader, model?: string): OwnerState[] {
  const rows = model
    ? r.rows(`SELECT ${STATE_COLUMNS} FROM owner_state WHERE model = ?`, [model])
    : r.rows(`SELECT ${STATE_COLUMNS} FROM owner_state`);
  return rows.map(toState);
}

/** The owner states of one owner (one per model it has rows of). */
export function readOwnerStatesOf(r: Reader, owner: Id): OwnerState[] {
  return r.rows(`SELECT ${STATE_COLUMNS} FROM owner_state WHERE owner = ?`, [owner]).map(toState);
}

export function readOwnerState(r: Reader, owner: Id, model: string): OwnerState | null {
  const row = r.rows(`SELECT ${STATE_COLUMNS} FROM owner_state WHERE owner = ? AND model = ?`, [owner, model])[0];
  return row ? toState(row) : null;
}

function toState(row: SqlValue[]): OwnerState {
  return {
    owner: row[0] as Uint8Array,
    model: row[1] as string,
    rows: row[2] as number,
    live: row[3] as number,
    newest: (row[4] as Uint8Array | null) ?? null,
    sum: row[5] as Uint8Array,
    hash: (row[6] as Uint8Array | null) ?? new LtHash().bytes(),
  };
}

function word(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);
}

function lanesOf(sum: Uint8Array | null): Int32Array {
  const lanes = new Int32Array(4);
  if (sum && sum.length === SUM_BYTES) for (let k = 0; k < 4; k++) lanes[k] = word(sum, 4 * k);
  return lanes;
}

function bytesOf(lanes: Int32Array): Uint8Array {
  const out = new Uint8Array(SUM_BYTES);
  for (let k = 0; k < 4; k++) {
    const v = lanes[k];
    out[4 * k] = v & 0xff;
    out[4 * k + 1] = (v >>> 8) & 0xff;
    out[4 * k + 2] = (v >>> 16) & 0xff;
    out[4 * k + 3] = (v >>> 24) & 0xff;
  }
  return out;
}

/** Adds (sign 1) or subtracts (sign -1) the hash of some bytes (at least 16: a digest) to the lanes. */
export function addDigest(lanes: Int32Array, digest: Uint8Array, sign: 1 | -1): void {
  for (let k = 0; k < 4; k++) lanes[k] = (lanes[k] + sign * word(digest, 4 * k)) | 0;
}

export { bytesOf as sumBytes, lanesOf as sumLanes };

/** Whether two sums are the same. */
export function sameSum(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
