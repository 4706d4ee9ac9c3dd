/**
 * Indexing a folder of this device into the library: the device, the volume
 * holding the folder, a location for the folder and an entry for every file,
 * directory and symlink under it (symlinks are recorded, never followed).
 *
 * Incremental: the same device and path is the same location, and a rescan
 * compares what is on disk with the location's live entries by relative
 * path (kind, size, modification time). Only new and changed entries are
 * written, vanished ones are tombstoned, and an unchanged folder writes
 * nothing. Writes go in batches (one transaction each), so a folder of any
 * size never builds one huge transaction, and an abort between batches
 * leaves what was written consistent: the next scan continues from it.
 * Vanished entries are only tombstoned after a complete walk, and never
 * under a directory that could not be read.
 */
import { promises as fsp, type Stats } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RecordData } from '../models/fields';
import { ENTRY_KIND } from '../models/entry';
import { NotFoundError } from './errors';
import { DEFAULT_EXCLUDES, Excludes } from './excludes';
import { claimFolder, refuseIfRemoving, whileRemoving } from './folder-claims';
import { GITIGNORE_FILE, GitIgnore } from './gitignore';
import { idToString, type Id } from '../core/ids';
import { APP_VERSION, type Library } from './library';
import { volumeOf } from './volumes';
import { MAX_WORKSPACE_KEY, workspaceKeyFor } from './workspace-key';

export { normalizeGitRemote, parseGitRemotes, readGitRemote, workspaceKeyFor } from './workspace-key';
export { DEFAULT_EXCLUDES } from './excludes';

export const DEFAULT_BATCH_SIZE = 2000;
/** How many excluded paths a result lists (the rest are counted in a warning). */
const MAX_SKIPPED_LISTED = 1000;
/** lstat calls in flight per directory. */
const STAT_CONCURRENCY = 64;
const MAX_INT = 2 ** 52 - 1;

export interface IndexProgress {
  /** Entries found on disk so far. */
  scanned: number;
  /** Entry rows created or changed so far. */
  written: number;
  /** Entry rows tombstoned so far. */
  deleted: number;
}

export interface IndexOptions {
  /** This device's name, if its record is missing or should be renamed. Default: the host name. */
  deviceName?: string;
  /** Overrides the workspace key (default: the normalised git remote, else the folder's name). */
  workspaceKey?: string;
  /** The location's display name. Default: the folder's name. */
  name?: string;
  /** More names or globs to skip (see excludes.ts). */
  exclude?: readonly string[];
  /** Skip `.git` and `node_modules` (default true). */
  includeDefaults?: boolean;
  /** Also skip what the folder's `.gitignore` files ignore (root and nested; see gitignore.ts). Default false. */
  gitignore?: boolean;
  /** Rows per transaction (default 2000). */
  batchSize?: number;
  /** Called after each batch (of rows written, or of entries scanned when nothing needs writing). */
  onProgress?: (p: IndexProgress) => void;
  /** Stops the scan between batches; the promise rejects with an IndexAbortedError. */
  signal?: AbortSignal;
}

export interface IndexResult {
  location: Id;
  workspaceKey: string;
  /** Live entries of the location after the scan. */
  entries: number;
  /** Total size of its files. */
  bytes: number;
  /** Entry rows created or changed by this scan. */
  written: number;
  /** Entry rows tombstoned by this scan. */
  deleted: number;
  /** Relative paths left out: excluded, or neither file, directory nor symlink (first 1000). */
  skipped: string[];
  /** What could not be read (kept as last indexed), and other notes. */
  warnings: string[];
}

export class IndexError extends Error {
  readonly code = 'ERR_INDEX';
  constructor(message: string) {
    super(message);
    this.name = 'IndexError';
  }
}

/**
 * The scan (or path update) was stopped by its AbortSignal, or because its
 * location is being removed (`reason` says so); what was written so far
 * stays (and is consistent).
 */
export class IndexAbortedError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(
    readonly progress: IndexProgress,
    readonly reason?: string,
  ) {
    super(`Indexing stopped${reason ? ` (${reason})` : ''}: ${progress.scanned} entries scanned, ${progress.written} written, ${progress.deleted} deleted`);
    this.name = 'AbortError';
  }
}

/** An entry as last indexed. */
interface Known {
  uuid: Id;
  kind: number;
  size: number;
  mtime: number;
  seen: boolean;
}

