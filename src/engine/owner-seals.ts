/**
 * Owner seals: a device's signed statement of exactly which device-owned
 * rows it holds of its own (device, volumes, locations, entries), so that
 * any device can check what it holds of that owner, whoever relayed it.
 *
 * A seal names the owner, the newest stamp among its rows, how many rows,
 * and the digest of the sum of its owner states' LtHashes (owner-state.ts:
 * every synced field of every row version, tombstones included), signed by
 * the owner's key over the library id. A device holds an owner's rows
 * "verified" when its own owner states for that owner have the seal's
 * newest stamp and digest: then they are exactly the rows the owner had
 * when it sealed, row for row, field for field. Signing costs one Ed25519
 * signature per change of the owner's rows that someone is told of;
 * checking costs one verification per seal received (cached) and a 2 KB
 * digest per owner, never a signature per row.
 *
 * Which seal is kept per owner: the one the owner made last, by the stamp
 * of its own clock it was made at (`sealedAt`). Not by the newest row it
 * names: an owner restored from an old copy of its data takes back rows it
 * wrote before from its peers, older than its newest, and seals again.
 */
import { createHash } from 'node:crypto';
import { compareBytes, encodeHlcTime } from '../core/hlc';
import { idEquals, idToString, toHex, type Id } from '../core/ids';
import { LtHash } from '../core/lthash';
import { acceptableKey, isDeviceIdOf, sign, verify, type DeviceKeyPair } from '../core/signing';
import { OwnershipError } from '../models/errors';
import type { DeviceOwnedModel, StateRecord } from '../models/model';
import type { OwnerState } from '../models/owner-state';
import type { Reader, Writer } from '../store';

export const SEAL_DIGEST_BYTES = 32;

