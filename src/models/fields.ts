/**
 * Field descriptions shared by every model: what a field holds, how it is
 * validated, and a compact binary codec for a record's fields (used on the
 * wire and for parked records). A record's data may be partial (a shared
 * update carries only the fields it changes): the encoding carries a bitmap
 * of present fields and a bitmap of nulls, then the present non-null values.
 */
import c from 'compact-encoding';
import { ID_BYTES, readId, type Id } from '../core/ids';

export type FieldType = 'id' | 'text' | 'int' | 'bool' | 'json';
export type FieldValue = Id | string | number | boolean | null;
export type RecordData = Record<string, FieldValue>;

export interface FieldSpec {
  /** Name in records and on the wire; also the column name. */
  readonly name: string;
  readonly type: FieldType;
  /** May be null. */
  readonly nullable?: boolean;
  /** Characters, for text and json. Default 4096. */
  readonly maxLength?: number;
  /** Part of the record's identity: set on create, never changed by update; kept on tombstones. */
  readonly identity?: boolean;
  /** Inclusive bounds for int fields. */
  readonly min?: number;
  readonly max?: number;
}

export class RecordFormatError extends Error {
  readonly code = 'ERR_RECORD_FORMAT';
  constructor(message: string) {
    super(message);
    this.name = 'RecordFormatError';
  }
}

const MAX_FIELDS = 31;
const MAX_INT = 2 ** 52 - 1;
const DEFAULT_MAX_TEXT = 4096;

export function checkValue(model: string, f: FieldSpec, v: unknown): FieldValue {
  if (v === null || v === undefined) {
    if (!f.nullable) throw new RecordFormatError(`${model}.${f.name} must not be empty`);
    return null;
  }
  switch (f.type) {
    case 'id':
      if (!(v instanceof Uint8Array) || v.length !== ID_BYTES) throw new RecordFormatError(`${model}.${f.name} must be a ${ID_BYTES}-byte id`);
      return v;
    case 'text':
    case 'json': {
      if (typeof v !== 'string') throw new RecordFormatError(`${model}.${f.name} must be a string`);
      const max = f.maxLength ?? DEFAULT_MAX_TEXT;
      if (v.length > max) throw new RecordFormatError(`${model}.${f.name} is ${v.length} characters long; the limit is ${max}`);
      if (f.type === 'json') {
        try {
          JSON.parse(v);
        } catch {
          throw new RecordFormatError(`${model}.${f.name} is not valid JSON`);
        }
      }
      return v;
    }
    case 'int':
      // ±(2^52 - 1): what compact-encoding's zigzag int carries exactly.
      if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) > MAX_INT) throw new RecordFormatError(`${model}.${f.name} must be an integer of at most 52 bits`);
      if ((f.min !== undefined && v < f.min) || (f.max !== undefined && v > f.max))
        throw new RecordFormatError(`${model}.${f.name} must be between ${f.min ?? '-∞'} and ${f.max ?? '∞'}`);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw new RecordFormatError(`${model}.${f.name} must be true or false`);
      return v;
  }
}

const knownFields = new WeakMap<readonly FieldSpec[], Set<string>>();

/** Validates the fields present in `data` (all of them when `complete`). Unknown fields are an error. */
export function checkData(model: string, fields: readonly FieldSpec[], data: unknown, complete: boolean): RecordData {
  if (typeof data !== 'object' || data === null) throw new RecordFormatError(`${model} record data must be an object`);
  let known = knownFields.get(fields);
  if (!known) knownFields.set(fields, (known = new Set(fields.map((f) => f.name))));
  let keys = 0;
  for (const k in data) {
    if (!known.has(k)) throw new RecordFormatError(`${model} has no field "${k.slice(0, 64)}"`);
    keys++;
  }
  // Returns `data` itself when it needs no normalisation (the common case:
  // this runs for every record applied); a copy otherwise.
  let out: RecordData | null = complete && keys !== fields.length ? {} : null;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const v = (data as Record<string, unknown>)[f.name];
    if (v === undefined && !complete) continue;
    const checked = checkValue(model, f, v);
    if (checked !== v && !out) {
      out = {};
      for (let j = 0; j < i; j++) if ((data as RecordData)[fields[j].name] !== undefined) out[fields[j].name] = (data as RecordData)[fields[j].name];
    }
    if (out) out[f.name] = checked;
  }
  return out ?? (data as RecordData);
}