/** A row to write: its full data, or null for a tombstone. */
interface Op {
  uuid: Id;
  data: RecordData | null;
}

interface Dir {
  abs: string;
  rel: string;
  uuid: Id | null;
}

/** Indexes (or re-indexes) `folderPath` on this device. */
export async function indexFolder(lib: Library, folderPath: string, opts: IndexOptions = {}): Promise<IndexResult> {
  const root = path.resolve(folderPath);
  refuseIfRemoving(lib, root); // at once: a call made while its location is being removed does not add it back
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new IndexError(`batchSize must be a positive integer, not ${batchSize}`);
  const excludes = new Excludes([...(opts.includeDefaults === false ? [] : DEFAULT_EXCLUDES), ...(opts.exclude ?? [])]);
  // Claimed at once (synchronously): a second call for the same folder is refused however fast this one goes.
  const claim = claimFolder(lib, root);
  // Stopped by the caller, or by the removal of the folder's location (which waits for this scan to let go).
  const signal = opts.signal ? AbortSignal.any([opts.signal, claim.signal]) : claim.signal;
  const none: IndexProgress = { scanned: 0, written: 0, deleted: 0 };
  try {
    let st: Stats;
    try {
      st = await fsp.stat(root);
    } catch (e) {
      throw new NotFoundError(`Cannot index ${root}: ${describeFsError(e)}`);
    }
    if (!st.isDirectory()) throw new IndexError(`Cannot index ${root}: it is not a folder`);
    const workspaceKey = opts.workspaceKey === undefined ? await workspaceKeyFor(root) : checkWorkspaceKey(opts.workspaceKey);
    throwIfAborted(signal, none);
    await lib.ready();
    await ensureDevice(lib, opts.deviceName);
    const volume = await ensureVolume(lib, root);
    const name = (opts.name ?? (path.basename(root) || root)).slice(0, 256);
    const header: RecordData = { device: lib.deviceId, volume, path: root, name, workspace_key: workspaceKey };
    throwIfAborted(signal, none);
    let location = findLocation(lib, root);
    if (!location) {
      const rec = await lib.write((tx) => tx.put('location', { ...header, entry_count: 0, total_bytes: 0 }));
      location = rec.state.get('location')![0].uuid;
    }
    await lib.setScanState(location, 'scanning');
    const scan = new Scan(lib, root, location, excludes, batchSize, { ...opts, signal });
    try {
      const totals = await scan.run();
      throwIfAborted(signal, scan.progress());
      const cur = lib.read((r) => lib.registry.deviceOwnedModel('location').get(r, location!))!.data;
      const next: RecordData = { ...header, entry_count: totals.entries, total_bytes: totals.bytes };
      if (Object.keys(next).some((k) => !sameValue(cur[k], next[k]))) await lib.write((tx) => tx.put('location', next, location!));
      await lib.setScanState(location, 'done');
      return { location, workspaceKey, ...totals, written: scan.written, deleted: scan.deleted, skipped: scan.skipped, warnings: scan.warnings };
    } catch (e) {
      const state = e instanceof IndexAbortedError ? 'aborted' : `error: ${e instanceof Error ? e.message : String(e)}`.slice(0, 1000);
      await lib.setScanState(location, state).catch(() => undefined);
      throw e;
    }
  } finally {
    claim.release();
  }
}

/** One walk of a location's folder, diffing against its live entries and writing in batches. */
class Scan {
  written = 0;
  deleted = 0;
  scanned = 0;
  readonly skipped: string[] = [];
  readonly warnings: string[] = [];
  private skippedMore = 0;
  private readonly known = new Map<string, Known>();
  /** Live rows no path leads to (a duplicate, or under a missing directory): tombstoned. */
  private readonly strays: Id[] = [];
  /** Relative paths of directories that could not be read: what was indexed under them stays. */
  private readonly unreadable: string[] = [];
  private pending: Op[] = [];
  private fileBytes = 0;
  /** `scanned` when progress was last reported. */
  private reportedAt = 0;
  /** The .gitignore files met so far (only when asked to honour them). */
  private readonly gitignore: GitIgnore | null;

