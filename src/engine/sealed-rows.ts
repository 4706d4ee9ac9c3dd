/**
 * An owner's rows as they were when they last matched its seal here: what
 * a relay serves to that owner itself, which takes rows of its own back
 * only as a whole set that hashes to one of its own seals (a device
 * restored from an old copy of its data gets back what it lost that way,
 * and no partner can plant a row in its name).
 *
 * The set is rebuilt from the rows held now and what changed since they
 * last matched (owner_undo: each changed row's version then, or none): the
 * rows held, less the changed ones, plus their versions then. Before it is
 * served, its hash is worked out from the owner states and the changed
 * rows alone (LtHash adds and takes away row by row) and compared with the
 * seal, so a relay never serves as sealed a set that is not.
 */
import { compareBytes, encodeHlcTime } from '../core/hlc';
import { idKey, type Id } from '../core/ids';
import { LtHash } from '../core/lthash';
import type { DeviceOwnedModel, StateRecord } from '../models/model';
import { readOwnerStatesOf } from '../models/owner-state';
import type { Reader } from '../store';
import { digestOf, type OwnerSeal } from './owner-seals';
import type { OwnerUndo } from './owner-undo';
import type { Registry } from './registry';

/** One model's rows changed since the seal: which, their versions then (oldest first), and the stamps of their versions now. */
interface ChangedRows {
  readonly uuids: ReadonlySet<string>;
  readonly priors: readonly StateRecord[];
  readonly nowTimes: readonly Uint8Array[];
}

export interface SealedRows {
  readonly owner: Id;
  readonly seal: OwnerSeal;
  /** Per model, the rows changed since the seal (models without are served as held). */
  readonly changed: ReadonlyMap<string, ChangedRows>;
}

const byStamp = (a: StateRecord, b: StateRecord) => compareBytes(encodeHlcTime(a.hlc), encodeHlcTime(b.hlc));

/**
 * `owner`'s rows as last sealed (`seal`: the seal they last matched here),
 * or null when what is held and what changed do not add up to it.
 */
export function sealedRowsOf(r: Reader, registry: Registry, undo: OwnerUndo, owner: Id, seal: OwnerSeal): SealedRows | null {
  const sum = new LtHash();
  let rows = 0;
  for (const s of readOwnerStatesOf(r, owner)) {
    if (s.rows === 0) continue;
    sum.combine(new LtHash(s.hash));
    rows += s.rows;
  }
  const changed = new Map<string, ChangedRows>();
  for (const [name, list] of undo.changed(r, owner)) {
    const m: DeviceOwnedModel = registry.deviceOwnedModel(name);
    const uuids = new Set<string>();
    const priors: StateRecord[] = [];
    const nowTimes: Uint8Array[] = [];
    for (const c of list) {
      uuids.add(idKey(c.uuid));
      if (c.now) {
        sum.remove(m.versionOf(c.now));
        rows--;
        nowTimes.push(encodeHlcTime(c.now.hlc));
      }
      if (c.prior) {
        sum.add(m.versionOf(c.prior));
        rows++;
        priors.push(c.prior);
      }
    }
    changed.set(name, { uuids, priors: priors.sort(byStamp), nowTimes });
  }
  if (rows !== seal.rows || compareBytes(digestOf(sum), seal.digest) !== 0) return null;
  return { owner, seal, changed };
}

/** The sealed set's rows of `model` stamped after `after`, oldest first, at most `limit`. */
export function sealedSince(r: Reader, m: DeviceOwnedModel, set: SealedRows, after: Uint8Array | null, limit: number): StateRecord[] {
  const ch = set.changed.get(m.name);
  if (!ch) return m.stateSince(r, set.owner, after, limit);
  // `limit` rows held that are in the set (changed ones left out), read in pages: every row of the set up to the last of them is
  // then among these and the versions then of the changed rows, so the first `limit` of the set are too.
  const held: StateRecord[] = [];
  let cursor = after;
  let exhausted = false;
  while (held.length < limit) {
    const page = m.stateSince(r, set.owner, cursor, limit);
    for (const x of page) if (held.length < limit && !ch.uuids.has(idKey(x.uuid))) held.push(x);
    if (page.length < limit) {
      exhausted = held.length < limit;
      break;
    }
    cursor = encodeHlcTime(page[page.length - 1].hlc);
  }
  const bound = exhausted || held.length === 0 ? null : encodeHlcTime(held[held.length - 1].hlc);
  const priors = ch.priors.slice(firstAfter(ch.priors, after), bound ? firstAfter(ch.priors, bound) : undefined);
  return [...held, ...priors].sort(byStamp).slice(0, limit);
}

/** The index of the first of `sorted` (oldest first) stamped after `t` (null: 0). */
function firstAfter(sorted: readonly StateRecord[], t: Uint8Array | null): number {
  if (!t) return 0;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareBytes(encodeHlcTime(sorted[mid].hlc), t) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many of the sealed set's rows of `model` are stamped after `after`. */
export function countSealedSince(r: Reader, m: DeviceOwnedModel, set: SealedRows, after: Uint8Array | null): number {
  const ch = set.changed.get(m.name);
  const held = m.countSince(r, set.owner, after);
  if (!ch) return held;
  const later = (t: Uint8Array) => !after || compareBytes(t, after) > 0;
  return held - ch.nowTimes.filter(later).length + ch.priors.filter((p) => later(encodeHlcTime(p.hlc))).length;
}