export interface DataCodec {
  encode(data: RecordData): Uint8Array;
  decode(bytes: Uint8Array): RecordData;
  preencode(state: c.State, data: RecordData): void;
  encodeInto(state: c.State, data: RecordData): void;
  decodeFrom(state: c.State): RecordData;
}

const idCodec = c.fixed(ID_BYTES);

export function dataCodec(model: string, fields: readonly FieldSpec[]): DataCodec {
  if (fields.length > MAX_FIELDS) throw new Error(`${model}: at most ${MAX_FIELDS} fields`);
  // The two field bitmaps of the record being encoded (set by masks(); no array per record).
  let encPresent = 0;
  let encNulls = 0;
  const masks = (data: RecordData) => {
    encPresent = 0;
    encNulls = 0;
    for (let i = 0; i < fields.length; i++) {
      const v = data[fields[i].name];
      if (v === undefined) continue;
      encPresent |= 1 << i;
      if (v === null) encNulls |= 1 << i;
    }
    encPresent >>>= 0;
    encNulls >>>= 0;
  };
  const valueCodec = (f: FieldSpec): c.Encoder<any> => {
    switch (f.type) {
      case 'id':
        return idCodec;
      case 'text':
      case 'json':
        return c.string;
      case 'int':
        return c.int;
      case 'bool':
        return c.bool;
    }
  };
  const codecs = fields.map(valueCodec);
  const preencode = (state: c.State, data: RecordData) => {
    masks(data);
    c.uint.preencode(state, encPresent);
    c.uint.preencode(state, encNulls);
    for (let i = 0; i < fields.length; i++) {
      const v = data[fields[i].name];
      if (v !== undefined && v !== null) codecs[i].preencode(state, v);
    }
  };
  const encodeInto = (state: c.State, data: RecordData) => {
    masks(data);
    c.uint.encode(state, encPresent);
    c.uint.encode(state, encNulls);
    for (let i = 0; i < fields.length; i++) {
      const v = data[fields[i].name];
      if (v !== undefined && v !== null) codecs[i].encode(state, v);
    }
  };
  const all = 2 ** fields.length - 1;
  // Per id field, the last id decoded: consecutive records mostly share it (location, parent).
  const lastIds: (Id | null)[] = fields.map(() => null);
  const decodeFrom = (state: c.State): RecordData => {
    const present = c.uint.decode(state);
    const nulls = c.uint.decode(state);
    if (present > all || (nulls & ~present) !== 0) throw new RecordFormatError(`${model}: bad field bitmap`);
    const out: RecordData = {};
    for (let i = 0; i < fields.length; i++) {
      const bit = 1 << i;
      if (!(present & bit)) continue;
      let v: FieldValue;
      if (nulls & bit) v = null;
      else if (fields[i].type === 'id') {
        if (state.end - state.start < ID_BYTES) throw new Error('Out of bounds');
        v = lastIds[i] = readId(state.buffer!, state.start, lastIds[i]);
        state.start += ID_BYTES;
      } else v = codecs[i].decode(state);
      out[fields[i].name] = checkValue(model, fields[i], v);
    }
    return out;
  };
  return {
    preencode,
    encodeInto,
    decodeFrom,
    encode(data) {
      const state = c.state();
      preencode(state, data);
      state.buffer = new Uint8Array(state.end);
      encodeInto(state, data);
      return state.buffer;
    },
    decode(bytes) {
      const state = c.state(0, bytes.byteLength, bytes);
      let out: RecordData;
      try {
        out = decodeFrom(state);
      } catch (e) {
        if (e instanceof RecordFormatError) throw e;
        throw new RecordFormatError(`${model}: malformed record (${(e as Error).message})`);
      }
      if (state.start !== state.end) throw new RecordFormatError(`${model}: ${state.end - state.start} trailing bytes`);
      return out;
    },
  };
}

/** Converts a field value to what the store binds. */
export function toSql(f: FieldSpec, v: FieldValue | undefined): number | string | Uint8Array | null {
  if (v === undefined || v === null) return null;
  if (f.type === 'bool') return v ? 1 : 0;
  return v as number | string | Uint8Array;
}

/** Converts a stored column back to a field value. */
export function fromSql(f: FieldSpec, v: unknown): FieldValue {
  if (v === null || v === undefined) return null;
  if (f.type === 'bool') return v === 1 || v === true;
  if (f.type === 'id') return v instanceof Uint8Array ? v : null;
  return v as FieldValue;
}
