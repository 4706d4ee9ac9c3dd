/**
 * The database file in memory the store owns, so that it grows in place and
 * snapshots need no copy.
 *
 * sql.js keeps the database file in its in-memory file system (MEMFS), which
 * it does not expose (sql.js 1.16 exports no `FS`): the only way to the bytes
 * is db.export(), a full copy. With the database itself that is twice its
 * size in memory, and it set the peak at a million entries (~390 MB of a
 * 400 MB budget). MEMFS also keeps the file in one typed array that it
 * replaces with a 12.5% larger copy whenever the file outgrows it: the same
 * transient of twice the database, plus the discarded copies until V8
 * collects them.
 *
 * MEMFS takes the file from the array a database is loaded from: it stores
 * `data.slice(0, length)`. So the store loads the database from a view of a
 * buffer of its own whose `slice` of the whole is the view itself, no copy:
 * MEMFS then reads and writes the store's buffer. That buffer holds the
 * database followed by zeros (the room to grow). Nothing touches the zeros,
 * so they are not resident (large zero-filled allocations are mapped
 * lazily); SQLite takes the database size from its header, not from the file
 * size, and grows into them in place. Where ArrayBuffers are resizable (Node
 * 20+), the view tracks the buffer's length, and the buffer is grown ahead of
 * the database after each commit: MEMFS never needs to replace it.
 *
 * So the buffer is the live file, and a snapshot is written straight from it
 * (synchronously, so that no transaction runs in between). That MEMFS still
 * uses it is never assumed: before every such snapshot a random nonce is
 * written into the database and must show up in the buffer (a buffer MEMFS
 * has replaced, e.g. after a rolled-back transaction shrank the file, cannot
 * contain it). If it does not, the snapshot falls back to export() and the
 * database moves into a new buffer. The buffer is held through a WeakRef: a
 * buffer MEMFS has dropped is not kept alive by the store.
 */
import { randomBytes } from 'node:crypto';

/** Largest file: sql.js's file offsets and V8's limits, well inside 2 GiB. */
export const MAX_FILE = 2 ** 31 - 2 ** 16;

/** @internal sizes (tests make them small to exercise the fallbacks) */
export const roomLimits = {
  /**
   * at least this much room after the database. Address space, not memory:
   * a resizable buffer reserves its maximum and commits as it grows, and a
   * plain zero-filled one this large is mapped lazily (a small one may come
   * from the C heap, zeroed page by page, i.e. resident)
   */
  minSlack: 64 * 1024 * 1024,
  /** grow the buffer when less than this is left after the database (a larger transaction makes MEMFS copy the file) */
  growMargin: 32 * 1024 * 1024,
};

/**
 * Size of the buffer for a database of `bytes`: twice the database, and at
 * least 64 MiB more. Only address space until the database grows into it.
 * null: no room (too large).
 */
export function roomCapacity(bytes: number): number | null {
  const cap = Math.min(MAX_FILE, Math.max(2 * bytes, bytes + roomLimits.minSlack));
  return cap > bytes ? cap : null;
}

type ResizableArrayBuffer = ArrayBuffer & { resizable?: boolean; maxByteLength?: number; resize?(n: number): void };
const ResizableArrayBufferCtor = ArrayBuffer as unknown as new (length: number, options?: { maxByteLength: number }) => ResizableArrayBuffer;

/**
 * A zero-filled buffer of `capacity` bytes, resizable up to MAX_FILE where
 * supported; not resident until written. null if even a fixed-size one
 * cannot be had (address space): the caller goes without room.
 */
export function allocateRoom(capacity: number): ArrayBuffer | null {
  try {
    return new ResizableArrayBufferCtor(capacity, { maxByteLength: MAX_FILE });
  } catch {
    try {
      return new ArrayBuffer(capacity);
    } catch {
      return null;
    }
  }
}

/**
 * The array to load a database from: a view of the whole room (tracking its
 * length when resizable), whose `slice` of the whole is itself, so that MEMFS
 * keeps it as the file instead of a copy.
 */
export function fileView(room: ArrayBuffer): Uint8Array {
  const view = new Uint8Array(room);
  Object.defineProperty(view, 'slice', {
    value(start?: number, end?: number): Uint8Array {
      if ((start ?? 0) === 0 && (end ?? view.length) === view.length) return view;
      return Uint8Array.prototype.slice.call(view, start, end);
    },
  });
  return view;
}

/** A Buffer view of `bytes` (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** What the check needs from the database (the store's Engine). */
export interface CanaryTarget {
  /** Writes `nonce` into the store's own table (one autocommit statement, not journaled). */
  writeCanary(nonce: Uint8Array): void;
  /** Number of the page holding that table (a leaf: the table has a handful of rows). */
  canaryPage(): number;
  pageCount(): number;
  pageSize(): number;
}

/** The buffer a database was loaded from, while it may still be its file. */
export class LiveFile {
  private ref: WeakRef<ResizableArrayBuffer> | null;

  constructor(room: ArrayBuffer) {
    this.ref = new WeakRef(room);
  }

  /**
   * Keeps the buffer ahead of the database (call after each commit), so that
   * MEMFS grows the file in it instead of moving it to a larger copy. Reads
   * the database size from the file's own header (offset 28, pages; 16, page
   * size): nanoseconds, where asking SQLite costs microseconds per commit.
   * If MEMFS has replaced the buffer, its header is stale: growing it is
   * then merely useless, and the next snapshot notices.
   */
  grow(): void {
    const room = this.ref?.deref();
    if (!room || !room.resizable) return;
    const header = new DataView(room, 0, 32);
    const size = header.getUint16(16);
    const bytes = header.getUint32(28) * (size === 1 ? 65536 : size);
    if (bytes + roomLimits.growMargin <= room.byteLength) return;
    const cap = Math.min(MAX_FILE, Math.max(roomCapacity(bytes) ?? 0, bytes + 2 * roomLimits.growMargin));
    if (cap > room.byteLength) room.resize!(cap);
  }

  /**
   * The database's bytes, straight from the live file, or null if the file
   * is no longer this buffer. Writes the canary: call outside transactions,
   * and use the bytes before any other statement runs.
   */
  bytes(db: CanaryTarget): Uint8Array | null {
    const room = this.ref?.deref();
    if (!room) return this.drop();
    const nonce = randomBytes(16);
    db.writeCanary(nonce); // first: the size below must include whatever it wrote
    const pageSize = db.pageSize();
    const length = db.pageCount() * pageSize;
    if (length > room.byteLength) return this.drop(); // outgrown: MEMFS moved it
    const at = (db.canaryPage() - 1) * pageSize;
    if (at < 0 || at + pageSize > length) return this.drop();
    if (Buffer.from(room, at, pageSize).indexOf(nonce) < 0) return this.drop();
    return new Uint8Array(room, 0, length);
  }

  private drop(): null {
    this.ref = null;
    return null;
  }
}
