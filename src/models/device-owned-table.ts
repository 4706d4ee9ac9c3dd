/**
 * A device-owned model stored in one table keyed by uuid: device, volume,
 * location. Synced by state: the owner's newest stamp wins; tombstones are
 * rows with `deleted = 1` that keep only their identity fields.
 */
import { compareBytes } from '../core/hlc';
import { idEquals, idToString, type Id } from '../core/ids';
import type { Reader, SqlValue, Writer } from '../store';
import { OwnershipError } from './errors';
import { dataCodec, type FieldSpec, type RecordData } from './fields';
import { digestRows, type ApplyStateResult, type DeviceOwnedModel, type ModelName, type ParentRef, type StateRecord } from './model';
import { OwnerStateDelta } from './owner-state';
import { rowVersion } from './row-version';
import { columnType, dataFromRow, sqlValues, stampFromTime, time } from './sql';

export interface DeviceOwnedTableSpec {
  name: ModelName;
  table: string;
  fields: readonly FieldSpec[];
  dependsOn: readonly ModelName[];
  /** The field naming the owning device; absent for the device model itself (owner = uuid). */
  ownerField?: string;
  /** Required parent: the record is parked until a row of that model with this field's uuid exists. */
  parent?: { model: ModelName; table: string; field: string };
  /** Extra columns that are local to this device: never synced, never in digests. */
  localColumns?: readonly string[];
  extraSchema?: readonly string[];
}

export class DeviceOwnedTable implements DeviceOwnedModel {
  readonly kind = 'device-owned' as const;
  readonly name: ModelName;
  readonly table: string;
  readonly fields: readonly FieldSpec[];
  readonly dependsOn: readonly ModelName[];
  readonly codec;
  readonly schema: readonly string[];
  private readonly spec: DeviceOwnedTableSpec;
  private readonly cols: string;
  private readonly upsertSql: string;
  /** A stored row's owner, stamp, tombstone flag and field values (as row-version.ts hashes them). */
  private readonly existingSql: string;
  private readonly isIdentity = (f: FieldSpec) => !!f.identity;

  constructor(spec: DeviceOwnedTableSpec) {
    this.spec = spec;
    this.name = spec.name;
    this.table = spec.table;
    this.fields = spec.fields;
    this.dependsOn = spec.dependsOn;
    this.codec = dataCodec(spec.name, spec.fields);
    const t = spec.table;
    const fieldCols = spec.fields.map((f) => `${f.name} ${columnType(f)}`);
    this.schema = [
      `CREATE TABLE ${t} (id INTEGER PRIMARY KEY, uuid BLOB NOT NULL UNIQUE, owner BLOB NOT NULL, hlc BLOB NOT NULL, ` +
        `deleted INTEGER NOT NULL DEFAULT 0, ${[...fieldCols, ...(spec.localColumns ?? [])].join(', ')})`,
      `CREATE INDEX ${t}_since ON ${t}(owner, hlc)`,
      ...(spec.extraSchema ?? []),
    ];
    this.cols = spec.fields.map((f) => f.name).join(', ');
    this.existingSql = `SELECT owner, hlc, deleted, ${this.cols} FROM ${t} WHERE uuid = ?`;
    const names = spec.fields.map((f) => f.name);
    this.upsertSql =
      `INSERT INTO ${t} (uuid, owner, hlc, deleted, ${this.cols}) VALUES (?, ?, ?, ?, ${names.map(() => '?').join(', ')}) ` +
      `ON CONFLICT(uuid) DO UPDATE SET hlc = excluded.hlc, deleted = excluded.deleted, ` +
      names.map((n) => `${n} = excluded.${n}`).join(', ') +
      ` WHERE excluded.hlc > ${t}.hlc`;
  }

  ownerOf(_r: Reader, uuid: Id, data: RecordData): Id | null {
    if (!this.spec.ownerField) return uuid;
    const v = data[this.spec.ownerField];
    return v instanceof Uint8Array ? v : null;
  }

  applyState(w: Writer, records: readonly StateRecord[]): ApplyStateResult {
    const result: ApplyStateResult = { applied: [], stale: 0, parked: [], rejected: [] };
    const delta = new OwnerStateDelta(this.name);
    for (const rec of records) {
      const owner = rec.hlc.device;
      const claimed = this.ownerOf(w, rec.uuid, rec.data);
      if (!claimed || !idEquals(claimed, owner)) {
        const error = new OwnershipError(`${this.name} ${idToString(rec.uuid)} is not owned by device ${idToString(owner)} that stamped it`);
        result.rejected.push({ record: rec, error });
        continue;
      }
      const existing = w.rows(this.existingSql, [rec.uuid])[0];
      if (existing && !idEquals(existing[0] as Uint8Array, owner)) {
        result.rejected.push({ record: rec, error: new OwnershipError(`${this.name} ${idToString(rec.uuid)} belongs to another device`) });
        continue;
      }
      const t = time(rec.hlc);
      if (existing && compareBytes(existing[1] as Uint8Array, t) >= 0) {
        result.stale++;
        continue;
      }
      const parent = this.parentOf(rec);
      if (parent && !existing && !w.value(`SELECT 1 FROM ${this.spec.parent!.table} WHERE uuid = ?`, [parent.uuid])) {
        result.parked.push({ record: rec, parent });
        continue;
      }
      const values = sqlValues(this.fields, rec.data, rec.deleted ? this.isIdentity : undefined);
      w.run(this.upsertSql, [rec.uuid, owner, t, rec.deleted ? 1 : 0, ...values]);
      if (existing) delta.remove(owner, rowVersion(this.name, rec.uuid, existing[1] as Uint8Array, existing[2] === 1, existing.slice(3)), existing[2] === 1);
      delta.add(owner, rowVersion(this.name, rec.uuid, t, rec.deleted, values), t, rec.deleted);
      result.applied.push(rec);
    }
    if (!delta.empty) delta.flush(w, (o) => this.newestStamp(w, o));
    return result;
  }