export interface OwnerSeal {
  readonly owner: Id;
  /** 8-byte HLC time of the owner's own clock when it sealed: a later seal is a later state. */
  readonly sealedAt: Uint8Array;
  /**
   * 8-byte time: the latest seal the copy of the owner's data that made
   * this one knew of when it opened (own-seal-history.ts; zero for a new
   * copy). A seal kept elsewhere made after it, and before this one, is of
   * a copy this one does not descend from (it was restored from an older
   * copy, or re-joined): its rows may be lost (OwnerProofs keeps it).
   */
  readonly base: Uint8Array;
  /** 8-byte HLC time of the owner's newest row when it sealed. */
  readonly newest: Uint8Array;
  readonly rows: number;
  /** Digest of the sum of its rows' hashes (stateDigest). */
  readonly digest: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

/** What a set of rows of one owner comes to: what a seal states and what is compared with it. */
export interface SealedState {
  readonly newest: Uint8Array;
  readonly rows: number;
  readonly digest: Uint8Array;
}

const DOMAIN = Buffer.from('leaderless-sync/owner-seal/1\0', 'utf8');

/** The digest a seal states for rows whose hashes add up to `sum`. */
export function digestOf(sum: LtHash): Uint8Array {
  return Uint8Array.from(createHash('sha256').update(DOMAIN).update(sum.bytes()).digest());
}

/** The state of one owner's rows from its owner states (one per model); null if it has none. */
export function stateOf(states: readonly OwnerState[]): SealedState | null {
  const sum = new LtHash();
  let rows = 0;
  let newest: Uint8Array | null = null;
  for (const s of states) {
    if (s.rows === 0) continue;
    sum.combine(new LtHash(s.hash));
    rows += s.rows;
    if (s.newest && (!newest || compareBytes(s.newest, newest) > 0)) newest = s.newest;
  }
  if (!newest) return null;
  return { newest, rows, digest: digestOf(sum) };
}

/** The state of a set of rows as received (each model's, with the model that hashes them); null if there are none. */
export function stateOfRows(sets: readonly { model: DeviceOwnedModel; records: readonly StateRecord[] }[]): SealedState | null {
  const sum = new LtHash();
  let rows = 0;
  let newest: Uint8Array | null = null;
  for (const { model, records } of sets) {
    for (const rec of records) {
      sum.add(model.versionOf(rec));
      rows++;
      const t = encodeHlcTime(rec.hlc);
      if (!newest || compareBytes(t, newest) > 0) newest = t;
    }
  }
  return newest ? { newest, rows, digest: digestOf(sum) } : null;
}

function message(library: Id, owner: Id, sealedAt: Uint8Array, base: Uint8Array, s: SealedState): Uint8Array {
  const rows = Buffer.alloc(8);
  rows.writeBigUInt64LE(BigInt(s.rows));
  return Buffer.concat([DOMAIN, library, owner, sealedAt, base, s.newest, rows, s.digest]);
}

/** No seal known before (a new copy of the owner's data). */
export const NO_BASE = new Uint8Array(8);

/** The owner's seal of its state, made at `sealedAt` (its own clock) by a copy that opened knowing its seals up to `base`, signed with its key. */
export function makeSeal(library: Id, key: DeviceKeyPair, owner: Id, sealedAt: Uint8Array, s: SealedState, base: Uint8Array = NO_BASE): OwnerSeal {
  return { owner, sealedAt, base, newest: s.newest, rows: s.rows, digest: s.digest, publicKey: key.publicKey, signature: sign(key, message(library, owner, sealedAt, base, s)) };
}

/** Throws OwnershipError unless the seal is signed by its owner's key for this library. */
export function checkSeal(library: Id, seal: OwnerSeal): void {
  const who = idToString(seal.owner);
  if (!isDeviceIdOf(seal.owner, seal.publicKey) || !acceptableKey(seal.publicKey)) throw new OwnershipError(`a seal of device ${who} is signed with a key that is not its own`);
  if (!verify(seal.publicKey, message(library, seal.owner, seal.sealedAt, seal.base, seal), seal.signature)) throw new OwnershipError(`a seal of device ${who} does not verify`);
}

/** Whether `held` is exactly the state the seal states. */
export function matches(held: SealedState | null, seal: SealedState): boolean {
  return !!held && held.rows === seal.rows && compareBytes(held.newest, seal.newest) === 0 && compareBytes(held.digest, seal.digest) === 0;
}

/** Whether seal `a` was made after `b`. */
export function laterSeal(a: OwnerSeal, b: OwnerSeal | null): boolean {
  return !b || compareBytes(a.sealedAt, b.sealedAt) > 0;
}

export function sameSeal(a: OwnerSeal, b: OwnerSeal): boolean {
  return idEquals(a.owner, b.owner) && toHex(a.signature) === toHex(b.signature);
}

const COLUMNS = 'owner, sealed_at, newest, rows, digest, public_key, signature, base';

export function readSeal(r: Reader, owner: Id): OwnerSeal | null {
  const row = r.rows(`SELECT ${COLUMNS} FROM owner_seal WHERE owner = ?`, [owner])[0];
  return row ? sealOf(row) : null;
}

/** A seal from its columns (COLUMNS order). */
export function sealOf(row: readonly unknown[]): OwnerSeal {
  return {
    owner: row[0] as Id,
    sealedAt: row[1] as Uint8Array,
    newest: row[2] as Uint8Array,
    rows: row[3] as number,
    digest: row[4] as Uint8Array,
    publicKey: row[5] as Uint8Array,
    signature: row[6] as Uint8Array,
    base: row[7] as Uint8Array,
  };
}

export function readSeals(r: Reader): OwnerSeal[] {
  return r.rows(`SELECT ${COLUMNS} FROM owner_seal`).map(sealOf);
}

/** The values of a seal in COLUMNS order. */
export function sealValues(seal: OwnerSeal): [Id, Uint8Array, Uint8Array, number, Uint8Array, Uint8Array, Uint8Array, Uint8Array] {
  return [seal.owner, seal.sealedAt, seal.newest, seal.rows, seal.digest, seal.publicKey, seal.signature, seal.base];
}

export const SEAL_COLUMNS = COLUMNS;

/** The latest seal of `owner` made by a copy of its data that its newest seal's copy does not descend from (null: none). */
export function readOrphan(r: Reader, owner: Id): OwnerSeal | null {
  const row = r.rows(`SELECT ${COLUMNS} FROM owner_orphan WHERE owner = ?`, [owner])[0];
  return row ? sealOf(row) : null;
}

export function keepOrphan(w: Writer, seal: OwnerSeal): void {
  const kept = readOrphan(w, seal.owner);
  if (kept && !laterSeal(seal, kept)) return;
  w.run(`INSERT OR REPLACE INTO owner_orphan (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, sealValues(seal));
}

export function keepSeal(w: Writer, seal: OwnerSeal): void {
  w.run(`INSERT OR REPLACE INTO owner_seal (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, sealValues(seal));
}
