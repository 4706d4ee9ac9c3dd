/**
 * What this device can prove about each owner's rows it holds: it keeps
 * the newest seal of every owner (owner-seals.ts), makes its own, and says
 * per owner whether what it holds is exactly what that owner sealed.
 *
 * - verified: the rows held have the seal's newest stamp, count and digest;
 * - behind: the seal names a newer row than any held (catching up);
 * - unproven: rows held, but no seal names their newest (none came yet, or
 *   rows came that no seal covers yet);
 * - mismatch: the rows held end at the seal's newest stamp and are not what
 *   it states: rows were forged or some are missing.
 *
 * A relay sends another owner's seal with its rows only while they are
 * verified here (Library.sealFor), so a seal that leaves this device with
 * another device's rows vouches for exactly what that device signed.
 */
import { compareBytes, decodeHlcTime } from '../core/hlc';
import { OwnershipError } from '../models/errors';
import { idEquals, idKey, idToString, toHex, type Id } from '../core/ids';
import type { DeviceKeyPair } from '../core/signing';
import { readOwnerStates, readOwnerStatesOf, type OwnerState } from '../models/owner-state';
import type { Reader, Writer } from '../store';
import { forgetUndo } from './owner-undo';
import { checkSeal, keepOrphan, keepSeal, laterSeal, readOrphan, makeSeal, matches, readSeal, readSeals, sameSeal, SEAL_COLUMNS, sealOf, sealValues, stateOf, type OwnerSeal, type SealedState } from './owner-seals';

function readVerified(r: Reader, owner: Id): { seal: OwnerSeal; since: number } | null {
  const row = r.rows(`SELECT ${SEAL_COLUMNS}, since FROM owner_verified WHERE owner = ?`, [owner])[0];
  return row ? { seal: sealOf(row), since: row[8] as number } : null;
}

export type ProofState = 'verified' | 'behind' | 'unproven' | 'mismatch';

export interface OwnerProof {
  readonly owner: Id;
  readonly state: ProofState;
  /** What is held of the owner's rows (null: none). */
  readonly held: SealedState | null;
  /** The seal what is held matches when verified; else the newest held (this device's own, made now, for itself). */
  readonly seal: OwnerSeal | null;
  /** The newest seal of the owner held. */
  readonly newest: OwnerSeal | null;
  /** When what is held was first found exactly as sealed (ms), kept while it stays so; null if never. */
  readonly since: number | null;
}

/** Seals whose signature was checked already (by signature), so a seal repeated in every Hello costs one check. */
const CHECKED_MAX = 4096;

export class OwnerProofs {
  private own: OwnerSeal | null = null;
  private readonly checked = new Set<string>();

  constructor(
    private readonly library: Id,
    private readonly device: Id,
    private readonly key: DeviceKeyPair | null,
    /** A new stamp of this device's own clock (8-byte time), for a seal it makes. */
    private readonly tick: () => Uint8Array,
    /** The latest `sealedAt` taken (ms): this device's wall clock plus the drift bound. */
    private readonly latest: () => number,
    /** The latest seal of its own this copy of its data knew of when it opened (OwnerSeal.base). */
    private readonly base: () => Uint8Array,
  ) {}

  private statesOf(r: Reader, owner: Id): OwnerState[] {
    return readOwnerStatesOf(r, owner);
  }

  /** This device's seal of its own rows as they are now (signed again only when they changed); null if it has none or no key. */
  ownSeal(r: Reader): OwnerSeal | null {
    if (!this.key) return null;
    const held = stateOf(this.statesOf(r, this.device));
    if (!held) return null;
    if (!this.own || !matches(held, this.own)) this.own = makeSeal(this.library, this.key, this.device, this.tick(), held, this.base());
    return this.own;
  }

  /**
   * Takes a seal received from a partner: checks its signature (throws
   * OwnershipError if it is not its owner's) and keeps it if it is the
   * newest of its owner held here and its owner is a device of the library
   * (a member or a partner). Seals of this device are checked and
   * kept too (a device restored from an old copy learns its own later
   * seals from its peers). Returns whether it was kept.
   */
  take(w: Writer, seal: OwnerSeal): boolean {
    // Only devices of the library (checked before any signature: seals of made-up devices would cost a verification each).
    if (!idEquals(seal.owner, this.device) && !w.value('SELECT 1 FROM member WHERE device = ?', [seal.owner]) && !w.value('SELECT 1 FROM partner WHERE device = ?', [seal.owner])) {
      return false;
    }
    // The whole seal is what was checked: the same signature under other fields is another seal.
    const key = toHex(Buffer.concat([seal.owner, seal.sealedAt, seal.base, seal.newest, Buffer.from(String(seal.rows)), seal.digest, seal.publicKey, seal.signature]));
    if (!this.checked.has(key)) {
      checkSeal(this.library, seal);
      if (this.checked.size >= CHECKED_MAX) this.checked.clear();
      this.checked.add(key);
    }
    // A seal made (it says) after this device's clock plus the drift bound would outrank every later real one.
    if (decodeHlcTime(seal.sealedAt).ms > this.latest()) {
      throw new OwnershipError(`a seal of device ${idToString(seal.owner)} is dated ${decodeHlcTime(seal.sealedAt).ms - this.latest()} ms past this device's clock and the drift bound`);
    }
    const kept = readSeal(w, seal.owner);
    if (kept && !laterSeal(seal, kept)) return false;
    // The seal kept was made after the latest one the owner's copy that made this one knew of: by a copy it
    // does not descend from (restored from an older one, or re-joined). Kept to show it: rows it had may be lost.
    if (kept && !idEquals(seal.owner, this.device) && compareBytes(kept.sealedAt, seal.base) > 0) keepOrphan(w, kept);
    keepSeal(w, seal);
    this.check(w, seal.owner);
    return true;
  }