  /** Feeds every row's (owner, uuid, stamp, deleted) to `add` (rebuilding owner states). */
  scanRows(r: Reader, add: (owner: Id, version: Uint8Array, time: Uint8Array, deleted: boolean) => void, owner?: Id): void {
    const rows = owner
      ? r.rows(`SELECT owner, hlc, deleted, ${this.cols}, uuid FROM ${this.table} WHERE owner = ?`, [owner])
      : r.rows(`SELECT owner, hlc, deleted, ${this.cols}, uuid FROM ${this.table}`);
    for (const row of rows) {
      const [owner, hlc, deleted] = row as [Id, Uint8Array, number];
      add(owner, rowVersion(this.name, row[row.length - 1] as Uint8Array, hlc, deleted === 1, row.slice(3, row.length - 1)), hlc, deleted === 1);
    }
  }

  versionOf(rec: StateRecord): Uint8Array {
    return rowVersion(this.name, rec.uuid, time(rec.hlc), rec.deleted, sqlValues(this.fields, rec.data, rec.deleted ? this.isIdentity : undefined));
  }

  restoreRow(w: Writer, prior: StateRecord): void {
    const values = sqlValues(this.fields, prior.data, prior.deleted ? this.isIdentity : undefined);
    const t = time(prior.hlc);
    const names = this.fields.map((f) => f.name);
    if (w.value(`SELECT 1 FROM ${this.table} WHERE uuid = ?`, [prior.uuid]) !== undefined) {
      w.run(`UPDATE ${this.table} SET hlc = ?, deleted = ?, ${names.map((n) => `${n} = ?`).join(', ')} WHERE uuid = ?`, [t, prior.deleted ? 1 : 0, ...values, prior.uuid]);
    } else {
      w.run(`INSERT INTO ${this.table} (uuid, owner, hlc, deleted, ${this.cols}) VALUES (?, ?, ?, ?, ${names.map(() => '?').join(', ')})`, [prior.uuid, prior.hlc.device, t, prior.deleted ? 1 : 0, ...values]);
    }
  }

  dropRow(w: Writer, uuid: Id): void {
    w.run(`DELETE FROM ${this.table} WHERE uuid = ?`, [uuid]);
  }

  dropOwner(w: Writer, owner: Id): void {
    w.run(`DELETE FROM ${this.table} WHERE owner = ?`, [owner]);
  }

  parentOf(rec: StateRecord): ParentRef | null {
    const p = this.spec.parent;
    if (!p) return null;
    const v = rec.data[p.field];
    return v instanceof Uint8Array ? { model: p.model, uuid: v } : null;
  }

  private toRecord(row: readonly SqlValue[]): StateRecord {
    // row: uuid, owner, hlc, deleted, ...fields
    const owner = row[1] as Uint8Array;
    const deleted = row[3] === 1;
    return {
      uuid: row[0] as Uint8Array,
      hlc: stampFromTime(row[2], owner),
      deleted,
      data: dataFromRow(this.fields, row, 4, deleted ? this.isIdentity : undefined),
    };
  }

  stateSince(r: Reader, owner: Id, after: Uint8Array | null, limit: number): StateRecord[] {
    return r
      .rows(`SELECT uuid, owner, hlc, deleted, ${this.cols} FROM ${this.table} WHERE owner = ? AND hlc > ? ORDER BY hlc LIMIT ?`, [
        owner,
        after ?? new Uint8Array(0),
        limit,
      ])
      .map((row) => this.toRecord(row));
  }

  countSince(r: Reader, owner: Id, after: Uint8Array | null): number {
    return Number(r.value(`SELECT count(*) FROM ${this.table} WHERE owner = ? AND hlc > ?`, [owner, after ?? new Uint8Array(0)]));
  }

  get(r: Reader, uuid: Id): StateRecord | null {
    const row = r.rows(`SELECT uuid, owner, hlc, deleted, ${this.cols} FROM ${this.table} WHERE uuid = ?`, [uuid])[0];
    return row ? this.toRecord(row) : null;
  }

  owners(r: Reader): Id[] {
    return r.rows(`SELECT DISTINCT owner FROM ${this.table}`).map((row) => row[0] as Uint8Array);
  }

  newestStamp(r: Reader, owner: Id): Uint8Array | null {
    const v = r.value(`SELECT max(hlc) FROM ${this.table} WHERE owner = ?`, [owner]);
    return v instanceof Uint8Array ? v : null;
  }

  count(r: Reader): number {
    return Number(r.value(`SELECT count(*) FROM ${this.table} WHERE deleted = 0`));
  }

  digestPage(r: Reader, after: Id | null, limit: number, add: (chunk: string) => void): Id | null {
    const rows = r.rows(`SELECT uuid, owner, hlc, deleted, ${this.cols} FROM ${this.table} WHERE uuid > ? ORDER BY uuid LIMIT ?`, [after ?? new Uint8Array(0), limit]);
    return digestRows(rows, limit, add);
  }
}
