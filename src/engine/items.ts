/**
 * Items: what tags, album items and notes point at, a (workspace key,
 * relative path) pair (DESIGN rule 10). This resolves them to the entries
 * that stand for them on each device, and entries back to their paths.
 */
import type { Reader } from '../store';
import type { Id } from '../core/ids';

export interface ItemKey {
  workspaceKey: string;
  /** Relative to the location's root, '/'-separated, no leading or trailing '/'. */
  path: string;
}

export interface ResolvedItem {
  location: Id;
  /** The device whose location it is. */
  device: Id;
  /** Absolute path of the location on that device. */
  locationPath: string;
  /** The entry for the item there, or null if that device has no such file. */
  entry: Id | null;
}

/** Normalises a relative path: '/' separators, no '.', no empty segments, no leading or trailing '/'. */
export function normalizeItemPath(p: string): string {
  const parts = p.replace(/\\/g, '/').split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) throw new Error(`An item path cannot go up a folder: ${p}`);
  return parts.join('/');
}

/** The entry at `path` in one location (live rows only), or null. */
export function entryAt(r: Reader, locationRowId: number, path: string): Id | null {
  let parent: number | null = null;
  let uuid: Id | null = null;
  for (const name of normalizeItemPath(path).split('/')) {
    const row: unknown[] | undefined =
      parent === null
        ? r.rows('SELECT id, uuid FROM entry WHERE location_id = ? AND parent_id IS NULL AND name = ? AND deleted = 0 AND hlc IS NOT NULL', [locationRowId, name])[0]
        : r.rows('SELECT id, uuid FROM entry WHERE location_id = ? AND parent_id = ? AND name = ? AND deleted = 0 AND hlc IS NOT NULL', [locationRowId, parent, name])[0];
    if (!row) return null;
    parent = row[0] as number;
    uuid = row[1] as Id;
  }
  return uuid;
}

/** Every live location with this workspace key, and the item's entry in each. */
export function resolveItem(r: Reader, item: ItemKey): ResolvedItem[] {
  return r
    .rows('SELECT id, uuid, owner, path FROM location WHERE workspace_key = ? AND deleted = 0 ORDER BY uuid', [item.workspaceKey])
    .map(([id, uuid, owner, path]) => ({
      location: uuid as Id,
      device: owner as Id,
      locationPath: path as string,
      entry: item.path === '' ? null : entryAt(r, id as number, item.path),
    }));
}

/** The item key of an entry: its location's workspace key and its path from the root. Null if unknown. */
export function itemOfEntry(r: Reader, entry: Id): ItemKey | null {
  const names: string[] = [];
  let row = r.rows('SELECT parent_id, name, location_id FROM entry WHERE uuid = ? AND hlc IS NOT NULL', [entry])[0];
  if (!row) return null;
  const locationId = row[2];
  for (let depth = 0; row; depth++) {
    if (depth > 4096 || row[1] === null) return null; // a cycle, or a directory not arrived yet
    names.unshift(row[1] as string);
    if (row[0] === null) break;
    row = r.rows('SELECT parent_id, name FROM entry WHERE id = ?', [row[0]])[0];
  }
  if (!row) return null;
  const wk = r.value('SELECT workspace_key FROM location WHERE id = ?', [locationId]);
  return typeof wk === 'string' ? { workspaceKey: wk, path: names.join('/') } : null;
}
