/**
 * Journal record encoding.
 *
 * Frame (all integers little endian):
 *   0  u32  magic 'LSJR'
 *   4  u32  CRC32 (zlib.crc32) of bytes 8 .. end of payload
 *   8  u32  payload length
 *  12       payload
 *
 * Payload of a transaction record (type 1):
 *   u8   type = 1
 *   u64  seq (two u32: low, high)
 *   u32  number of statements
 *   per statement:
 *     u32 sqlRef: 0 = new SQL text follows (u32 byte length + UTF-8), which
 *                 gets the next index; k > 0 = the (k-1)th SQL text of this record
 *     u32 number of params
 *     per param: u8 tag + data
 *        0 null | 1 int32 (i32) | 2 number (f64) | 3 text (u32 len + UTF-8) | 4 blob (u32 len + bytes)
 *
 * Numbers are stored as f64 unless they are int32, so every JS number
 * round-trips bit-exactly (integers up to 2^53 included).
 */
import * as zlib from 'node:zlib';

export type SqlValue = number | string | Uint8Array | null;

export const FRAME_MAGIC = 0x524a534c; // bytes 'L' 'S' 'J' 'R'
export const FRAME_HEADER = 12;
export const RECORD_TX = 1;
/** Refuse to write (and treat as damage when reading) records larger than this. */
export const MAX_RECORD_BYTES = 1024 * 1024 * 1024;

const TAG_NULL = 0;
const TAG_INT32 = 1;
const TAG_F64 = 2;
const TAG_TEXT = 3;
const TAG_BLOB = 4;

const PAYLOAD_FIXED = 1 + 8 + 4;

type WellFormed = { isWellFormed(): boolean; toWellFormed(): string };

/**
 * Checks the params of a statement. Returns the array to bind (a copy only if
 * a string had to be made well-formed: lone surrogates would otherwise be
 * encoded differently by sql.js and by the journal).
 */
export function checkParams(params: readonly SqlValue[]): SqlValue[] {
  let out = params as SqlValue[];
  for (let i = 0; i < params.length; i++) {
    const v = params[i];
    if (typeof v === 'number' || v === null || v instanceof Uint8Array) continue;
    if (typeof v === 'string') {
      if (!(v as unknown as WellFormed).isWellFormed()) {
        if (out === params) out = params.slice();
        out[i] = (v as unknown as WellFormed).toWellFormed();
      }
      continue;
    }
    const u = v as unknown;
    const kind =
      u === undefined ? 'undefined' : typeof u === 'object' ? ((u as object).constructor?.name ?? 'object') : typeof u;
    throw new TypeError(
      `SQL parameter ${i + 1} has unsupported type ${kind} (expected number, string, Uint8Array or null)`,
    );
  }
  return out;
}

/** Builds one journal frame per transaction, statement by statement. */
export class RecordEncoder {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private pos = 0;
  private count = 0;
  private readonly sqlIndex = new Map<string, number>();

  begin(): void {
    this.pos = FRAME_HEADER + PAYLOAD_FIXED;
    this.count = 0;
    this.sqlIndex.clear();
    if (this.buf.length > 16 * 1024 * 1024) this.buf = Buffer.allocUnsafe(64 * 1024); // don't keep a huge scratch buffer
  }

