/**
 * Small compact-encoding codecs the message codecs are built from. Each one
 * validates what it is given on the way out (preencode) and what it reads on
 * the way in (decode), throwing ProtocolError, and checks every length
 * before it allocates anything.
 */
import c from 'compact-encoding';
import { encodeHlc, HLC_BYTES, HLC_TIME_BYTES, readHlc, validateHlc, type Hlc } from '../core/hlc';
import { ID_BYTES, type Id } from '../core/ids';
import { ProtocolError, type ErrorCode } from './errors';

export type Codec<T> = c.Encoder<T>;

export function fail(code: ErrorCode, message: string): never {
  throw new ProtocolError(code, message);
}

function remaining(state: c.State): number {
  return state.end - state.start;
}

/**
 * The next `size` bytes as a new plain Uint8Array (Buffer#slice would return
 * a view of the frame, and a Buffer rather than a Uint8Array).
 */
function copyOut(state: c.State, size: number): Uint8Array {
  const out = new Uint8Array(state.buffer!.subarray(state.start, state.start + size));
  state.start += size;
  return out;
}

/** An unsigned integer in [min, max] (compact-encoding uint: 1, 3, 5 or 9 bytes). */
export function boundedUint(what: string, min: number, max: number): Codec<number> {
  return {
    preencode(state, n) {
      if (!Number.isSafeInteger(n) || n < min || n > max) fail('bad-record', `${what} must be an integer from ${min} to ${max}`);
      c.uint.preencode(state, n);
    },
    encode(state, n) {
      c.uint.encode(state, n);
    },
    decode(state) {
      const n = c.uint.decode(state);
      if (n < min || n > max) fail('bad-record', `${what} is ${n}; it must be from ${min} to ${max}`);
      return n;
    },
  };
}

/** A uint that must equal one expected value, with its own error code when it does not. */
export function exactUint(what: string, expected: number, code: ErrorCode): Codec<number> {
  return {
    preencode(state, n) {
      if (n !== expected) fail(code, `${what} must be ${expected}, not ${String(n).slice(0, 32)}`);
      c.uint.preencode(state, n);
    },
    encode(state, n) {
      c.uint.encode(state, n);
    },
    decode(state) {
      const n = c.uint.decode(state);
      if (n !== expected) fail(code, `${what} is ${n}; this device speaks ${expected}`);
      return n;
    },
  };
}

/** One byte, 0 or 1 (anything else is refused, so every value has one encoding). */
export const bool: Codec<boolean> = {
  preencode(state, b) {
    if (typeof b !== 'boolean') fail('bad-record', 'expected true or false');
    state.end++;
  },
  encode(state, b) {
    state.buffer![state.start++] = b ? 1 : 0;
  },
  decode(state) {
    const v = c.uint8.decode(state);
    if (v > 1) fail('bad-record', `a boolean must be 0 or 1, not ${v}`);
    return v === 1;
  },
};

/** Fixed-size bytes, copied out of the frame on decode so messages never pin it. */
export function fixedBytes(what: string, size: number): Codec<Uint8Array> {
  return {
    preencode(state, b) {
      if (!(b instanceof Uint8Array) || b.byteLength !== size) fail('bad-record', `${what} must be ${size} bytes`);
      state.end += size;
    },
    encode(state, b) {
      state.buffer!.set(b, state.start);
      state.start += size;
    },
    decode(state) {
      if (remaining(state) < size) fail('bad-frame', `${what} is cut short`);
      return copyOut(state, size);
    },
  };
}

export const id: Codec<Id> = fixedBytes('id', ID_BYTES);

/** 8-byte HLC time (ms, counter); every 8 bytes are a valid time. */
export const hlcTime: Codec<Uint8Array> = fixedBytes('HLC time', HLC_TIME_BYTES);

/** Throws unless `h` is a stamp that encodes as it is. */
export function checkHlc(h: unknown, what = 'HLC'): asserts h is Hlc {
  if (!h || typeof h !== 'object') fail('bad-record', `${what} must be an HLC stamp`);
  validateHlc(h as Hlc);
}

/** The device of the last stamp decoded: stamps in a message mostly share it (see readId). */
let lastDevice: Id | null = null;

/** A full 24-byte HLC stamp. */
export const hlc: Codec<Hlc> = {
  preencode(state, h) {
    checkHlc(h);
    state.end += HLC_BYTES;
  },
  encode(state, h) {
    state.buffer!.set(encodeHlc(h), state.start);
    state.start += HLC_BYTES;
  },
  decode(state) {
    if (remaining(state) < HLC_BYTES) fail('bad-frame', 'HLC is cut short');
    const h = readHlc(state.buffer!, state.start, lastDevice);
    lastDevice = h.device;
    state.start += HLC_BYTES;
    return h;
  },
};

/** A value or null: a 0/1 flag, then the value if 1. */
export function optional<T>(enc: Codec<T>): Codec<T | null> {
  return {
    preencode(state, v) {
      state.end++;
      if (v !== null && v !== undefined) enc.preencode(state, v);
    },
    encode(state, v) {
      const present = v !== null && v !== undefined;
      state.buffer![state.start++] = present ? 1 : 0;
      if (present) enc.encode(state, v);
    },
    decode(state) {
      return bool.decode(state) ? enc.decode(state) : null;
    },
  };
}

/**
 * A UTF-8 string of at most `maxBytes` bytes (checked before anything is
 * read) and `maxChars` UTF-16 code units.
 */