  constructor(
    private readonly lib: Library,
    private readonly root: string,
    private readonly location: Id,
    private readonly excludes: Excludes,
    private readonly batchSize: number,
    private readonly opts: IndexOptions,
  ) {
    this.gitignore = opts.gitignore ? new GitIgnore() : null;
  }

  async run(): Promise<{ entries: number; bytes: number }> {
    this.loadKnown();
    await this.gitignore?.loadRepoExclude(this.root);
    await this.walk();
    if (this.gitignore) this.warnings.push(...this.gitignore.warnings);
    // Complete walk: what was not seen has vanished (unless it is under a directory that could not be read).
    let keptEntries = 0;
    let keptBytes = 0;
    for (const [rel, k] of this.known) {
      if (k.seen) continue;
      if (this.unreadable.some((u) => rel === u || rel.startsWith(u + '/'))) {
        keptEntries++;
        if (k.kind === ENTRY_KIND.file) keptBytes += k.size;
        continue;
      }
      await this.push({ uuid: k.uuid, data: null });
    }
    for (const uuid of this.strays) await this.push({ uuid, data: null });
    await this.flush();
    if (this.skippedMore) this.warnings.push(`${this.skippedMore} more excluded paths are not listed in skipped`);
    return { entries: this.scanned + keptEntries, bytes: this.fileBytes + keptBytes };
  }

  /** The location's live entries by relative path. */
  private loadKnown(): void {
    const rows = this.lib.read((r) => {
      const rowId = r.value('SELECT id FROM location WHERE uuid = ?', [this.location]);
      return r.rows('SELECT id, uuid, parent_id, name, kind, size, mtime FROM entry WHERE location_id = ? AND deleted = 0 AND hlc IS NOT NULL', [rowId ?? -1]);
    });
    const byId = new Map<number, (typeof rows)[number]>();
    for (const row of rows) byId.set(row[0] as number, row);
    const paths = new Map<number, string | null>();
    const pathOf = (id: number): string | null => {
      const chain: number[] = [];
      let cur: number | null = id;
      let base = '';
      while (cur !== null) {
        const done = paths.get(cur);
        if (done !== undefined) {
          if (done === null) return mark(chain, null);
          base = done;
          break;
        }
        const row = byId.get(cur);
        if (!row || chain.length > 4096 || chain.includes(cur)) return mark(chain, null); // parent gone, or a cycle
        chain.push(cur);
        cur = row[2] as number | null;
      }
      let p = base;
      for (let i = chain.length - 1; i >= 0; i--) {
        p = p === '' ? (byId.get(chain[i])![3] as string) : `${p}/${byId.get(chain[i])![3] as string}`;
        paths.set(chain[i], p);
      }
      return p;
    };
    const mark = (chain: number[], v: null): null => {
      for (const c of chain) paths.set(c, v);
      return v;
    };
    for (const row of rows) {
      const p = pathOf(row[0] as number);
      if (p === null || this.known.has(p)) this.strays.push(row[1] as Id);
      else this.known.set(p, { uuid: row[1] as Id, kind: row[4] as number, size: row[5] as number, mtime: row[6] as number, seen: false });
    }
  }

