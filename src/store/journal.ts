import * as fs from 'node:fs';
import * as path from 'node:path';
import { FRAME_MAGIC, checkFrame } from './codec';
import { StoreCorruptError } from './errors';
import { fsyncDir } from './fsutil';

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
  /** Set when the file ends with a torn (incomplete or damaged) record. */
  torn?: { offset: number; reason: string };
}

const MAGIC_BYTES = Buffer.alloc(4);
MAGIC_BYTES.writeUInt32LE(FRAME_MAGIC, 0);

/**
 * Splits a journal file into checked frames. A bad frame is accepted as a
 * torn tail only if `tailAllowed` (this is the last non-empty generation) and
 * no valid frame can be found anywhere after it; otherwise the file is
 * corrupt. Never modifies anything.
 */
export function scanJournal(buf: Buffer, file: string, tailAllowed: boolean): ScanResult {
  const frames: ScannedFrame[] = [];
  let off = 0;
  while (off < buf.length) {
    const c = checkFrame(buf, off);
    if (c.ok) {
      frames.push({ offset: off, length: c.length });
      off += c.length;
      continue;
    }
    // Something bad at `off`: torn tail or corruption?
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
    if (!tailAllowed) {
      throw new StoreCorruptError(file, `${c.reason} in a journal generation followed by newer ones`, off);
    }
    return { frames, torn: { offset: off, reason: c.reason } };
  }
  return { frames };
}

/** Low-level calls used by the writer (replaceable to inject faults in tests). */
export interface JournalIo {
  writev(fd: number, bufs: Buffer[], cb: (err: NodeJS.ErrnoException | null, written: number) => void): void;
  fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void;
}

export const defaultJournalIo: JournalIo = {
  // The write itself only copies into the OS page cache (tens of µs for a
  // batch): doing it synchronously saves a thread-pool round trip per commit.
  // The fdatasync, which is what takes time, is asynchronous; commits made
  // meanwhile accumulate into the next batch.
  writev: (fd, bufs, cb) => {
    let n: number;
    try {
      n = fs.writevSync(fd, bufs);
    } catch (e) {
      cb(e as NodeJS.ErrnoException, 0);
      return;
    }
    cb(null, n);
  },
  fdatasync: (fd, cb) => fs.fdatasync(fd, cb),
};

export class JournalFile {
  inflight: Promise<void> | null = null;
  closed = false;
  constructor(
    readonly gen: number,
    readonly path: string,
    readonly fd: number,
    /** bytes handed to the OS (or being handed) */
    public size: number,
    /** whether the directory entry is known durable */
    public dirSynced: boolean,
  ) {}
}

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
  io: JournalIo = defaultJournalIo;
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

  static openGeneration(dir: string, gen: number, existingSize: number): JournalFile {
    const p = path.join(dir, journalFileName(gen));
    const fd = fs.openSync(p, 'a');
    // a pre-existing file's directory entry is already durable
    return new JournalFile(gen, p, fd, existingSize, existingSize > 0);
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
        file.size += b.bytes;
        this.writing = b;
        const p = this.writeBatch(file, b);
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

  private async writeBatch(file: JournalFile, b: Batch): Promise<void> {
    if (file.closed) throw new Error(`journal file ${file.path} is closed`);
    if (!file.dirSynced) {
      await fsyncDir(this.dir);
      file.dirSynced = true;
    }
    let bufs = b.frames;
    let left = b.bytes;
    while (left > 0) {
      const n = await new Promise<number>((res, rej) =>
        this.io.writev(file.fd, bufs, (err, written) => (err ? rej(err) : res(written))),
      );
      if (n <= 0) throw new Error(`short write to ${file.path}`);
      if (n >= left) break;
      bufs = [Buffer.concat(bufs).subarray(n)];
      left -= n;
    }
    await new Promise<void>((res, rej) => this.io.fdatasync(file.fd, (err) => (err ? rej(err) : res())));
    this.syncs++;
  }
}
