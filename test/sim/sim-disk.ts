/**
 * A disk for the simulator: the journal's JournalIo (src/store/journal.ts)
 * over the real file system, that knows which journal bytes an fdatasync has
 * made durable, so that a power loss can undo the rest.
 *
 * - writev writes for real, synchronously, and marks the bytes unsynced;
 * - fdatasync completes after 0..maxSyncDelayMs of virtual time (seeded;
 *   one in ten is a slow one, up to 8x that; `slowMs` adds up to that much to
 *   every one, a disk under load), so commits really are pending when a
 *   crash lands; on completion the bytes written before it was issued are
 *   durable;
 * - `powerLoss()` zeroes every journal byte that is not durable (or keeps a
 *   random prefix of them: a torn write for the store's recovery), and fails
 *   every fdatasync still in flight: that process is gone;
 * - `full`: writev and fdatasync fail with ENOSPC (a full disk);
 * - `instant`: fdatasync completes at once (setting a device up before it runs).
 *
 * No real asynchronous I/O happens here: everything is synchronous or on the
 * virtual clock, so a seeded run replays exactly. Preallocation (zero fill)
 * is not written (see zeroFill). Directory syncs complete at
 * once (a new journal file's entry is not modelled as losable). Snapshot
 * files do not go through JournalIo; the simulator never grows a journal to
 * the snapshot threshold.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JournalIo } from '../../src/store';
import { writevNow } from '../../src/store/journal';
import type { Random } from '../support/random';
import type { VirtualClock } from './virtual-clock';

/** Unsynced bytes of one journal file: [from, to), and where each buffer written into them ends (journal records). */
interface Dirty {
  from: number;
  to: number;
  ends: number[];
}

export interface PowerLoss {
  /** Journal files that had unsynced bytes. */
  files: number;
  /** Unsynced bytes zeroed. */
  lostBytes: number;
  /** Unsynced bytes kept (a torn tail), when a prefix was kept. */
  keptBytes: number;
}

