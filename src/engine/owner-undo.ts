/**
 * Undoing what relays brought of another device's rows since they were
 * last found exactly as that device sealed them (owner-proofs.ts).
 *
 * Rows of an owner that a partner relays are applied as they come (a
 * backfill of a million rows cannot wait for the end), but until what is
 * held matches a seal of the owner again they are not vouched for, and the
 * version each replaced is kept here (`owner_undo`, once per row: the
 * version of the last sealed state). Rows the owner sends itself are kept
 * too: an owner restored from an old copy of its data sends rows that do
 * not add up to any seal with what is held here, and gets back what it
 * lost only as the set it last sealed (`changed`: with the rows held now,
 * that set is exactly rebuilt). When what is held is found not to be what
 * the owner sealed (forged rows, or rows left out), `rollBack` puts back
 * the last sealed state: every kept version back in place, every row that
 * had none taken away, the watermarks back to before every version
 * undone, so a catch-up from another partner brings the rest again. An owner never sealed here
 * has no such state: all its rows go and come again.
 */
import { idEquals, type Id } from '../core/ids';
import { encodeHlcTime, justBefore } from '../core/hlc';
import type { EntryTable } from '../models/entry';
import type { DeviceOwnedModel, StateRecord } from '../models/model';
import { computeOwnerStates } from '../models/owner-state';
import type { Reader, Writer } from '../store';
import { decodeWith, encodeWith, stateRecordEncoding } from './records';
import type { Registry } from './registry';

/** What is held of `owner` is what it sealed: nothing relayed since needs undoing. */
export function forgetUndo(w: Writer, owner: Id): void {
  w.run('DELETE FROM owner_undo WHERE owner = ?', [owner]);
}

/** Versions kept per owner, at most (a relay whose rows of an owner never match its seal again would keep them all). */
export const MAX_UNDO_PER_OWNER = 50_000;

export class OwnerUndo {
  constructor(
    private readonly registry: Registry,
    private readonly self: Id,
  ) {}

  /** Whether `owner`'s rows matched one of its seals here (then what relays bring is kept to undo). */
  private sealedHere(w: Writer, owner: Id): boolean {
    return w.value('SELECT 1 FROM owner_verified WHERE owner = ?', [owner]) !== undefined;
  }

  /**
   * Before `records` of `model` are applied: keeps the version each
   * replaces, for the rows of owners (other than this device) sealed here.
   */
  record(w: Writer, model: DeviceOwnedModel, records: readonly StateRecord[]): void {
    const sealed = new Map<string, boolean>();
    for (const rec of records) {
      const owner = rec.hlc.device;
      if (idEquals(owner, this.self)) continue;
      const key = Buffer.from(owner).toString('hex');
      let s = sealed.get(key);
      if (s === undefined) sealed.set(key, (s = this.sealedHere(w, owner) && this.room(w, owner, records.length)));
      if (!s) continue;
      this.keep(w, owner, model, rec.uuid);
      if (model.name === 'location' && rec.deleted) {
        // A location's deletion removes its entries older than it: those are kept too.
        const entry = this.registry.deviceOwnedModel('entry') as EntryTable;
        for (const e of entry.inLocation(w, rec.uuid, encodeHlcTime(rec.hlc))) this.keep(w, owner, entry, e.uuid, e);
      }
    }
  }

  /**
   * Whether `n` more versions of `owner`'s rows fit (MAX_UNDO_PER_OWNER).
   * If not, what is held of it stops being the last sealed state plus what
   * is kept: the seal it last matched is dropped with what was kept (no
   * rolling back to it, no serving it to its owner), until its rows match
   * a seal again.
   */
  private room(w: Writer, owner: Id, n: number): boolean {
    const kept = w.value('SELECT count(*) FROM owner_undo WHERE owner = ?', [owner]) as number;
    if (kept + n <= MAX_UNDO_PER_OWNER) return true;
    forgetUndo(w, owner);
    w.run('DELETE FROM owner_verified WHERE owner = ?', [owner]);
    return false;
  }

  private keep(w: Writer, owner: Id, model: DeviceOwnedModel, uuid: Id, known?: StateRecord): void {
    if (w.value('SELECT 1 FROM owner_undo WHERE owner = ? AND model = ? AND uuid = ?', [owner, model.name, uuid]) !== undefined) return;
    const prior = known ?? model.get(w, uuid);
    w.run('INSERT INTO owner_undo (owner, model, uuid, prior) VALUES (?, ?, ?, ?)', [owner, model.name, uuid, prior ? encodeWith(stateRecordEncoding(model), prior) : null]);
  }

