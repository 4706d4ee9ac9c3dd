/**
 * Record ids: 16-byte UUIDs (v4 for new records; v8 name-based for records
 * whose identity is derived from what they point at, so that two devices
 * creating "the same" record concurrently create one record, not two).
 */
import { createHash, randomBytes } from 'node:crypto';

export const ID_BYTES = 16;
export type Id = Uint8Array;

export class IdFormatError extends Error {
  readonly code = 'ERR_ID_FORMAT';
  constructor(message: string) {
    super(message);
    this.name = 'IdFormatError';
  }
}

// Random bytes are drawn 4 KiB at a time: one call per 256 ids instead of one each.
let pool = Buffer.alloc(0);
let poolAt = 0;

export function newId(): Id {
  if (poolAt + ID_BYTES > pool.length) {
    pool = randomBytes(4096);
    poolAt = 0;
  }
  const b = Uint8Array.from(pool.subarray(poolAt, poolAt + ID_BYTES));
  poolAt += ID_BYTES;
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return b;
}

/** A deterministic id from a namespace and parts (UUID v8 over SHA-256). */
export function derivedId(namespace: string, ...parts: (string | Uint8Array)[]): Id {
  const h = createHash('sha256');
  h.update(namespace);
  for (const p of parts) {
    const bytes = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    h.update(len);
    h.update(bytes);
  }
  const b = h.digest().subarray(0, ID_BYTES);
  b[6] = (b[6] & 0x0f) | 0x80;
  b[8] = (b[8] & 0x3f) | 0x80;
  return Uint8Array.from(b);
}

/** Bytes of an incarnation nonce (see originId). */
export const INCARNATION_BYTES = 8;

/**
 * The log origin of a device's shared changes in one incarnation: the id
 * that numbers them (1, 2, 3, …) and stands in their stamps. Each run of a
 * device that writes shared changes starts a new incarnation with a fresh
 * random nonce, so a device restored from an old copy of its data, or
 * re-joining a library, can never number a change (or stamp one) the way a
 * change peers already hold was numbered. Derived from the device id, so no
 * device can claim another's origin. An empty nonce is the device id
 * itself (libraries written before incarnations).
 */
export function originId(device: Id, incarnation: Uint8Array): Id {
  return incarnation.length === 0 ? device : derivedId('origin', device, incarnation);
}

export function idToString(id: Id): string {
  const h = toHex(id);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
export function idFromString(s: string): Id {
  if (typeof s !== 'string' || !UUID.test(s)) throw new IdFormatError(`Not a UUID: ${JSON.stringify(String(s)).slice(0, 60)}`);
  return Uint8Array.from(Buffer.from(s.replace(/-/g, ''), 'hex'));
}

export function isId(v: unknown): v is Id {
  return v instanceof Uint8Array && v.length === ID_BYTES;
}

export function idEquals(a: Id, b: Id): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lower-case hex of any bytes (a Uint8Array's own toString is not hex). */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Bytes of a hex string; an empty array if it is not whole bytes of hex. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return new Uint8Array(0);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** Map key for an id (hex, no dashes). */
export function idKey(id: Id): string {
  return toHex(id);
}

/**
 * A cheaper map key for a 16-byte id, for hot in-memory maps only: eight
 * UTF-16 code units, not printable (use idKey for anything shown or stored).
 */
export function idMapKey(b: Id): string {
  return String.fromCharCode(
    b[0] | (b[1] << 8),
    b[2] | (b[3] << 8),
    b[4] | (b[5] << 8),
    b[6] | (b[7] << 8),
    b[8] | (b[9] << 8),
    b[10] | (b[11] << 8),
    b[12] | (b[13] << 8),
    b[14] | (b[15] << 8),
  );
}

/**
 * The 16 bytes at `buf[at]` as an id of its own: `last` itself when it holds
 * the same bytes (ids repeat page after page: the owner in every stamp, the
 * location and parent of every entry), else a copy. Never a view, so a
 * decoded record does not keep its whole frame alive. Ids are never mutated.
 */
export function readId(buf: Uint8Array, at: number, last: Id | null): Id {
  if (last) {
    let same = true;
    for (let i = 0; i < ID_BYTES; i++) {
      if (last[i] !== buf[at + i]) {
        same = false;
        break;
      }
    }
    if (same) return last;
  }
  const out = new Uint8Array(ID_BYTES);
  for (let i = 0; i < ID_BYTES; i++) out[i] = buf[at + i];
  return out;
}
