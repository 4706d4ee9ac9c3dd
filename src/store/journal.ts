import * as fs from 'node:fs';
import * as path from 'node:path';
import { FRAME_MAGIC, checkFrame } from './codec';
import { StoreCorruptError } from './errors';
import { fsyncDir, PRIVATE_FILE_MODE } from './fsutil';

const JOURNAL_RE = /^journal-(\d+)\.log$/;

export function journalFileName(gen: number): string {
  return `journal-${String(gen).padStart(8, '0')}.log`;
}

export interface JournalFileInfo {
  gen: number;
  path: string;
  size: number;
}

/** Journal generations present in `dir`, oldest first. */
export function listJournalFiles(dir: string): JournalFileInfo[] {
  const out: JournalFileInfo[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = JOURNAL_RE.exec(name);
    if (!m) continue;
    const p = path.join(dir, name);
    const st = fs.statSync(p);
    if (!st.isFile()) continue;
    out.push({ gen: Number(m[1]), path: p, size: st.size });
  }
  return out.sort((a, b) => a.gen - b.gen);
}

export interface ScannedFrame {
  offset: number;
  length: number;
}
export interface ScanResult {
  frames: ScannedFrame[];
  /** Offset just after the last valid record (where the next one goes). */
  end: number;
  /**
   * Set when the records are followed by something other than zeros
   * (preallocated space): a torn write. `dataEnd` is just after its last
   * non-zero byte.
   */
  torn?: { offset: number; reason: string; dataEnd: number };
}

const MAGIC_BYTES = Buffer.alloc(4);
MAGIC_BYTES.writeUInt32LE(FRAME_MAGIC, 0);
const ZEROS = Buffer.alloc(1024 * 1024);

/** Offset just after the last non-zero byte of buf[from..], or `from` if all zero. */
export function nonZeroEnd(buf: Buffer, from = 0): number {
  let end = buf.length;
  while (end > from) {
    const start = Math.max(from, end - ZEROS.length);
    if (buf.compare(ZEROS, 0, end - start, start, end) !== 0) {
      for (let i = end - 1; i >= start; i--) if (buf[i] !== 0) return i + 1;
    }
    end = start;
  }
  return from;
}

/**
 * Splits a journal file into checked records. Zeros after the last record are
 * preallocated space. Anything else after it is a torn write, unless a valid
 * record can be found further on: then the journal is damaged in the middle
 * and StoreCorruptError is thrown. Never modifies anything.
 */
export function scanJournal(buf: Buffer, file: string): ScanResult {
  const frames: ScannedFrame[] = [];
  let off = 0;
  while (off < buf.length) {
    const c = checkFrame(buf, off);
    if (c.ok) {
      frames.push({ offset: off, length: c.length });
      off += c.length;
      continue;
    }
    let later = buf.indexOf(MAGIC_BYTES, off + 1);
    while (later >= 0) {
      if (checkFrame(buf, later).ok) {
        throw new StoreCorruptError(
          file,
          `${c.reason}, followed by a valid record at offset ${later} (damage in the middle of the journal, not an interrupted write)`,
          off,
        );
      }
      later = buf.indexOf(MAGIC_BYTES, later + 1);
    }
    const dataEnd = nonZeroEnd(buf, off);
    if (dataEnd === off) return { frames, end: off };
    return { frames, end: off, torn: { offset: off, reason: c.reason, dataEnd } };
  }
  return { frames, end: off };
}

/** Whether a file holds only zeros (preallocated, no record). */
export function isAllZeroFile(file: string): boolean {
  const buf = fs.readFileSync(file);
  return nonZeroEnd(buf) === 0;
}

/**
 * Low-level calls used by the writer (replaceable: tests inject faults, and
 * the simulator models a disk whose unsynced writes a power loss undoes).
 */