  private async walk(): Promise<void> {
    const stack: Dir[] = [{ abs: this.root, rel: '', uuid: null }];
    while (stack.length) {
      const dir = stack.pop()!;
      let names: { name: string; isDir: boolean }[];
      try {
        names = (await fsp.readdir(dir.abs, { withFileTypes: true })).map((d) => ({ name: d.name, isDir: d.isDirectory() }));
      } catch (e) {
        if (dir.rel === '') throw new IndexError(`Cannot read ${this.root}: ${describeFsError(e)}`);
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') {
          this.unreadable.push(dir.rel);
          this.warnings.push(`Skipped ${dir.rel}: ${describeFsError(e)}`);
        }
        continue;
      }
      names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      if (this.gitignore && names.some((n) => n.name === GITIGNORE_FILE && !n.isDir)) {
        await this.gitignore.load(this.root, dir.rel);
      }
      const children: { name: string; rel: string }[] = [];
      for (const n of names) {
        const rel = dir.rel === '' ? n.name : `${dir.rel}/${n.name}`;
        if (this.excludes.matches(rel, n.isDir) || this.gitignore?.ignored(rel, n.isDir)) this.skip(rel);
        else children.push({ name: n.name, rel });
      }
      const subdirs: Dir[] = [];
      for (let i = 0; i < children.length; i += STAT_CONCURRENCY) {
        const slice = children.slice(i, i + STAT_CONCURRENCY);
        const stats = await Promise.allSettled(slice.map((c) => fsp.lstat(path.join(dir.abs, c.name))));
        for (let j = 0; j < slice.length; j++) {
          const sub = await this.visit(dir, slice[j].name, slice[j].rel, stats[j]);
          if (sub) subdirs.push(sub);
        }
      }
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]);
    }
  }

  /** Records one child of `dir`; returns it when it is a directory to descend into. */
  private async visit(dir: Dir, name: string, rel: string, stat: PromiseSettledResult<Stats>): Promise<Dir | null> {
    const known = this.known.get(rel);
    if (stat.status === 'rejected') {
      if ((stat.reason as NodeJS.ErrnoException)?.code === 'ENOENT') return null; // gone since the listing
      this.warnings.push(`Skipped ${rel}: ${describeFsError(stat.reason)}`);
      if (known) this.unreadable.push(rel); // keep it (and what is under it) as last indexed
      return null;
    }
    const st = stat.value;
    const kind = st.isSymbolicLink() ? ENTRY_KIND.symlink : st.isDirectory() ? ENTRY_KIND.dir : st.isFile() ? ENTRY_KIND.file : -1;
    if (kind < 0) {
      this.skip(rel); // a socket, FIFO or device
      return null;
    }
    const size = kind === ENTRY_KIND.dir ? 0 : Math.min(st.size, MAX_INT);
    const mtime = Math.min(Math.max(0, Math.round(st.mtimeMs)), MAX_INT); // ms (mtimeMs is a float: 677.9999 is 678)
    this.scanned++;
    if (kind === ENTRY_KIND.file) this.fileBytes += size;
    let uuid: Id;
    if (known) {
      known.seen = true;
      uuid = known.uuid;
      if (known.kind !== kind || known.size !== size || known.mtime !== mtime) await this.push({ uuid, data: this.entryData(dir, name, kind, size, mtime) });
    } else {
      uuid = this.lib.makeId();
      await this.push({ uuid, data: this.entryData(dir, name, kind, size, mtime) });
    }
    // A scan with little to write still reports (and can stop) every batch of entries scanned.
    if (this.scanned - this.reportedAt >= this.batchSize) this.between();
    return kind === ENTRY_KIND.dir ? { abs: path.join(dir.abs, name), rel, uuid } : null;
  }

  private entryData(dir: Dir, name: string, kind: number, size: number, mtime: number): RecordData {
    return { location: this.location, parent: dir.uuid, name, kind, size, mtime };
  }

  private skip(rel: string): void {
    if (this.skipped.length < MAX_SKIPPED_LISTED) this.skipped.push(rel);
    else this.skippedMore++;
  }

  private async push(op: Op): Promise<void> {
    this.pending.push(op);
    if (this.pending.length >= this.batchSize) await this.flush();
  }

  /** Writes the pending rows in one transaction. Directories come before what is in them. */
  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    let puts = 0;
    await this.lib.write((tx) => {
      for (const op of batch) {
        if (op.data) {
          tx.put('entry', op.data, op.uuid);
          puts++;
        } else tx.remove('entry', op.uuid);
      }
    });
    this.written += puts;
    this.deleted += batch.length - puts;
    this.between();
  }

  progress(): IndexProgress {
    return { scanned: this.scanned, written: this.written, deleted: this.deleted };
  }

  /** Between batches: report progress, stop if asked to. */
  private between(): void {
    this.reportedAt = this.scanned;
    const p = this.progress();
    this.opts.onProgress?.(p);
    throwIfAborted(this.opts.signal, p);
  }
}

/** Throws an IndexAbortedError if `signal` was aborted (saying why when the reason is ours: a string). */
export function throwIfAborted(signal: AbortSignal | undefined, p: IndexProgress): void {
  if (signal?.aborted) throw new IndexAbortedError({ ...p }, typeof signal.reason === 'string' ? signal.reason : undefined);
}