export function boundedString(what: string, maxBytes: number, maxChars = maxBytes, tooLong: ErrorCode = 'too-large'): Codec<string> {
  return {
    preencode(state, s) {
      if (typeof s !== 'string') fail('bad-record', `${what} must be a string`);
      if (s.length > maxChars || Buffer.byteLength(s, 'utf8') > maxBytes)
        fail(tooLong, `${what} is longer than ${Math.min(maxChars, maxBytes)} characters`);
      c.string.preencode(state, s);
    },
    encode(state, s) {
      c.string.encode(state, s);
    },
    decode(state) {
      const start = state.start;
      const len = c.uint.decode(state);
      if (len > maxBytes) fail(tooLong, `${what} claims ${len} bytes; the limit is ${maxBytes}`);
      state.start = start;
      const s = c.string.decode(state);
      if (s.length > maxChars) fail(tooLong, `${what} is ${s.length} characters; the limit is ${maxChars}`);
      return s;
    },
  };
}

/** One of a fixed list of strings, sent as its index (the list's order is part of the protocol). */
export function stringEnum<T extends string>(what: string, values: readonly T[]): Codec<T> {
  const index = new Map<string, number>(values.map((v, i) => [v, i]));
  return {
    preencode(state, v) {
      const i = index.get(v);
      if (i === undefined) fail('bad-record', `unknown ${what} ${JSON.stringify(String(v)).slice(0, 64)}`);
      c.uint.preencode(state, i);
    },
    encode(state, v) {
      c.uint.encode(state, index.get(v)!);
    },
    decode(state) {
      const i = c.uint.decode(state);
      if (i >= values.length) fail('bad-record', `unknown ${what} #${i}`);
      return values[i];
    },
  };
}

export interface ArrayBounds<T> {
  /** Most elements accepted. */
  max: number;
  /** Fewest bytes one element can take: a count claiming more than the bytes left fails before anything is read. */
  minItemBytes: number;
  /** Elements must be distinct by this key. */
  uniqueBy?: (item: T) => string;
  /** At most `max` elements may share this key. */
  perKey?: { key: (item: T) => string; max: number };
}

export function boundedArray<T>(what: string, enc: Codec<T>, bounds: ArrayBounds<T>): Codec<readonly T[]> {
  const { max, minItemBytes, uniqueBy, perKey } = bounds;
  const checkUnique = (list: readonly T[]) => {
    if (list.length < 2) return;
    if (uniqueBy) {
      const seen = new Set<string>();
      for (const item of list) {
        const k = uniqueBy(item);
        if (seen.has(k)) fail('bad-record', `${what} lists the same entry twice`);
        seen.add(k);
      }
    }
    if (perKey) {
      const counts = new Map<string, number>();
      for (const item of list) {
        const k = perKey.key(item);
        const n = (counts.get(k) ?? 0) + 1;
        if (n > perKey.max) fail('bad-record', `${what} lists more than ${perKey.max} entries for one key`);
        counts.set(k, n);
      }
    }
  };
  return {
    preencode(state, list) {
      if (!Array.isArray(list)) fail('bad-record', `${what} must be an array`);
      if (list.length > max) fail('too-large', `${what} has ${list.length} elements; the limit is ${max}`);
      c.uint.preencode(state, list.length);
      for (let i = 0; i < list.length; i++) enc.preencode(state, list[i]);
      checkUnique(list);
    },
    encode(state, list) {
      c.uint.encode(state, list.length);
      for (let i = 0; i < list.length; i++) enc.encode(state, list[i]);
    },
    decode(state) {
      const len = c.uint.decode(state);
      if (len > max) fail('too-large', `${what} claims ${len} elements; the limit is ${max}`);
      if (len * minItemBytes > remaining(state)) fail('bad-frame', `${what} claims ${len} elements but only ${remaining(state)} bytes remain`);
      const out: T[] = [];
      for (let i = 0; i < len; i++) out.push(enc.decode(state));
      checkUnique(out);
      return out;
    },
  };
}

/** A field's codec, or a function choosing it from the fields before it (on decode: those decoded so far). */
export type FieldCodec<M, V> = Codec<V> | ((m: M) => Codec<V>);

/** One codec per field of M except `type`, in wire order (the order written). */
export type FieldCodecs<M> = { readonly [K in Exclude<keyof M, 'type'>]-?: FieldCodec<M, M[K]> };

export interface StructOptions<M> {
  /** Fields set before decoding (a message's `type`). */
  init?: () => Partial<M>;
  /** Checks across fields, after the fields themselves (both directions). */
  check?: (m: M) => void;
}

/**
 * An object codec declared once as its fields' codecs, used for preencode,
 * encode and decode alike, so the three cannot drift apart.
 */
export function struct<M extends object>(what: string, fields: FieldCodecs<M>, opts: StructOptions<M> = {}): Codec<M> {
  const list = Object.entries(fields) as [string, FieldCodec<M, unknown>][];
  const pick = (f: FieldCodec<M, unknown>, m: M) => (typeof f === 'function' ? f(m) : f);
  return {
    preencode(state, m) {
      if (!m || typeof m !== 'object') fail('bad-record', `${what} must be an object`);
      for (const [k, f] of list) pick(f, m).preencode(state, (m as Record<string, unknown>)[k]);
      opts.check?.(m);
    },
    encode(state, m) {
      for (const [k, f] of list) pick(f, m).encode(state, (m as Record<string, unknown>)[k]);
    },
    decode(state) {
      const out = (opts.init ? opts.init() : {}) as Record<string, unknown>;
      for (const [k, f] of list) out[k] = pick(f, out as M).decode(state);
      opts.check?.(out as M);
      return out as M;
    },
  };
}

/** Ids as map keys: the raw bytes as a latin1 string (cheap, exact). */
export function idKeyOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}