  get statements(): number {
    return this.count;
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    if (need > MAX_RECORD_BYTES + FRAME_HEADER) {
      throw new RangeError(`transaction too large for one journal record (> ${MAX_RECORD_BYTES} bytes)`);
    }
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(Math.min(size, MAX_RECORD_BYTES + FRAME_HEADER));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private u32(v: number): void {
    this.buf.writeUInt32LE(v, this.pos);
    this.pos += 4;
  }

  private text(s: string): void {
    // worst case 3 bytes per UTF-16 unit
    this.ensure(4 + s.length * 3);
    const n = this.buf.write(s, this.pos + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
  }

  add(sql: string, params: readonly SqlValue[] | undefined): void {
    const start = this.pos;
    try {
      this.ensure(8);
      const idx = this.sqlIndex.get(sql);
      if (idx === undefined) {
        this.u32(0);
        this.text(sql);
        this.sqlIndex.set(sql, this.sqlIndex.size);
      } else {
        this.u32(idx + 1);
      }
      const n = params ? params.length : 0;
      this.ensure(4);
      this.u32(n);
      for (let i = 0; i < n; i++) {
        const v = params![i];
        if (v === null) {
          this.ensure(1);
          this.buf[this.pos++] = TAG_NULL;
        } else if (typeof v === 'number') {
          this.ensure(9);
          if (v === (v | 0) && !Object.is(v, -0)) {
            this.buf[this.pos++] = TAG_INT32;
            this.buf.writeInt32LE(v, this.pos);
            this.pos += 4;
          } else {
            this.buf[this.pos++] = TAG_F64;
            this.buf.writeDoubleLE(v, this.pos);
            this.pos += 8;
          }
        } else if (typeof v === 'string') {
          this.ensure(1);
          this.buf[this.pos++] = TAG_TEXT;
          this.text(v);
        } else {
          this.ensure(5 + v.length);
          this.buf[this.pos++] = TAG_BLOB;
          this.u32(v.length);
          this.buf.set(v, this.pos);
          this.pos += v.length;
        }
      }
      this.count++;
    } catch (e) {
      this.pos = start;
      throw e;
    }
  }

  /** Completes the record and returns a copy of the framed bytes. */
  finish(seq: number): Buffer {
    const b = this.buf;
    const len = this.pos - FRAME_HEADER;
    b.writeUInt32LE(FRAME_MAGIC, 0);
    b.writeUInt32LE(len, 8);
    b[12] = RECORD_TX;
    b.writeUInt32LE(seq % 0x100000000, 13);
    b.writeUInt32LE(Math.floor(seq / 0x100000000), 17);
    b.writeUInt32LE(this.count, 21);
    b.writeUInt32LE(zlib.crc32(b.subarray(8, this.pos)), 4);
    const out = Buffer.allocUnsafe(this.pos);
    b.copy(out, 0, 0, this.pos);
    return out;
  }
}

export interface DecodedStatement {
  sql: string;
  params: SqlValue[];
}
export interface DecodedRecord {
  seq: number;
  statements: DecodedStatement[];
}

export type FrameCheck =
  | { ok: true; length: number } // total frame length
  | { ok: false; reason: string };

/** Validates the frame starting at `off` (magic, bounds, CRC). */
export function checkFrame(buf: Buffer, off: number): FrameCheck {
  const avail = buf.length - off;
  if (avail < FRAME_HEADER) return { ok: false, reason: `incomplete record header (${avail} bytes)` };
  if (buf.readUInt32LE(off) !== FRAME_MAGIC) return { ok: false, reason: 'bad record magic' };
  const len = buf.readUInt32LE(off + 8);
  if (len < PAYLOAD_FIXED || len > MAX_RECORD_BYTES) return { ok: false, reason: `bad record length ${len}` };
  if (len > avail - FRAME_HEADER) {
    return { ok: false, reason: `record of ${len} bytes extends past end of file` };
  }
  const crc = zlib.crc32(buf.subarray(off + 8, off + FRAME_HEADER + len));
  if (crc !== buf.readUInt32LE(off + 4)) return { ok: false, reason: 'record checksum mismatch' };
  return { ok: true, length: FRAME_HEADER + len };
}

/** Reads the seq of a checked frame without decoding it. */
export function frameSeq(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off + 13) + buf.readUInt32LE(off + 17) * 0x100000000;
}

/** Decodes a checked frame. Throws Error on a malformed payload. */
export function decodeFrame(buf: Buffer, off: number): DecodedRecord {
  const len = buf.readUInt32LE(off + 8);
  const end = off + FRAME_HEADER + len;
  let p = off + FRAME_HEADER;
  const need = (n: number): void => {
    if (p + n > end) throw new Error('record payload truncated');
  };
  const type = buf[p];
  if (type !== RECORD_TX) throw new Error(`unknown record type ${type}`);
  const seq = frameSeq(buf, off);
  p += 9;
  const count = buf.readUInt32LE(p);
  p += 4;
  const sqls: string[] = [];
  const statements: DecodedStatement[] = [];
  const readText = (): string => {
    need(4);
    const n = buf.readUInt32LE(p);
    p += 4;
    need(n);
    const s = buf.toString('utf8', p, p + n);
    p += n;
    return s;
  };
  for (let i = 0; i < count; i++) {
    need(8);
    const ref = buf.readUInt32LE(p);
    p += 4;
    let sql: string;
    if (ref === 0) {
      sql = readText();
      sqls.push(sql);
    } else {
      if (ref > sqls.length) throw new Error(`bad SQL reference ${ref}`);
      sql = sqls[ref - 1];
    }
    need(4);
    const n = buf.readUInt32LE(p);
    p += 4;
    const params: SqlValue[] = new Array(n);
    for (let j = 0; j < n; j++) {
      need(1);
      const tag = buf[p++];
      switch (tag) {
        case TAG_NULL:
          params[j] = null;
          break;
        case TAG_INT32:
          need(4);
          params[j] = buf.readInt32LE(p);
          p += 4;
          break;
        case TAG_F64:
          need(8);
          params[j] = buf.readDoubleLE(p);
          p += 8;
          break;
        case TAG_TEXT:
          params[j] = readText();
          break;
        case TAG_BLOB: {
          need(4);
          const bl = buf.readUInt32LE(p);
          p += 4;
          need(bl);
          params[j] = new Uint8Array(buf.subarray(p, p + bl)); // copy
          p += bl;
          break;
        }
        default:
          throw new Error(`unknown parameter tag ${tag}`);
      }
    }
    statements.push({ sql, params });
  }
  if (p !== end) throw new Error(`${end - p} unexpected trailing bytes in record`);
  return { seq, statements };
}
