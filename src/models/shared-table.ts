/**
 * A shared model: any device writes it, changes travel through the peer log,
 * and every replica merges them into the same row whatever the order:
 *
 * - each field keeps the value of the change with the highest stamp that set
 *   it (per-field last writer wins, DESIGN rule 7);
 * - `create` marks the row created at its stamp, `delete` marks it deleted
 *   at its stamp; the row is live when its newest create is newer than its
 *   newest delete. An `update` never revives a deleted row: only a create
 *   that is later than the delete does (DESIGN rule 3).
 *
 * The state is a function of the set of changes applied, so applying is
 * idempotent and order-independent, and it never consults the log (rule 2).
 */
import { compareHlc, encodeHlc, type Hlc } from '../core/hlc';
import type { Reader, SqlValue, Writer } from '../store';
import { derivedId, type Id } from '../core/ids';
import { dataCodec, fromSql, RecordFormatError, toSql, type FieldSpec, type RecordData } from './fields';
import { digestRows, type ModelName, type ParentRef, type SharedChange, type SharedModel, type SharedRow } from './model';
import { bytesOrNull, columnType, stamp, stampOrNull } from './sql';
import { computeSharedState, updateSharedState, type SharedState } from './shared-state';

export interface SharedTableSpec {
  name: ModelName;
  table: string;
  fields: readonly FieldSpec[];
  dependsOn: readonly ModelName[];
  /** Required parent for creates: parked until that row exists. */
  parent?: { model: ModelName; table: string; field: string };
  /** The row's id is derived from these identity fields (one row per item, not one per writer). */
  idFrom?: readonly string[];
  extraSchema?: readonly string[];
}

const SAME_AS_CREATED = new Uint8Array(0);

function newer(a: Hlc | null, b: Hlc | null): Hlc | null {
  if (!a) return b;
  if (!b) return a;
  return compareHlc(a, b) >= 0 ? a : b;
}

export class SharedTable implements SharedModel {
  readonly kind = 'shared' as const;
  readonly name: ModelName;
  readonly table: string;
  readonly fields: readonly FieldSpec[];
  readonly dependsOn: readonly ModelName[];
  readonly codec;
  readonly schema: readonly string[];
  private readonly spec: SharedTableSpec;
  private readonly selectSql: string;
  private readonly writeSql: string;

  constructor(spec: SharedTableSpec) {
    this.spec = spec;
    this.name = spec.name;
    this.table = spec.table;
    this.fields = spec.fields;
    this.dependsOn = spec.dependsOn;
    this.codec = dataCodec(spec.name, spec.fields);
    const t = spec.table;
    const cols = spec.fields.flatMap((f) => [`${f.name} ${columnType(f)}`, `${f.name}_hlc BLOB`]);
    this.schema = [
      `CREATE TABLE ${t} (uuid BLOB PRIMARY KEY, hlc BLOB NOT NULL, created_hlc BLOB, deleted_hlc BLOB, live INTEGER NOT NULL, ${cols.join(', ')}) WITHOUT ROWID`,
      ...(spec.extraSchema ?? []),
    ];
    const names = spec.fields.flatMap((f) => [f.name, `${f.name}_hlc`]);
    this.selectSql = `SELECT uuid, hlc, created_hlc, deleted_hlc, live, ${names.join(', ')} FROM ${t}`;
    this.writeSql = `INSERT OR REPLACE INTO ${t} (uuid, hlc, created_hlc, deleted_hlc, live, ${names.join(', ')}) VALUES (${[
      '?',
      '?',
      '?',
      '?',
      '?',
      ...names.map(() => '?'),
    ].join(', ')})`;
  }

  parentOf(change: SharedChange): ParentRef | null {
    const p = this.spec.parent;
    if (!p || change.op !== 'create') return null;
    const v = change.data[p.field];
    return v instanceof Uint8Array ? { model: p.model, uuid: v } : null;
  }

  derivedId(data: RecordData): Id | null {
    const from = this.spec.idFrom;
    if (!from) return null;
    const parts = from.map((f) => {
      const v = data[f];
      if (typeof v !== 'string' && !(v instanceof Uint8Array)) throw new RecordFormatError(`${this.name}.${f} is required`);
      return v;
    });
    return derivedId(this.name, ...parts);
  }

  parentTable(): string | null {
    return this.spec.parent?.table ?? null;
  }

  private toRow(row: readonly SqlValue[]): SharedRow {
    const data: RecordData = {};
    const fieldHlcs: Record<string, Hlc | null> = {};
    const createdHlc = stampOrNull(row[2]);
    this.fields.forEach((f, i) => {
      data[f.name] = fromSql(f, row[5 + 2 * i]);
      const h = row[6 + 2 * i];
      fieldHlcs[f.name] = h instanceof Uint8Array && h.length === 0 ? createdHlc : stampOrNull(h);
    });
    return {
      uuid: row[0] as Uint8Array,
      hlc: stamp(row[1]),
      createdHlc,
      deletedHlc: stampOrNull(row[3]),
      live: row[4] === 1,
      data,
      fieldHlcs,
    };
  }

