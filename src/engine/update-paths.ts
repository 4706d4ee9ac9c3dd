/**
 * Keeping an indexed folder current from file-watcher events, without a
 * rescan: each changed path is looked at on disk and its entry written
 * (with any missing parent folders; a new folder with everything in it),
 * and each deleted path's entry is tombstoned with everything under it.
 * The same excludes as the folder's index apply (names, globs and, when
 * asked, .gitignore files). A path that is gone is treated as deleted; a
 * "deleted" path that exists again as changed. Unchanged entries are not
 * written, so repeated events cost nothing. The location's entry count and
 * size are brought up to date at the end. Removing the location stops an
 * update between batches (see folder-claims.ts).
 */
import { promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import type { RecordData } from '../models/fields';
import { ENTRY_KIND } from '../models/entry';
import { NotFoundError } from './errors';
import { DEFAULT_EXCLUDES, Excludes } from './excludes';
import { claimFolder, refuseIfRemoving } from './folder-claims';
import { GitIgnore } from './gitignore';
import type { Id } from '../core/ids';
import { DEFAULT_BATCH_SIZE, findLocation, throwIfAborted } from './indexer';
import type { Library } from './library';

const MAX_INT = 2 ** 52 - 1;

export interface UpdatePathsOptions {
  /** Names or globs to skip, as given to the folder's index. */
  exclude?: readonly string[];
  /** Skip `.git` and `node_modules` (default true). */
  includeDefaults?: boolean;
  /** Honour .gitignore files (default false), as given to the folder's index. */
  gitignore?: boolean;
  batchSize?: number;
}

export interface UpdatePathsResult {
  location: Id;
  /** Entry rows created or changed. */
  written: number;
  /** Entry rows tombstoned. */
  deleted: number;
  /** Paths left alone: outside the folder, excluded, or unreadable. */
  skipped: number;
  /** Ignore files that were not read, and why (see gitignore.ts). */
  warnings: string[];
}

interface Known {
  rowId: number;
  uuid: Id;
  kind: number;
  size: number;
  mtime: number;
}

/** Applies `changed` and `deleted` (absolute paths) to the location of this device at `folderPath`. */
export async function updatePaths(lib: Library, folderPath: string, changes: { changed: readonly string[]; deleted: readonly string[] }, opts: UpdatePathsOptions = {}): Promise<UpdatePathsResult> {
  const root = path.resolve(folderPath);
  refuseIfRemoving(lib, root);
  await lib.ready();
  const location = findLocation(lib, root);
  if (!location) throw new NotFoundError(`${root} is not a location of this device: index it first (add-location)`);
  const claim = claimFolder(lib, root);
  try {
    const u = new PathUpdate(lib, root, location, opts, claim.signal);
    await u.run(changes.changed, changes.deleted);
    return { location, written: u.written, deleted: u.deleted, skipped: u.skipped, warnings: u.warnings };
  } finally {
    claim.release();
  }
}

class PathUpdate {
  written = 0;
  deleted = 0;
  skipped = 0;
  get warnings(): string[] {
    return this.gitignore ? [...this.gitignore.warnings] : [];
  }
  private readonly excludes: Excludes;
  private readonly gitignore: GitIgnore | null;
  /** Folders whose entry was brought up to date by this update. */
  private readonly refreshed = new Set<string>();
  /** Folders whose .gitignore was read (relative path). */
  private readonly gitignoreRead = new Set<string>();
  private readonly locationRow: number;
  /** Entries written by this update, by relative path; rowId -1 for new ones (not in the database until flushed), null for removed ones. */
  private readonly fresh = new Map<string, Known | null>();
  private pending: { uuid: Id; data: RecordData | null }[] = [];
  private readonly batchSize: number;

  constructor(
    private readonly lib: Library,
    private readonly root: string,
    private readonly location: Id,
    opts: UpdatePathsOptions,
    /** Aborted when the location is being removed: nothing more is written. */
    private readonly signal: AbortSignal,
  ) {
    this.excludes = new Excludes([...(opts.includeDefaults === false ? [] : DEFAULT_EXCLUDES), ...(opts.exclude ?? [])]);
    this.gitignore = opts.gitignore ? new GitIgnore() : null;
    this.batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
    this.locationRow = lib.read((r) => r.value('SELECT id FROM location WHERE uuid = ?', [location])) as number;
  }

  async run(changed: readonly string[], deleted: readonly string[]): Promise<void> {
    await this.gitignore?.loadRepoExclude(this.root);
    for (const abs of deleted) {
      const rel = this.relative(abs);
      if (rel === null) continue;
      const st = await lstatOrNull(path.join(this.root, rel));
      if (st) await this.change(rel, st);
      else await this.remove(rel);
    }
    for (const abs of changed) {
      const rel = this.relative(abs);
      if (rel === null) continue;
      const st = await lstatOrNull(path.join(this.root, rel));
      if (st) await this.change(rel, st);
      else await this.remove(rel);
    }
    await this.flush();
    await this.updateTotals();
  }

  /** The path relative to the root ('/'-separated), or null (counted as skipped) if it is the root or outside it. */
  private relative(abs: string): string | null {
    const rel = path.relative(this.root, path.resolve(this.root, abs));
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      if (rel !== '') this.skipped++;
      return null;
    }
    return rel.split(path.sep).join('/');
  }

  /** Writes the entry at `rel` (and missing parents); a new folder brings everything in it. */
  private async change(rel: string, st: Stats): Promise<void> {
    const kind = kindOf(st);
    if (kind < 0 || (await this.excluded(rel, kind === ENTRY_KIND.dir))) {
      this.skipped++;
      return;
    }
    const parent = await this.ensureParents(rel);
    if (parent === undefined) {
      this.skipped++; // a parent folder is excluded or gone
      return;
    }
    const isNewDir = await this.upsert(rel, parent, st);
    if (isNewDir) await this.addTree(rel);
  }

  /** Writes the entry at `rel` under `parent` if it is new or changed; true if it is a folder that was not known. */
  private async upsert(rel: string, parent: Id | null, st: Stats): Promise<boolean> {
    const kind = kindOf(st);
    const size = kind === ENTRY_KIND.dir ? 0 : Math.min(st.size, MAX_INT);
    const mtime = Math.min(Math.max(0, Math.round(st.mtimeMs)), MAX_INT);
    const known = this.lookup(rel);
    if (known && known.kind === kind && known.size === size && known.mtime === mtime) return false;
    const uuid = known?.uuid ?? this.lib.makeId();
    const name = rel.slice(rel.lastIndexOf('/') + 1);
    this.fresh.set(rel, { rowId: known?.rowId ?? -1, uuid, kind, size, mtime });
    await this.push(uuid, { location: this.location, parent, name, kind, size, mtime });
    return kind === ENTRY_KIND.dir && (!known || known.kind !== ENTRY_KIND.dir);
  }

  /**
   * The uuid of `rel`'s folder entry, creating missing folders on the way
   * and refreshing known ones (a folder's modification time moves with what
   * is in it); null for the root; undefined if one is excluded or gone.
   */
  private async ensureParents(rel: string): Promise<Id | null | undefined> {
    const parts = rel.split('/');
    let parent: Id | null = null;
    for (let i = 1; i < parts.length; i++) {
      const dirRel = parts.slice(0, i).join('/');
      const known = this.lookup(dirRel);
      if (known && known.kind === ENTRY_KIND.dir && this.refreshed.has(dirRel)) {
        parent = known.uuid;
        continue;
      }
      const st = await lstatOrNull(path.join(this.root, dirRel));
      if (!st || !st.isDirectory() || (await this.excluded(dirRel, true))) return undefined;
      this.refreshed.add(dirRel);
      await this.upsert(dirRel, parent, st);
      parent = this.lookup(dirRel)!.uuid;
    }
    return parent;
  }

  /** Everything under a folder new to the index. */
  private async addTree(dirRel: string): Promise<void> {
    const stack = [dirRel];
    while (stack.length) {
      const rel = stack.pop()!;
      const parent = this.lookup(rel)?.uuid;
      if (!parent) continue;
      let names: string[];
      try {
        names = (await fsp.readdir(path.join(this.root, rel))).sort();
      } catch {
        continue;
      }
      await this.loadGitIgnore(rel);
      for (const name of names) {
        const childRel = `${rel}/${name}`;
        const st = await lstatOrNull(path.join(this.root, childRel));
        if (!st) continue;
        const kind = kindOf(st);
        if (kind < 0 || (await this.excluded(childRel, kind === ENTRY_KIND.dir))) {
          this.skipped++;
          continue;
        }
        await this.upsert(childRel, parent, st);
        if (kind === ENTRY_KIND.dir) stack.push(childRel);
      }
    }
  }

  /** Tombstones the entry at `rel` and everything under it (and refreshes the folders above it). */
  private async remove(rel: string): Promise<void> {
    const known = this.lookup(rel);
    if (!known) return;
    await this.ensureParents(rel);
    this.fresh.set(rel, null);
    const under =
      known.rowId < 0
        ? []
        : (this.lib.read((r) =>
            r.rows(
              'WITH RECURSIVE d(id) AS (SELECT id FROM entry WHERE parent_id = ? UNION ALL SELECT e.id FROM entry e JOIN d ON e.parent_id = d.id) ' +
                'SELECT e.uuid FROM entry e JOIN d ON d.id = e.id WHERE e.deleted = 0 AND e.hlc IS NOT NULL',
              [known.rowId],
            ),
          ) as Id[][]);
    for (const [uuid] of under) await this.push(uuid, null);
    for (const [k, f] of [...this.fresh]) {
      if (!k.startsWith(rel + '/') || !f) continue;
      if (f.rowId < 0) await this.push(f.uuid, null); // written by this update, not yet flushed
      this.fresh.set(k, null);
    }
    await this.push(known.uuid, null);
  }

  /** The live entry at `rel`, written by this update or in the database. */
  private lookup(rel: string): Known | null {
    if (this.fresh.has(rel)) return this.fresh.get(rel)!;
    let parentRow: number | null = null;
    let found: Known | null = null;
    const parts = rel.split('/');
    for (let i = 0; i < parts.length; i++) {
      const prefix = parts.slice(0, i + 1).join('/');
      const f = this.fresh.get(prefix);
      if (f !== undefined) {
        if (f === null || f.rowId < 0) return i === parts.length - 1 ? f : null; // under something new or gone: not in the database
        found = f;
      } else {
        const row = this.lib.read((r) =>
          r.rows('SELECT id, uuid, kind, size, mtime FROM entry WHERE location_id = ? AND parent_id IS ? AND name = ? AND deleted = 0 AND hlc IS NOT NULL ORDER BY id LIMIT 1', [
            this.locationRow,
            parentRow,
            parts[i],
          ]),
        )[0];
        if (!row) return null;
        found = { rowId: row[0] as number, uuid: row[1] as Id, kind: row[2] as number, size: row[3] as number, mtime: row[4] as number };
      }
      parentRow = found.rowId;
    }
    return found;
  }

  /** Whether `rel` or a folder above it is excluded (the index never went into an excluded folder). */
  private async excluded(rel: string, isDir: boolean): Promise<boolean> {
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const sub = parts.slice(0, i).join('/');
      const dir = i < parts.length || isDir;
      if (this.gitignore) await this.loadGitIgnore(parts.slice(0, i - 1).join('/'));
      if (this.excludes.matches(sub, dir) || this.gitignore?.ignored(sub, dir)) return true;
    }
    return false;
  }

  private async loadGitIgnore(dirRel: string): Promise<void> {
    if (!this.gitignore || this.gitignoreRead.has(dirRel)) return;
    this.gitignoreRead.add(dirRel);
    await this.gitignore.load(this.root, dirRel);
  }

  private async push(uuid: Id, data: RecordData | null): Promise<void> {
    this.pending.push({ uuid, data });
    if (this.pending.length >= this.batchSize) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    this.stopIfAborted();
    const batch = this.pending;
    this.pending = [];
    await this.lib.write((tx) => {
      for (const op of batch) {
        if (op.data) tx.put('entry', op.data, op.uuid);
        else tx.remove('entry', op.uuid);
      }
    });
    for (const op of batch) {
      if (op.data) this.written++;
      else this.deleted++;
    }
    // Written rows are in the database now: look them up there from here on.
    for (const [rel, k] of this.fresh) if (k && k.rowId < 0) this.fresh.delete(rel);
  }

  private stopIfAborted(): void {
    throwIfAborted(this.signal, { scanned: 0, written: this.written, deleted: this.deleted });
  }

  private async updateTotals(): Promise<void> {
    if (this.written === 0 && this.deleted === 0) return;
    this.stopIfAborted();
    const [count, bytes] = this.lib.read(
      (r) =>
        r.rows(`SELECT count(*), coalesce(sum(CASE WHEN kind = ${ENTRY_KIND.file} THEN size ELSE 0 END), 0) FROM entry WHERE location_id = ? AND deleted = 0 AND hlc IS NOT NULL`, [
          this.locationRow,
        ])[0],
    ) as number[];
    const cur = this.lib.read((r) => this.lib.registry.deviceOwnedModel('location').get(r, this.location));
    if (!cur || cur.deleted || (cur.data.entry_count === count && cur.data.total_bytes === bytes)) return;
    await this.lib.write((tx) => tx.put('location', { ...cur.data, entry_count: count, total_bytes: bytes }, this.location));
  }
}

function kindOf(st: Stats): number {
  return st.isSymbolicLink() ? ENTRY_KIND.symlink : st.isDirectory() ? ENTRY_KIND.dir : st.isFile() ? ENTRY_KIND.file : -1;
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await fsp.lstat(p);
  } catch {
    return null;
  }
}