export interface JournalIo {
  /** writes bufs at `position`; calls back with the number of bytes written */
  writev(fd: number, bufs: Buffer[], position: number, cb: (err: NodeJS.ErrnoException | null, written: number) => void): void;
  fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void;
  /** writes `length` zero bytes at `position` (preallocation); calls back with the number written */
  zeroFill(fd: number, position: number, length: number, cb: (err: NodeJS.ErrnoException | null, written: number) => void): void;
  /** makes the directory's entries (a new journal file) durable */
  syncDir(dir: string, cb: (err: NodeJS.ErrnoException | null) => void): void;
}

/**
 * Flushes taking less than this on average are made on the calling thread
 * (see adaptiveFdatasync).
 */
export const BLOCKING_FLUSH_MAX_MS = 1;

/**
 * Stores of one process that flush within this many ms of each other flush
 * on the thread pool, where their flushes overlap, instead of taking turns
 * blocking the thread (several libraries in one service, or devices of a
 * test in one process).
 */
export const SHARED_FLUSH_WINDOW_MS = 5;

/** Where the flushes of a process's stores meet (see SHARED_FLUSH_WINDOW_MS). */
export interface FlushLane {
  last: { by: object; at: number } | null;
}

const processLane: FlushLane = { last: null };

export interface AdaptiveFlushOptions {
  /** blocking flush */
  sync?: (fd: number) => void;
  /** flush on the thread pool */
  async?: (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => void;
  now?: () => number;
  maxBlockingMs?: number;
  /** the process's flushes (default: this process's) */
  lane?: FlushLane;
}

export interface AdaptiveFlush {
  (fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void;
  /** flushes made blocking, and on the thread pool */
  readonly counts: { blocking: number; background: number };
}

/**
 * An fdatasync that blocks the calling thread while this disk's flushes are
 * fast, and hands them to the thread pool once they are slow. On an SSD a
 * flush takes ~0.2 ms; handing it to the pool and waking up for its
 * completion adds ~0.1 ms of CPU and ~0.1 ms of latency to every commit
 * (single durable commits: ~2,300/s async, ~3,300/s blocking, measured
 * 2026-12-07). On a slow disk (a spinning one, a network file system, a
 * stall) a blocking flush would hold up everything else the engine thread
 * does, so the choice follows a moving average of measured flush times
 * (including the pool's own latency when async), starting async; and
 * while another store of this process flushes too (SHARED_FLUSH_WINDOW_MS),
 * flushes go to the pool, where they overlap. A blocking flush that fails
 * calls back with the error, as the async one does.
 */
export function adaptiveFdatasync(opts: AdaptiveFlushOptions = {}): AdaptiveFlush {
  const sync = opts.sync ?? ((fd: number) => fs.fdatasyncSync(fd));
  const async = opts.async ?? ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => fs.fdatasync(fd, cb));
  const now = opts.now ?? (() => performance.now());
  const maxBlockingMs = opts.maxBlockingMs ?? BLOCKING_FLUSH_MAX_MS;
  const lane = opts.lane ?? processLane;
  let averageMs = Infinity;
  const counts = { blocking: 0, background: 0 };
  const measured = (start: number) => {
    const ms = now() - start;
    averageMs = averageMs === Infinity ? ms : averageMs * 0.8 + ms * 0.2;
  };
  const flush = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void => {
    const start = now();
    const shared = lane.last !== null && lane.last.by !== flush && start - lane.last.at < SHARED_FLUSH_WINDOW_MS;
    lane.last = { by: flush, at: start };
    if (averageMs < maxBlockingMs && !shared) {
      counts.blocking++;
      let err: NodeJS.ErrnoException | null = null;
      try {
        sync(fd);
      } catch (e) {
        err = e as NodeJS.ErrnoException;
      }
      measured(start);
      cb(err);
      return;
    }
    counts.background++;
    async(fd, (err) => {
      measured(start);
      cb(err);
    });
  };
  return Object.assign(flush, { counts });
}

/** JournalIo.writev done at once (fs.writevSync), calling back with the bytes written or the error. */
export function writevNow(fd: number, bufs: Buffer[], position: number, cb: (err: NodeJS.ErrnoException | null, written: number) => void): void {
  let n: number;
  try {
    n = fs.writevSync(fd, bufs, position);
  } catch (e) {
    cb(e as NodeJS.ErrnoException, 0);
    return;
  }
  cb(null, n);
}

/** The journal's calls on a real disk; each store gets its own (its flush timing is per store). */
export function diskJournalIo(): JournalIo {
  return {
    // The write itself only copies into the OS page cache (tens of µs for a
    // batch): doing it synchronously saves a thread-pool round trip per commit.
    // The fdatasync is what takes time: see adaptiveFdatasync. Commits made
    // while one runs on the pool accumulate into the next batch.
    writev: writevNow,
    fdatasync: adaptiveFdatasync(),
    zeroFill: (fd, position, length, cb) => fs.write(fd, ZEROS, 0, Math.min(length, ZEROS.length), position, (err, written) => cb(err, written)),
    syncDir: (dir, cb) => fsyncDir(dir).then(() => cb(null), (e: NodeJS.ErrnoException) => cb(e)),
  };
}

export class JournalFile {
  inflight: Promise<void> | null = null;
  closed = false;
  constructor(
    readonly gen: number,
    readonly path: string,
    readonly fd: number,
    /** end of the records handed to the OS (or being handed) */
    public size: number,
    /** physical size: records + zero-filled preallocated space */
    public allocated: number,
    /** whether the directory entry is known durable */
    public dirSynced: boolean,
  ) {}
}

/** Journal files grow by this much at a time, filled with zeros, so that
 * appending does not change the file size: fdatasync then has no metadata
 * to commit, which makes it markedly faster. */
export const PREALLOC_STEP = 2 * 1024 * 1024;

interface Batch {
  frames: Buffer[];
  bytes: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // callers get derived promises; never an unhandled rejection here
  return { frames: [], bytes: 0, promise, resolve, reject };
}

/**
 * Append-only journal with group commit: frames appended while a
 * write+fdatasync is in flight are written together by the next one. Writes
 * are strictly sequential (one in flight at a time, across generations), so a
 * torn record can only ever be the last one written.
 */
export class JournalWriter {
  io: JournalIo = diskJournalIo();
  failure: Error | null = null;
  syncs = 0;
  records = 0;