  /**
   * Records, after a change to `owner`'s rows or seal, whether they are now
   * exactly what it sealed: the newest seal, or (for a relay that holds
   * rows an owner restored from an old copy no longer has) the seal they
   * last matched. Returns true when they match a seal they did not match
   * before (partners may pull them from here now).
   */
  check(w: Writer, owner: Id, now = Date.now()): boolean {
    const held = stateOf(this.statesOf(w, owner));
    const seal = idEquals(owner, this.device) ? (this.ownSeal(w) ?? readSeal(w, owner)) : readSeal(w, owner);
    if (!held || !seal || !matches(held, seal)) return false;
    // Exactly what the owner sealed: nothing relayed since needs undoing.
    forgetUndo(w, owner);
    const prior = readVerified(w, owner);
    if (prior && sameSeal(prior.seal, seal)) return false;
    w.run(`INSERT OR REPLACE INTO owner_verified (${SEAL_COLUMNS}, since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, [...sealValues(seal), prior ? prior.since : now]);
    return true;
  }

  proof(r: Reader, owner: Id): OwnerProof {
    const held = stateOf(this.statesOf(r, owner));
    const own = idEquals(owner, this.device);
    const newest = own ? (this.ownSeal(r) ?? readSeal(r, owner)) : readSeal(r, owner);
    const verified = readVerified(r, owner);
    let state: ProofState;
    let seal = newest;
    if (newest && matches(held, newest)) state = 'verified';
    else if (verified && matches(held, verified.seal)) {
      // Exactly what the owner sealed once; it has sealed other rows since (newer ones, or fewer after a restore).
      state = 'verified';
      seal = verified.seal;
    } else if (!newest || (held && compareBytes(held.newest, newest.newest) > 0)) state = 'unproven';
    else if (!held || compareBytes(held.newest, newest.newest) < 0) state = 'behind';
    else state = 'mismatch';
    return { owner, state, held, seal, newest, since: state === 'verified' && verified ? verified.since : null };
  }

  /** The newest stamp of the seal `owner`'s rows last matched here (null: never). */
  sealedNewest(r: Reader, owner: Id): Uint8Array | null {
    return readVerified(r, owner)?.seal.newest ?? null;
  }

  /** The seal `owner`'s rows last matched here (null: never). */
  verifiedSeal(r: Reader, owner: Id): OwnerSeal | null {
    return readVerified(r, owner)?.seal ?? null;
  }

  /** Every owner with rows or a seal here. */
  proofs(r: Reader): OwnerProof[] {
    const owners = new Map<string, Id>();
    for (const s of readOwnerStates(r)) owners.set(idKey(s.owner), s.owner);
    for (const s of readSeals(r)) owners.set(idKey(s.owner), s.owner);
    return [...owners.values()].map((o) => this.proof(r, o));
  }

  /** Seals to give a partner: this device's own, and the newest of every other device held (each checks itself). */
  sealsToShare(r: Reader): OwnerSeal[] {
    const out: OwnerSeal[] = [];
    const own = this.ownSeal(r);
    if (own) out.push(own);
    for (const s of readSeals(r)) {
      if (idEquals(s.owner, this.device)) continue;
      // The newest seal always (a partner learns the owner has newer rows), and the one the rows here last matched
      // if older (an owner restored from an old copy learns from it that it lost rows, and asks for them).
      out.push(s);
      const verified = readVerified(r, s.owner);
      if (verified && !sameSeal(verified.seal, s)) out.push(verified.seal);
      // And the latest of a copy of its data it does not descend from (it learns from it what it lost).
      const orphan = readOrphan(r, s.owner);
      if (orphan && !sameSeal(orphan, s) && !(verified && sameSeal(orphan, verified.seal))) out.push(orphan);
    }
    return out;
  }
}