  get(r: Reader, uuid: Id): SharedRow | null {
    const row = r.rows(`${this.selectSql} WHERE uuid = ?`, [uuid])[0];
    return row ? this.toRow(row) : null;
  }

  rows(r: Reader, after: Id | null, limit: number): SharedRow[] {
    return r.rows(`${this.selectSql} WHERE uuid > ? ORDER BY uuid LIMIT ?`, [after ?? new Uint8Array(0), limit]).map((row) => this.toRow(row));
  }

  applyChange(w: Writer, change: SharedChange): boolean {
    const fieldHlcs: Record<string, Hlc> = {};
    for (const k of Object.keys(change.data)) fieldHlcs[k] = change.hlc;
    return this.merge(w, change.uuid, {
      hlc: change.hlc,
      createdHlc: change.op === 'create' ? change.hlc : null,
      deletedHlc: change.op === 'delete' ? change.hlc : null,
      data: change.op === 'delete' ? {} : change.data,
      fieldHlcs,
    });
  }

  mergeRow(w: Writer, row: SharedRow): boolean {
    const fieldHlcs: Record<string, Hlc> = {};
    const data: RecordData = {};
    for (const f of this.fields) {
      const h = row.fieldHlcs[f.name];
      if (h) {
        fieldHlcs[f.name] = h;
        data[f.name] = row.data[f.name] ?? null;
      }
    }
    return this.merge(w, row.uuid, { hlc: row.hlc, createdHlc: row.createdHlc, deletedHlc: row.deletedHlc, data, fieldHlcs });
  }

  private merge(
    w: Writer,
    uuid: Id,
    inc: { hlc: Hlc; createdHlc: Hlc | null; deletedHlc: Hlc | null; data: RecordData; fieldHlcs: Record<string, Hlc> },
  ): boolean {
    const raw = this.rawRow(w, uuid);
    const cur = raw ? this.toRow(raw) : null;
    let changed = !cur;
    const createdHlc = newer(cur?.createdHlc ?? null, inc.createdHlc);
    const deletedHlc = newer(cur?.deletedHlc ?? null, inc.deletedHlc);
    if (cur && (createdHlc !== cur.createdHlc || deletedHlc !== cur.deletedHlc)) changed = true;
    const values: SqlValue[] = [];
    for (const f of this.fields) {
      const curHlc = cur?.fieldHlcs[f.name] ?? null;
      const incHlc = inc.fieldHlcs[f.name];
      let value = cur?.data[f.name] ?? null;
      let h = curHlc;
      if (incHlc && (!curHlc || compareHlc(incHlc, curHlc) > 0)) {
        value = inc.data[f.name] ?? null;
        h = incHlc;
        changed = true;
      }
      // A field last set by the row's newest create (the usual case) stores an
      // empty stamp meaning "same as created_hlc": 1 byte instead of 24.
      values.push(toSql(f, value), h && createdHlc && compareHlc(h, createdHlc) === 0 ? SAME_AS_CREATED : bytesOrNull(h));
    }
    if (!changed) return false;
    const hlc = newer(cur?.hlc ?? null, inc.hlc)!;
    const live = !!createdHlc && (!deletedHlc || compareHlc(createdHlc, deletedHlc) > 0);
    // The row as written is the row as stored (each value is already of its column's type): no read back.
    const after: SqlValue[] = [uuid, encodeHlc(hlc), bytesOrNull(createdHlc), bytesOrNull(deletedHlc), live ? 1 : 0, ...values];
    w.run(this.writeSql, after);
    updateSharedState(w, this.name, raw, after);
    return true;
  }

  private rawRow(r: Reader, uuid: Id): SqlValue[] | null {
    return r.rows(`${this.selectSql} WHERE uuid = ?`, [uuid])[0] ?? null;
  }

  /** The model's state (shared-state.ts) computed from its rows. */
  computeState(r: Reader): SharedState {
    return computeSharedState(r, this.name, this.selectSql);
  }

  count(r: Reader): number {
    return Number(r.value(`SELECT count(*) FROM ${this.table} WHERE live = 1`));
  }

  digestPage(r: Reader, after: Id | null, limit: number, add: (chunk: string) => void): Id | null {
    return digestRows(r.rows(`${this.selectSql} WHERE uuid > ? ORDER BY uuid LIMIT ?`, [after ?? new Uint8Array(0), limit]), limit, add);
  }
}
