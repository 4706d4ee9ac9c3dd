/**
 * Snapshot file: a 48-byte header followed by the SQLite database bytes.
 *
 *   0  8 bytes magic "LSYNCSNP"
 *   8  u32 format version (1)
 *  12  u32 header length (48)
 *  16  u64 seq of the last transaction included (two u32: low, high)
 *  24  u64 data length (two u32: low, high)
 *  32  u32 CRC32 of the data
 *  36  u32 flags (0)
 *  40  u32 reserved (0)
 *  44  u32 CRC32 of header bytes 0..44
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { collectGarbage } from './memory';
import { StoreCorruptError, StoreVersionError } from './errors';
import { PRIVATE_FILE_MODE, randomSuffix } from './fsutil';
import { allocateRoom, roomCapacity } from './livefile';
import * as path from 'node:path';

export const SNAPSHOT_FILE = 'snapshot.db';
export const SNAPSHOT_TMP_PREFIX = 'snapshot.db.tmp-';
export const SNAPSHOT_HEADER = 48;
export const SNAPSHOT_VERSION = 1;
const MAGIC = Buffer.from('LSYNCSNP', 'latin1');

function buildHeader(seq: number, dataLength: number, dataCrc: number): Buffer {
  const h = Buffer.alloc(SNAPSHOT_HEADER);
  MAGIC.copy(h, 0);
  h.writeUInt32LE(SNAPSHOT_VERSION, 8);
  h.writeUInt32LE(SNAPSHOT_HEADER, 12);
  h.writeUInt32LE(seq % 0x100000000, 16);
  h.writeUInt32LE(Math.floor(seq / 0x100000000), 20);
  h.writeUInt32LE(dataLength % 0x100000000, 24);
  h.writeUInt32LE(Math.floor(dataLength / 0x100000000), 28);
  h.writeUInt32LE(dataCrc, 32);
  h.writeUInt32LE(0, 36);
  h.writeUInt32LE(0, 40);
  h.writeUInt32LE(zlib.crc32(h.subarray(0, 44)), 44);
  return h;
}

export interface LoadedSnapshot {
  seq: number;
  /** the database bytes: the start of `room` when there is one */
  data: Uint8Array;
  /**
   * `data` followed by zeros, to load the database from so that it can grow
   * in place (see livefile.ts); null if the database is too large for room.
   */
  room: ArrayBuffer | null;
  fileBytes: number;
}

/**
 * Reads and verifies the snapshot. Returns undefined if there is none.
 * Throws StoreCorruptError (file untouched) if it cannot be trusted.
 * The database bytes are read straight into a buffer with room to grow, the
 * one the database is then loaded from: no other copy is made.
 */
export function readSnapshot(dir: string): LoadedSnapshot | undefined {
  const file = path.join(dir, SNAPSHOT_FILE);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < SNAPSHOT_HEADER) {
      throw new StoreCorruptError(file, `snapshot is ${size} bytes, shorter than its ${SNAPSHOT_HEADER}-byte header`);
    }
    const head = Buffer.alloc(SNAPSHOT_HEADER);
    readFully(fd, head, SNAPSHOT_HEADER, 0, file);
    if (!head.subarray(0, 8).equals(MAGIC)) throw new StoreCorruptError(file, 'bad snapshot magic (not a Leaderless Sync snapshot)', 0);
    if (zlib.crc32(head.subarray(0, 44)) !== head.readUInt32LE(44)) {
      throw new StoreCorruptError(file, 'snapshot header checksum mismatch', 0);
    }
    const version = head.readUInt32LE(8);
    if (version > SNAPSHOT_VERSION) throw new StoreVersionError(dir, version, SNAPSHOT_VERSION, 'snapshot format');
    const headerLen = head.readUInt32LE(12);
    if (headerLen !== SNAPSHOT_HEADER) throw new StoreCorruptError(file, `bad snapshot header length ${headerLen}`, 12);
    const seq = head.readUInt32LE(16) + head.readUInt32LE(20) * 0x100000000;
    const len = head.readUInt32LE(24) + head.readUInt32LE(28) * 0x100000000;
    if (len !== size - SNAPSHOT_HEADER) {
      throw new StoreCorruptError(file, `snapshot header announces ${len} data bytes but the file holds ${size - SNAPSHOT_HEADER}`, 24);
    }
    const capacity = roomCapacity(len);
    const room = capacity ? allocateRoom(capacity) : null;
    const data = room ? new Uint8Array(room, 0, len) : Buffer.allocUnsafe(len);
    readFully(fd, data, len, SNAPSHOT_HEADER, file);
    if (zlib.crc32(data) !== head.readUInt32LE(32)) {
      throw new StoreCorruptError(file, 'snapshot data checksum mismatch', SNAPSHOT_HEADER);
    }
    return { seq, data, room, fileBytes: size };
  } finally {
    fs.closeSync(fd);
  }
}