function errno(code: string, syscall: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: simulated ${code === 'ENOSPC' ? 'full disk' : 'power loss'}, ${syscall}`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  return e;
}

export class SimDisk implements JournalIo {
  /** fdatasync completes at once (no virtual delay). */
  instant = false;
  /** Journal writes and syncs fail with ENOSPC. */
  full = false;
  /** Each fsync takes up to this much longer (a disk under load). */
  slowMs = 0;
  /** fdatasyncs completed, and failed with ENOSPC, since creation. */
  readonly stats = { syncs: 0, enospc: 0 };
  private readonly dirty = new Map<string, Dirty>();
  /** Bumped by a power loss: syncs issued before it never complete. */
  private epoch = 0;
  private inflight = 0;

  constructor(
    private readonly clock: VirtualClock,
    private readonly rnd: Random,
    private readonly maxSyncDelayMs = 3,
  ) {}

  /** An fdatasync is waiting for virtual time. */
  get syncing(): boolean {
    return this.inflight > 0;
  }

  /** Every journal byte written is durable (the files on disk are what a power loss would leave). */
  get clean(): boolean {
    return this.dirty.size === 0;
  }

  writev = (fd: number, bufs: Buffer[], position: number, cb: (err: NodeJS.ErrnoException | null, written: number) => void): void => {
    if (this.full) {
      this.stats.enospc++;
      cb(errno('ENOSPC', 'write'), 0);
      return;
    }
    writevNow(fd, bufs, position, (err, n) => {
      if (n > 0) {
        const file = this.pathOf(fd);
        const ends: number[] = [];
        for (let i = 0, at = position; i < bufs.length && at < position + n; i++) ends.push((at = Math.min(position + n, at + bufs[i].length)));
        const d = this.dirty.get(file);
        if (d) {
          d.from = Math.min(d.from, position);
          d.to = Math.max(d.to, position + n);
          d.ends.push(...ends);
        } else this.dirty.set(file, { from: position, to: position + n, ends });
      }
      cb(err, n);
    });
  };

  fdatasync = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void => {
    if (this.full) {
      this.stats.enospc++;
      cb(errno('ENOSPC', 'fdatasync'));
      return;
    }
    const file = this.pathOf(fd);
    const upTo = this.dirty.get(file)?.to ?? 0;
    const epoch = this.epoch;
    const done = () => {
      if (epoch !== this.epoch) {
        cb(errno('EIO', 'fdatasync')); // the machine lost power meanwhile: nothing of this sync happened
        return;
      }
      const d = this.dirty.get(file);
      if (d) {
        if (d.to <= upTo) this.dirty.delete(file);
        else {
          d.from = Math.max(d.from, upTo);
          d.ends = d.ends.filter((e) => e > upTo);
        }
      }
      this.stats.syncs++;
      cb(null);
    };
    if (this.instant || this.maxSyncDelayMs === 0) {
      done();
      return;
    }
    this.inflight++;
    this.clock.setTimeout(() => {
      this.inflight--;
      done();
    }, this.delay());
  };

  private delay(): number {
    const max = this.maxSyncDelayMs;
    const base = this.rnd.chance(0.1) ? max + this.rnd.int(7 * max) : this.rnd.int(max + 1);
    return base + (this.slowMs > 0 ? this.rnd.int(this.slowMs + 1) : 0);
  }

  /**
   * Preallocation is not modelled: the zeros are reported written but the
   * file is not extended, so a journal file ends where its records end. The
   * journal reads the end of a file as it reads zeros (a clean end), and
   * each open of a simulated device then reads kilobytes, not megabytes.
   */
  zeroFill = (_fd: number, _position: number, length: number, cb: (err: NodeJS.ErrnoException | null, written: number) => void): void => {
    if (this.full) {
      this.stats.enospc++;
      cb(errno('ENOSPC', 'write'), 0);
      return;
    }
    cb(null, Math.min(length, 1024 * 1024));
  };

  syncDir = (_dir: string, cb: (err: NodeJS.ErrnoException | null) => void): void => cb(null);

  /**
   * The machine loses power: every unsynced journal byte is zeroed, or, with
   * `torn`, some of them are kept (the rest zeroed), as a write cut short
   * leaves them: a random number of whole records, and half the time part
   * of the next one. Syncs in flight fail. Call after the process stopped
   * writing (Store.crashForTesting).
   */
  powerLoss(torn: Random | null = null): PowerLoss {
    this.processEnded();
    const out: PowerLoss = { files: 0, lostBytes: 0, keptBytes: 0 };
    for (const [file, d] of this.dirty) {
      let cut = d.from;
      if (torn) {
        const ends = d.ends.filter((e) => e > d.from && e <= d.to);
        const whole = torn.int(ends.length + 1);
        cut = whole ? ends[whole - 1] : d.from;
        const next = whole < ends.length ? ends[whole] : d.to;
        if (next > cut && torn.chance(0.5)) cut += torn.int(next - cut);
      }
      zeroRange(file, cut, d.to);
      out.files++;
      out.lostBytes += d.to - cut;
      out.keptBytes += cut - d.from;
    }
    this.dirty.clear();
    return out;
  }

  /** The process using this disk ended (its file descriptors are closed; syncs it had in flight never complete). */
  processEnded(): void {
    this.epoch++;
    this.paths.clear();
  }

  private readonly paths = new Map<number, string>();

  /** The file an fd is open on (Linux), cached until the process ends. */
  private pathOf(fd: number): string {
    let p = this.paths.get(fd);
    if (p === undefined) {
      p = fs.readlinkSync(`/proc/self/fd/${fd}`);
      this.paths.set(fd, p);
    }
    return p;
  }

  /**
   * Copies directory `src` to `dest` as a power loss now would leave it:
   * unsynced journal bytes zeroed (nothing torn). The lock file is left
   * out: it belongs to the running process. Synchronous.
   */
  durableImage(src: string, dest: string): void {
    const real = fs.realpathSync(src);
    fs.cpSync(src, dest, { recursive: true, filter: (p) => !/^LOCK(\.|$)/.test(path.basename(p)) });
    for (const [file, d] of this.dirty) {
      const rel = path.relative(real, file);
      if (rel.startsWith('..') || path.isAbsolute(rel)) continue;
      zeroRange(path.join(dest, rel), d.from, d.to);
    }
  }
}

const ZEROS = Buffer.alloc(1024 * 1024);

function zeroRange(file: string, from: number, to: number): void {
  if (to <= from) return;
  const fd = fs.openSync(file, 'r+');
  try {
    for (let at = from; at < to; ) at += fs.writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, to - at), at);
  } finally {
    fs.closeSync(fd);
  }
}