  private batch: Batch | null = null;
  private writing: Batch | null = null;
  private running = false;
  private idle: Promise<void> = Promise.resolve();
  private idleResolve: (() => void) | null = null;

  constructor(
    readonly dir: string,
    /** open generations, oldest first; the last one receives new records */
    readonly files: JournalFile[],
    private readonly makeFailure: (cause: unknown) => Error,
    private readonly onFailure: (e: Error) => void,
  ) {}

  /** Opens (creating if needed) a generation whose records end at `end`. */
  static openGeneration(dir: string, gen: number, end: number): JournalFile {
    const p = path.join(dir, journalFileName(gen));
    const fd = fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_CREAT, PRIVATE_FILE_MODE);
    let allocated: number;
    try {
      allocated = fs.fstatSync(fd).size;
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    // a pre-existing file's directory entry is already durable
    return new JournalFile(gen, p, fd, end, Math.max(allocated, end), allocated > 0);
  }

  get current(): JournalFile {
    return this.files[this.files.length - 1];
  }

  /** Bytes in the current generation, including records not yet written. */
  get currentBytes(): number {
    return this.current.size + (this.batch ? this.batch.bytes : 0);
  }

  /** Queues a frame; resolves once it is on disk (write + fdatasync). */
  append(frame: Buffer): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    let b = this.batch;
    if (!b) b = this.batch = newBatch();
    b.frames.push(frame);
    b.bytes += frame.length;
    this.records++;
    if (!this.running) {
      this.running = true;
      this.idle = new Promise<void>((res) => (this.idleResolve = res));
      queueMicrotask(() => void this.run());
    }
    return b.promise;
  }