/** Creates this device's record if it is missing; renames it if `name` is given and differs. */
async function ensureDevice(lib: Library, name: string | undefined): Promise<void> {
  const cur = lib.read((r) => lib.registry.deviceOwnedModel('device').get(r, lib.deviceId));
  if (cur && !cur.deleted && (name === undefined || cur.data.name === name)) return;
  const now = lib.clock.now().ms;
  const data: RecordData =
    cur && !cur.deleted
      ? { ...cur.data, name: name!.slice(0, 256), updated_at: now }
      : {
          name: (name ?? os.hostname()).slice(0, 256),
          os: `${os.platform()}-${os.arch()}`,
          hostname: os.hostname().slice(0, 256),
          app_version: APP_VERSION,
          created_at: now,
          updated_at: now,
          last_seen_at: now,
        };
  await lib.write((tx) => tx.put('device', data, lib.deviceId));
}

/**
 * This device's volume row for the filesystem holding `folder` (by mount
 * point), created or brought up to date. Free space moves all the time: it
 * is rewritten only when it moved by 1% of the volume or more, so an
 * unchanged rescan writes nothing.
 */
async function ensureVolume(lib: Library, folder: string): Promise<Id> {
  const info = await volumeOf(folder);
  const model = lib.registry.deviceOwnedModel('volume');
  const cur = lib.read((r) => {
    const uuid = r.value('SELECT uuid FROM volume WHERE owner = ? AND mount_point = ? AND deleted = 0', [lib.deviceId, info.mountPoint]);
    return uuid instanceof Uint8Array ? model.get(r, uuid) : null;
  });
  const data: RecordData = {
    device: lib.deviceId,
    mount_point: info.mountPoint,
    name: info.name,
    filesystem: info.filesystem,
    total_bytes: info.totalBytes,
    available_bytes: info.availableBytes,
    removable: info.removable,
  };
  if (cur) {
    const d = cur.data;
    const freeBefore = d.available_bytes as number | null;
    const freeNow = info.availableBytes;
    const freeMoved =
      (freeBefore === null) !== (freeNow === null) ||
      (freeBefore !== null && freeNow !== null && Math.abs(freeBefore - freeNow) >= Math.max(1, (info.totalBytes ?? 0) / 100));
    const same = ['name', 'filesystem', 'total_bytes', 'removable'].every((k) => sameValue(d[k], data[k]));
    if (same && !freeMoved) return cur.uuid;
  }
  const uuid = cur?.uuid ?? lib.makeId();
  await lib.write((tx) => tx.put('volume', data, uuid));
  return uuid;
}

/** This device's live location for `folderPath`, or null. */
export function findLocation(lib: Library, folderPath: string): Id | null {
  const root = path.resolve(folderPath);
  const uuid = lib.read((r) => r.value('SELECT uuid FROM location WHERE owner = ? AND path = ? AND deleted = 0 ORDER BY id LIMIT 1', [lib.deviceId, root]));
  return uuid instanceof Uint8Array ? uuid : null;
}

/**
 * Removes a location of this device and, with it, its entries (here and,
 * through its tombstone, on every peer). Tags, notes and album items stay:
 * they belong to the item, which may live on in other checkouts.
 *
 * A scan or path update of its folder that is running is stopped first
 * (it fails with an IndexAbortedError saying why) and waited for; one asked
 * for while the removal runs is refused (FolderBusyError). The deletion is
 * for good: the library refuses to write the location, or entries into it,
 * again; indexing the folder again makes a new location.
 */
export async function removeLocation(lib: Library, location: Id): Promise<void> {
  const remove = async () => {
    await lib.write((tx) => tx.remove('location', location));
  };
  const row = lib.read((r) => r.rows('SELECT path FROM location WHERE uuid = ? AND owner = ? AND deleted = 0', [location, lib.deviceId])[0]);
  // Not a live location of this device: the removal itself says why.
  if (!row || typeof row[0] !== 'string') return remove();
  return whileRemoving(lib, row[0], `its location ${idToString(location)} is being removed`, remove);
}

function checkWorkspaceKey(key: string): string {
  if (typeof key !== 'string' || key.trim() === '') throw new IndexError('The workspace key must not be empty');
  if (key.length > MAX_WORKSPACE_KEY) throw new IndexError(`The workspace key is ${key.length} characters long; the limit is ${MAX_WORKSPACE_KEY}`);
  return key.trim();
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return 'no such file or folder';
  if (err?.code === 'EACCES' || err?.code === 'EPERM') return 'permission denied';
  return err?.code ?? (err?.message || String(e));
}