function readFully(fd: number, into: Uint8Array, length: number, position: number, file: string): void {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, into, done, length - done, position + done);
    if (n <= 0) throw new StoreCorruptError(file, `snapshot ended after ${position + done} bytes while being read`, position + done);
    done += n;
  }
}

export interface SnapshotWriteOptions {
  /** Runs synchronously once the bytes are in the OS's hands, with the same bytes. */
  after?: (data: Uint8Array) => void;
  /** Whether `take` made a copy to collect afterwards (default: yes). */
  copied?: () => boolean;
}

/**
 * Writes a snapshot to a temp file and returns the temp path (the caller
 * renames it into place). `take` supplies the database bytes: an export, or
 * the live database file itself (see livefile.ts), which changes with the
 * next transaction. So the checksum and the hand-off of the bytes to the OS
 * happen synchronously (at 1M entries, ~45 ms and ~30 ms), as does `after`,
 * and nothing is held across event-loop turns: holding an exported copy
 * while the database keeps growing is what pushed peak memory over budget.
 * The fsync, which is what takes time on a real disk, is asynchronous.
 */
export async function writeSnapshotTemp(
  dir: string,
  seq: number,
  take: () => Uint8Array,
  opts: SnapshotWriteOptions = {},
): Promise<{ tmp: string; bytes: number }> {
  const tmp = path.join(dir, SNAPSHOT_TMP_PREFIX + randomSuffix());
  const fd = fs.openSync(tmp, 'wx', PRIVATE_FILE_MODE);
  let ok = false;
  let bytes = 0;
  try {
    bytes = writeSnapshotBytes(fd, tmp, seq, take, opts.after);
    if (opts.copied?.() ?? true) collectGarbage(); // an exported copy, now in the OS's hands (see memory.ts)
    await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
    ok = true;
  } finally {
    fs.closeSync(fd);
    if (!ok) await fs.promises.unlink(tmp).catch(() => undefined);
  }
  return { tmp, bytes };
}

/**
 * The synchronous part, in a plain function of its own: a local of the async
 * caller would be kept alive across its awaits, and with it the whole copy.
 */
function writeSnapshotBytes(
  fd: number,
  tmp: string,
  seq: number,
  take: () => Uint8Array,
  after: ((data: Uint8Array) => void) | undefined,
): number {
  const data = take();
  const header = buildHeader(seq, data.length, zlib.crc32(data));
  writeAllSync(fd, header, 0, tmp);
  writeAllSync(fd, data, SNAPSHOT_HEADER, tmp);
  after?.(data);
  return SNAPSHOT_HEADER + data.length;
}

function writeAllSync(fd: number, data: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < data.length) {
    const n = fs.writeSync(fd, data, done, data.length - done, position + done);
    if (n <= 0) throw new Error(`short write to ${file}`);
    done += n;
  }
}

/** Removes temp files left by snapshots interrupted by a crash (they are never the only copy of anything). */
export function removeSnapshotTemps(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith(SNAPSHOT_TMP_PREFIX)) {
      try {
        fs.unlinkSync(path.join(dir, name));
      } catch {
        /* ignore */
      }
    }
  }
}