  /** Resolves when everything appended so far is durable; rejects if that failed. */
  whenDurable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return (this.batch ?? this.writing)?.promise ?? Promise.resolve();
  }

  /** Resolves when no write is queued or in flight (never rejects). */
  drain(): Promise<void> {
    return this.idle;
  }

  /** Starts a new generation; records not yet in flight go to it. Synchronous. */
  rotate(): JournalFile {
    const file = JournalWriter.openGeneration(this.dir, this.current.gen + 1, 0);
    this.files.push(file);
    return file;
  }

  /** Closes and deletes generations older than `gen`, oldest first. */
  async retireBefore(gen: number): Promise<void> {
    while (this.files.length > 1 && this.files[0].gen < gen) {
      const f = this.files[0];
      if (f.inflight) await f.inflight.catch(() => undefined);
      this.files.shift();
      await this.closeFile(f);
      try {
        await fs.promises.unlink(f.path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }

  async close(): Promise<void> {
    await this.drain();
    for (const f of this.files) await this.closeFile(f);
  }

  /** Closes file descriptors without waiting (simulated crash / failed open). */
  closeNow(): void {
    for (const f of this.files) {
      if (f.closed) continue;
      f.closed = true;
      try {
        fs.closeSync(f.fd);
      } catch {
        /* ignore */
      }
    }
  }

  private async closeFile(f: JournalFile): Promise<void> {
    if (f.closed) return;
    f.closed = true;
    await new Promise<void>((res) => fs.close(f.fd, () => res()));
  }

  private fail(cause: unknown): Error {
    if (!this.failure) {
      this.failure = this.makeFailure(cause);
      this.onFailure(this.failure);
    }
    return this.failure;
  }

  private async run(): Promise<void> {
    try {
      while (this.batch) {
        const b = this.batch;
        this.batch = null;
        if (this.failure) {
          b.reject(this.failure);
          continue;
        }
        const file = this.current;
        const position = file.size;
        file.size += b.bytes;
        this.writing = b;
        const p = this.writeBatch(file, b, position);
        file.inflight = p;
        try {
          await p;
          b.resolve();
        } catch (e) {
          b.reject(this.fail(e));
        } finally {
          this.writing = null;
          if (file.inflight === p) file.inflight = null;
        }
      }
    } finally {
      this.running = false;
      const r = this.idleResolve;
      this.idleResolve = null;
      r?.();
    }
  }

  private async writeBatch(file: JournalFile, b: Batch, position: number): Promise<void> {
    if (file.closed) throw new Error(`journal file ${file.path} is closed`);
    if (position + b.bytes > file.allocated) {
      // extend with zeros first: a crash leaves zeros (clean end), never a gap
      const target = position + b.bytes + PREALLOC_STEP;
      let at = file.allocated;
      while (at < target) {
        const n = target - at;
        const bytesWritten = await new Promise<number>((res, rej) => this.io.zeroFill(file.fd, at, n, (err, written) => (err ? rej(err) : res(written))));
        if (bytesWritten <= 0) throw new Error(`short write to ${file.path}`);
        at += bytesWritten;
      }
      file.allocated = at;
    }
    if (!file.dirSynced) {
      await new Promise<void>((res, rej) => this.io.syncDir(this.dir, (err) => (err ? rej(err) : res())));
      file.dirSynced = true;
    }
    let bufs = b.frames;
    let left = b.bytes;
    let pos = position;
    while (left > 0) {
      const n = await new Promise<number>((res, rej) =>
        this.io.writev(file.fd, bufs, pos, (err, written) => (err ? rej(err) : res(written))),
      );
      if (n <= 0) throw new Error(`short write to ${file.path}`);
      if (n >= left) break;
      bufs = [Buffer.concat(bufs).subarray(n)];
      left -= n;
      pos += n;
    }
    await new Promise<void>((res, rej) => this.io.fdatasync(file.fd, (err) => (err ? rej(err) : res())));
    this.syncs++;
  }
}
