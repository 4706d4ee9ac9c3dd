/** Small helpers shared by the table implementations. */
import { decodeHlc, encodeHlc, encodeHlcTime, hlcFromTime, type Hlc } from '../core/hlc';
import { toHex } from '../core/ids';
import type { SqlValue } from '../store';
import { fromSql, toSql, type FieldSpec, type RecordData } from './fields';

export function columnType(f: FieldSpec): string {
  switch (f.type) {
    case 'id':
      return 'BLOB';
    case 'int':
    case 'bool':
      return 'INTEGER';
    default:
      return 'TEXT';
  }
}

export function time(h: Hlc): Uint8Array {
  return encodeHlcTime(h);
}

export function stampFromTime(v: SqlValue, owner: Uint8Array): Hlc {
  return hlcFromTime(v as Uint8Array, owner);
}

export function stamp(v: SqlValue): Hlc {
  return decodeHlc(v as Uint8Array);
}

export function stampOrNull(v: SqlValue | undefined): Hlc | null {
  return v instanceof Uint8Array ? decodeHlc(v) : null;
}

export function bytesOrNull(h: Hlc | null): Uint8Array | null {
  return h ? encodeHlc(h) : null;
}

export function dataFromRow(fields: readonly FieldSpec[], row: readonly SqlValue[], from: number, only?: (f: FieldSpec) => boolean): RecordData {
  const out: RecordData = {};
  for (let i = 0; i < fields.length; i++) {
    if (only && !only(fields[i])) continue;
    out[fields[i].name] = fromSql(fields[i], row[from + i]);
  }
  return out;
}

export function sqlValues(fields: readonly FieldSpec[], data: RecordData, only?: (f: FieldSpec) => boolean): SqlValue[] {
  return fields.map((f) => (only && !only(f) ? null : toSql(f, data[f.name])));
}

/** Canonical text for digests: stable across replicas, independent of local ids. */
export function canonical(v: SqlValue | undefined): string {
  if (v === null || v === undefined) return '~';
  if (v instanceof Uint8Array) return 'x' + toHex(v);
  if (typeof v === 'number') return 'n' + v;
  return 's' + JSON.stringify(v);
}
