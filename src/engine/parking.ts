/**
 * Records whose parent has not arrived yet wait here, in the database (so a
 * restart keeps them), and are applied in the transaction that applies the
 * parent.
 */
import type { DeviceOwnedModel, Model, ModelName, ParentRef, SharedChange, SharedModel, StateRecord } from '../models/model';
import type { Reader, Writer } from '../store';
import { encodeHlcTime } from '../core/hlc';
import { idKey, type Id } from '../core/ids';
import { decodeWith, encodeWith, sharedChangeEncoding, stateRecordEncoding } from './records';
import type { Registry } from './registry';

export type Parked = { model: DeviceOwnedModel; record: StateRecord } | { model: SharedModel; change: SharedChange };

export class Parking {
  /** Rows in the parked table; kept in memory so the common case (none) costs nothing. */
  private count = -1;
  /** Per partner (idKey): rows it sent that wait here; filled as asked, forgotten when rows leave. */
  private bySender = new Map<string, number>();

  constructor(
    private readonly registry: Registry,
    /** At most this many records wait at once: more are refused (`full`), and fetched again once the wait is over. */
    readonly max: number = Infinity,
    /** At most this many of them sent by one partner (`fullFor`): one partner cannot take the room of all. */
    readonly maxPerSender: number = Infinity,
  ) {}

  size(r: Reader): number {
    if (this.count < 0) this.count = Number(r.value('SELECT count(*) FROM parked'));
    return this.count;
  }

  /** No more records may wait. */
  full(r: Reader): boolean {
    return this.size(r) >= this.max;
  }

  /** Records `sender` (the partner they came from; null: none, e.g. released ones) sent wait here. */
  sentBy(r: Reader, sender: Id): number {
    const key = idKey(sender);
    let n = this.bySender.get(key);
    if (n === undefined) this.bySender.set(key, (n = this.size(r) === 0 ? 0 : Number(r.value('SELECT count(*) FROM parked WHERE sender = ?', [sender]))));
    return n;
  }

  /** No more records from `sender` may wait. */
  fullFor(r: Reader, sender: Id | null): boolean {
    return sender !== null && this.maxPerSender !== Infinity && this.sentBy(r, sender) >= this.maxPerSender;
  }

  parkState(w: Writer, model: DeviceOwnedModel, record: StateRecord, parent: ParentRef, sender: Id | null): void {
    this.insert(w, parent, model, record.uuid, encodeWith(stateRecordEncoding(model), record), record.hlc.device, encodeHlcTime(record.hlc), sender);
  }

  parkChange(w: Writer, model: SharedModel, change: SharedChange, parent: ParentRef, sender: Id | null): void {
    this.insert(w, parent, model, change.uuid, encodeWith(sharedChangeEncoding(model), change), null, null, sender);
  }

  private insert(w: Writer, parent: ParentRef, model: Model, uuid: Id, record: Uint8Array, owner: Id | null, stamp: Uint8Array | null, sender: Id | null): void {
    this.size(w);
    if (sender) this.sentBy(w, sender);
    w.run('INSERT INTO parked (parent_model, parent_uuid, model, uuid, record, owner, stamp, sender) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
      parent.model,
      parent.uuid,
      model.name,
      uuid,
      record,
      owner,
      stamp,
      sender,
    ]);
    this.count++;
    if (sender) this.bySender.set(idKey(sender), this.bySender.get(idKey(sender))! + 1);
  }

  /**
   * Drops `owner`'s device-owned records that wait for a row of its
   * `parentModel` that is not here, when every row of that model its owner
   * has is here (the caller knows): that parent does not exist in its
   * owner's data any more. Returns how many were dropped.
   */
  dropOrphans(w: Writer, owner: Id, parentModel: string, asOf: Uint8Array): { dropped: number; oldest: Map<string, Uint8Array> } {
    const oldest = new Map<string, Uint8Array>();
    if (this.size(w) === 0) return { dropped: 0, oldest };
    const table = this.registry.get(parentModel).table;
    let dropped = 0;
    for (const [id, parent, model, stamp] of w.rows('SELECT id, parent_uuid, model, stamp FROM parked WHERE owner = ? AND parent_model = ? AND stamp <= ?', [owner, parentModel, asOf])) {
      if (w.value(`SELECT 1 FROM ${table} WHERE uuid = ?`, [parent as Uint8Array]) !== undefined) continue;
      w.run('DELETE FROM parked WHERE id = ?', [id as number]);
      this.count--;
      this.bySender.clear();
      dropped++;
      const was = oldest.get(model as string);
      if (stamp instanceof Uint8Array && (!was || Buffer.compare(stamp, was) < 0)) oldest.set(model as string, stamp);
    }
    return { dropped, oldest };
  }

  /** The oldest stamp (8-byte time) of `owner`'s `model` rows parked here, or null. */
  oldestStamp(r: Reader, owner: Id, model: string): Uint8Array | null {
    if (this.size(r) === 0) return null;
    const v = r.value('SELECT min(stamp) FROM parked WHERE model = ? AND owner = ?', [model, owner]);
    return v instanceof Uint8Array ? v : null;
  }

  /** Removes and returns what waited for (model, uuid). */
  release(w: Writer, parentModel: ModelName, parentUuid: Id): Parked[] {
    if (this.size(w) === 0) return [];
    const rows = w.rows('SELECT id, model, record FROM parked WHERE parent_model = ? AND parent_uuid = ? ORDER BY id', [parentModel, parentUuid]);
    if (rows.length === 0) return [];
    w.run('DELETE FROM parked WHERE parent_model = ? AND parent_uuid = ?', [parentModel, parentUuid]);
    this.count -= rows.length;
    this.bySender.clear();
    return rows.map(([, name, record]) => {
      const model = this.registry.get(name as string);
      return model.kind === 'device-owned'
        ? { model, record: decodeWith(stateRecordEncoding(model), record as Uint8Array, 'parked record') }
        : { model, change: decodeWith(sharedChangeEncoding(model), record as Uint8Array, 'parked change') };
    });
  }

  /**
   * Per origin (idKey), the lowest seq of a shared change still waiting here.
   * Such a change is in the log and the vector but not yet in its table, so
   * the log must keep it and a snapshot cannot vouch for it.
   */
  waitingSeqs(r: Reader): Map<string, number> {
    const out = new Map<string, number>();
    if (this.size(r) === 0) return out;
    for (const [name, record] of r.rows('SELECT model, record FROM parked')) {
      const model = this.registry.get(name as string);
      if (model.kind !== 'shared') continue;
      const ch = decodeWith(sharedChangeEncoding(model), record as Uint8Array, 'parked change');
      const key = idKey(ch.hlc.device);
      out.set(key, Math.min(out.get(key) ?? Infinity, ch.seq));
    }
    return out;
  }

  /** Once, after the upgrade that added them: fills in the owner and stamp of device-owned records parked before. */
  upgrade(w: Writer): void {
    for (const [id, name, record] of w.rows('SELECT id, model, record FROM parked WHERE owner IS NULL')) {
      const model = this.registry.get(name as string);
      if (model.kind !== 'device-owned') continue;
      const rec = decodeWith(stateRecordEncoding(model), record as Uint8Array, 'parked record');
      w.run('UPDATE parked SET owner = ?, stamp = ? WHERE id = ?', [rec.hlc.device, encodeHlcTime(rec.hlc), id as number]);
    }
  }

  /** Forget the cached count (after a rolled-back transaction). */
  invalidate(): void {
    this.count = -1;
    this.bySender.clear();
  }
}
