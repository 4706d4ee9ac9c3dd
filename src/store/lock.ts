/**
 * Single-writer lock: a LOCK file in the database directory holding
 * {pid, host, token, start}. Created atomically with its content (hard link of
 * a fully written temp file, falling back to O_EXCL where links are not
 * supported). A lock naming a dead process is taken over by renaming it to a
 * unique name and checking that what was renamed is the stale lock.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StoreLockedError } from './errors';
import { errCode, PRIVATE_FILE_MODE, randomSuffix } from './fsutil';

export const LOCK_FILE = 'LOCK';

export interface LockInfo {
  pid: number;
  host: string;
  token: string;
  /** process start time (Linux: clock ticks since boot), to detect pid reuse */
  start?: string;
  created?: string;
}

/** Locks held by this process: lock path -> token. */
const held = new Map<string, string>();

function processStart(pid: number): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19]; // field 22 overall: starttime
  } catch {
    return undefined;
  }
}

export function parseLock(raw: Buffer): LockInfo | undefined {
  try {
    const v = JSON.parse(raw.toString('utf8')) as Partial<LockInfo>;
    if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return undefined;
    if (typeof v.host !== 'string' || typeof v.token !== 'string') return undefined;
    return { pid: v.pid, host: v.host, token: v.token, start: typeof v.start === 'string' ? v.start : undefined };
  } catch {
    return undefined;
  }
}

type Liveness = 'live' | 'dead' | 'foreign';

function liveness(lockPath: string, info: LockInfo): Liveness {
  if (info.host !== os.hostname()) return 'foreign';
  if (info.pid === process.pid) {
    // Our own pid: this module instance holds it, or another thread of this
    // process does (worker threads have their own module state; the process
    // start time tells us apart from a previous process that had our pid,
    // common in containers). Without a start time, assume it is held.
    if (held.get(lockPath) === info.token) return 'live';
    if (info.start === undefined) return 'live';
    return info.start === processStart(process.pid) ? 'live' : 'dead';
  }
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    if (errCode(e) === 'ESRCH') return 'dead';
    // EPERM: exists but belongs to someone else
  }
  if (info.start !== undefined) {
    const now = processStart(info.pid);
    if (now !== undefined && now !== info.start) return 'dead'; // pid reused
  }
  return 'live';
}

function tryCreate(lockPath: string, content: Buffer): boolean {
  const tmp = `${lockPath}.tmp-${randomSuffix()}`;
  fs.writeFileSync(tmp, content, { flag: 'wx', mode: PRIVATE_FILE_MODE });
  try {
    fs.linkSync(tmp, lockPath);
    return true;
  } catch (e) {
    const code = errCode(e);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EXDEV') throw e;
  } finally {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* ignore */
    }
  }
  // File system without hard links: O_EXCL create, then write.
  let fd: number;
  try {
    fd = fs.openSync(lockPath, 'wx', PRIVATE_FILE_MODE);
  } catch (e) {
    if (errCode(e) === 'EEXIST') return false;
    throw e;
  }
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function readOrUndefined(p: string): Buffer | undefined {
  try {
    return fs.readFileSync(p);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** Removes temp/aside files of lock attempts interrupted by a crash (older than a minute). */
function removeLeftovers(dir: string): void {
  try {
    for (const name of fs.readdirSync(dir)) {
      if (!name.startsWith(`${LOCK_FILE}.tmp-`) && !name.startsWith(`${LOCK_FILE}.stale-`)) continue;
      const p = path.join(dir, name);
      try {
        if (Date.now() - fs.statSync(p).mtimeMs > 60_000) fs.unlinkSync(p);
      } catch {
        /* ignore */
      }
    }
  } catch {
    /* ignore */
  }
}

export interface StaleLockEvent {
  pid?: number;
  host?: string;
  reason: string;
}

export class DirLock {
  private released = false;
  private constructor(
    readonly dir: string,
    readonly path: string,
    readonly token: string,
  ) {}

  static async acquire(dir: string, onStale: (e: StaleLockEvent) => void): Promise<DirLock> {
    const lockPath = path.join(dir, LOCK_FILE);
    const token = crypto.randomBytes(16).toString('hex');
    const info: LockInfo = {
      pid: process.pid,
      host: os.hostname(),
      token,
      start: processStart(process.pid),
      created: new Date().toISOString(),
    };
    const content = Buffer.from(JSON.stringify(info) + '\n');
    let garbageSince = 0;
    for (let attempt = 0; attempt < 100; attempt++) {
      if (tryCreate(lockPath, content)) {
        held.set(lockPath, token);
        removeLeftovers(dir);
        return new DirLock(dir, lockPath, token);
      }
      const raw = readOrUndefined(lockPath);
      if (raw === undefined) continue; // released meanwhile: retry
      const other = parseLock(raw);
      let reason: string;
      if (other) {
        const l = liveness(lockPath, other);
        if (l === 'foreign') {
          throw new StoreLockedError(dir, other.pid, other.host, 'the lock belongs to another machine; if that machine no longer uses this folder, delete the LOCK file');
        }
        if (l === 'live') throw new StoreLockedError(dir, other.pid, other.host);
        reason = other.pid === process.pid ? 'left by a previous process with the same pid' : `process ${other.pid} is gone`;
      } else {
        // Empty or unreadable. A process on a file system without hard links
        // may be between create and write: give it a moment before calling it stale.
        if (garbageSince === 0) garbageSince = Date.now();
        let age = Infinity;
        try {
          age = Date.now() - fs.statSync(lockPath).mtimeMs;
        } catch {
          continue;
        }
        if (age < 2000 && Date.now() - garbageSince < 2000) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        reason = raw.length === 0 ? 'empty lock file' : 'unreadable lock file';
      }
      // Take over: move the stale lock to a unique name, check we moved the one we judged.
      const aside = `${lockPath}.stale-${randomSuffix()}`;
      try {
        fs.renameSync(lockPath, aside);
      } catch (e) {
        if (errCode(e) === 'ENOENT') continue; // someone else took it over
        throw e;
      }
      const moved = readOrUndefined(aside);
      if (moved !== undefined && !moved.equals(raw)) {
        // We moved a fresh lock created by a racing process: put it back.
        try {
          fs.linkSync(aside, lockPath);
          fs.unlinkSync(aside);
        } catch {
          /* leave it aside; its owner will not delete a LOCK that is not its own */
        }
        continue;
      }
      try {
        fs.unlinkSync(aside);
      } catch {
        /* ignore */
      }
      onStale({ pid: other?.pid, host: other?.host, reason });
    }
    throw new StoreLockedError(dir, 0, os.hostname(), 'could not acquire the lock (too much contention)');
  }

  /** Removes the LOCK file if it is still ours. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (held.get(this.path) === this.token) held.delete(this.path);
    const raw = readOrUndefined(this.path);
    if (!raw) return;
    const info = parseLock(raw);
    if (info && info.token === this.token) {
      try {
        fs.unlinkSync(this.path);
      } catch {
        /* ignore */
      }
    }
  }
}
