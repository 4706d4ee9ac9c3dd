/**
 * What this copy of a device's data knows of the seals the device made of
 * its own rows (owner-seals.ts), to tell when a partner shows it a seal of
 * its own whose rows it lost: it was restored from an older copy of its
 * data, or re-joined a library with a fresh one.
 *
 * Every seal of its own is made in the transaction that changes its own
 * rows (or as the library opens), and the latest one's time is kept with
 * them (meta own_sealed_at). So when a run opens, every seal this copy's
 * lineage made is at or before that time, and every seal this run makes
 * is after the stamp it opened at: a seal of its own made in between (in a
 * *gap*) was made by a copy this one is not, and its rows may be lost.
 * Each open records its gap (meta own_gaps, the last MAX_GAPS), so a run
 * that stops while it recovers leaves the next one to go on. A lost seal
 * is *recovered* once its rows were taken back (meta own_recovered, the
 * last MAX_RECOVERED), and not asked for again. A new library
 * starts with a gap from the beginning of time (a re-join keeps its device
 * id); one from before own_sealed_at was kept starts with none.
 */
import { compareBytes } from '../core/hlc';
import type { Writer } from '../store';
import type { OwnerSeal } from './owner-seals';

const TIME_BYTES = 8;
const MAX_GAPS = 16;
const MAX_RECOVERED = 64;

type Gap = readonly [from: Uint8Array, to: Uint8Array];

export class OwnSealHistory {
  /** own_sealed_at of a library just created: before any seal. */
  static readonly FRESH = new Uint8Array(TIME_BYTES);

  /** The latest seal of its own this copy made (8-byte time). */
  private sealedThrough: Uint8Array | null;
  /** Open intervals of its own clock in which seals it made are not this copy's. */
  private gaps: Gap[];
  /** Times of lost seals whose rows were taken back. */
  private recovered: Uint8Array[];

  /** A stamp of its own clock as this run opened the library: every seal this run makes is after it (seal() is monotone). */
  readonly openedAt: Uint8Array;
  /** The latest seal of its own this copy knew of as this run opened (what its seals name as their base: OwnerSeal.base). */
  readonly base: Uint8Array;

  /** From the library's meta (read at open) and a stamp of its own clock now. */
  constructor(meta: ReadonlyMap<string, unknown>, now: Uint8Array) {
    const through = meta.get('own_sealed_at');
    this.sealedThrough = through instanceof Uint8Array ? through : null;
    // Never before a seal this copy made (its clock's seals are not all kept in own_hlc).
    this.openedAt = this.sealedThrough && compareBytes(this.sealedThrough, now) > 0 ? this.sealedThrough : now;
    // A library from before own_sealed_at was kept knows no seal of its own apart: as if it knew all made before now.
    this.base = this.sealedThrough ?? this.openedAt;
    const bounds = times(meta.get('own_gaps'));
    this.gaps = [];
    for (let i = 0; i + 1 < bounds.length; i += 2) this.gaps.push([bounds[i], bounds[i + 1]]);
    this.recovered = times(meta.get('own_recovered'));
    if (this.sealedThrough && compareBytes(this.sealedThrough, this.openedAt) < 0) this.gaps = [...this.gaps, [this.sealedThrough, this.openedAt] as Gap].slice(-MAX_GAPS);
  }

  /** Writes the gaps (at open, and when one closes). */
  save(w: Writer): void {
    w.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('own_gaps', ?)", [Buffer.concat(this.gaps.flat())]);
  }

  /** The device sealed its own rows at `sealedAt`, in the transaction `w` (null: it has no seal). */
  sealed(w: Writer, sealedAt: Uint8Array | null): void {
    if (!sealedAt || (this.sealedThrough && compareBytes(sealedAt, this.sealedThrough) <= 0)) return;
    this.sealedThrough = sealedAt;
    w.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('own_sealed_at', ?)", [sealedAt]);
  }

  private gapOf(seal: OwnerSeal): Gap | undefined {
    const t = seal.sealedAt;
    return this.gaps.find(([from, to]) => compareBytes(t, from) > 0 && compareBytes(t, to) < 0);
  }

  /**
   * Whether `seal` (of this device's own; its signature is the caller's to
   * check) was made by a copy of its data this one is not: its rows may be
   * lost, unless what is held now is exactly that seal's rows (`matchesNow`).
   */
  lost(seal: OwnerSeal, matchesNow: () => boolean): boolean {
    if (this.gapOf(seal) === undefined || this.recovered.some((t) => compareBytes(t, seal.sealedAt) === 0)) return false;
    return !matchesNow();
  }

  /**
   * The stamps of the rows of its own these lost seals may have and this
   * copy lost: after the earliest of their gaps' starts (this copy holds
   * every row it stamped before, or a newer version) and up to the stamp
   * this run opened at; null if none of them is in a gap.
   */
  window(seals: readonly OwnerSeal[]): { after: Uint8Array; through: Uint8Array } | null {
    let after: Uint8Array | null = null;
    for (const s of seals) {
      const g = this.gapOf(s);
      if (g && (!after || compareBytes(g[0], after) < 0)) after = g[0];
    }
    return after ? { after, through: this.openedAt } : null;
  }

  /** These lost seals' rows were taken back, in the transaction `w`: not asked for again. */
  recover(w: Writer, seals: readonly OwnerSeal[]): void {
    const fresh = seals.map((s) => s.sealedAt).filter((t) => !this.recovered.some((r) => compareBytes(r, t) === 0));
    if (fresh.length === 0) return;
    this.recovered = [...this.recovered, ...fresh].slice(-MAX_RECOVERED);
    w.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('own_recovered', ?)", [Buffer.concat(this.recovered)]);
  }
}

/** 8-byte times, one after the other. */
function times(v: unknown): Uint8Array[] {
  if (!(v instanceof Uint8Array)) return [];
  const out: Uint8Array[] = [];
  for (let i = 0; i + TIME_BYTES <= v.length; i += TIME_BYTES) out.push(v.slice(i, i + TIME_BYTES));
  return out;
}