  /**
   * Per model, the rows of `owner` changed since they last matched its
   * seal here: each one's version then (`prior`, null: it had none) and
   * now (`now`, null: gone).
   */
  changed(r: Reader, owner: Id): Map<string, { uuid: Id; prior: StateRecord | null; now: StateRecord | null }[]> {
    const out = new Map<string, { uuid: Id; prior: StateRecord | null; now: StateRecord | null }[]>();
    for (const [name, uuid, prior] of r.rows('SELECT model, uuid, prior FROM owner_undo WHERE owner = ?', [owner])) {
      const m = this.registry.deviceOwnedModel(name as string);
      let list = out.get(m.name);
      if (!list) out.set(m.name, (list = []));
      list.push({ uuid: uuid as Id, prior: prior ? decodeWith(stateRecordEncoding(m), prior as Uint8Array, 'undo record') : null, now: m.get(r, uuid as Id) });
    }
    return out;
  }

  /**
   * Puts back `owner`'s rows as they were when they last matched its seal
   * (`sealedNewest`: that seal's newest stamp), or, never sealed here,
   * takes them all away; their watermarks go back with them, and what
   * waits of them for a parent goes too (it came from the same relays;
   * the caller invalidates Parking's count).
   */
  rollBack(w: Writer, owner: Id, sealedNewest: Uint8Array | null): void {
    const models = this.registry.deviceOwned;
    /** The oldest stamp among the versions undone (what is held now, or was before a location's deletion took it). */
    let oldest: Uint8Array | null = null;
    if (!sealedNewest) {
      for (const m of [...models].reverse()) m.dropOwner(w, owner);
    } else {
      const undo = w.rows('SELECT model, uuid, prior FROM owner_undo WHERE owner = ?', [owner]);
      for (const [name, uuid, prior] of undo) {
        const m = this.registry.deviceOwnedModel(name as string);
        const now = m.get(w, uuid as Uint8Array);
        const t = now ? encodeHlcTime(now.hlc) : prior ? encodeHlcTime(decodeWith(stateRecordEncoding(m), prior as Uint8Array, 'undo record').hlc) : null;
        if (t && (!oldest || Buffer.compare(t, oldest) < 0)) oldest = t;
      }
      // Versions back in dependency order (a location before its entries); rows that had none away in reverse.
      for (const m of models) {
        for (const [name, , prior] of undo) if (name === m.name && prior) m.restoreRow(w, decodeWith(stateRecordEncoding(m), prior as Uint8Array, 'undo record'));
      }
      for (const m of [...models].reverse()) {
        for (const [name, uuid, prior] of undo) {
          if (name !== m.name || prior) continue;
          if (name === 'location') {
            // Its entries (the owner's own, perhaps) point at its row: they go with it, and are asked for again.
            const t = w.value('SELECT min(e.hlc) FROM entry e JOIN location l ON l.id = e.location_id WHERE l.uuid = ?', [uuid as Uint8Array]);
            if (t instanceof Uint8Array && (!oldest || Buffer.compare(t, oldest) < 0)) oldest = t;
            w.run('DELETE FROM entry WHERE location_id = (SELECT id FROM location WHERE uuid = ?)', [uuid as Uint8Array]);
          }
          m.dropRow(w, uuid as Uint8Array);
        }
      }
    }
    (this.registry.deviceOwnedModel('entry') as EntryTable).dropLooseStubs(w, owner);
    forgetUndo(w, owner);
    w.run('DELETE FROM parked WHERE owner = ?', [owner]);
    // The watermarks go back to before every version undone, so a catch-up asks for them again (never forward).
    const before = oldest ? justBefore(oldest) : null;
    if (!sealedNewest || (oldest && !before)) w.run('DELETE FROM state_watermark WHERE owner = ?', [owner]);
    else if (before) w.run('UPDATE state_watermark SET hlc = ? WHERE owner = ? AND hlc > ?', [before, owner, before]);
    // Owner states from the rows now held.
    w.run('DELETE FROM owner_state WHERE owner = ?', [owner]);
    const scanners = models.map((m) => ({ name: m.name, scanRows: (r: Writer, add: Parameters<DeviceOwnedModel['scanRows']>[1]) => m.scanRows(r, add, owner) }));
    for (const s of computeOwnerStates(w, scanners)) {
      w.run('INSERT INTO owner_state (owner, model, rows, live, newest, sum, hash) VALUES (?, ?, ?, ?, ?, ?, ?)', [s.owner, s.model, s.rows, s.live, s.newest, s.sum, s.hash]);
    }
  }
}
