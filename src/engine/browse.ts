/**
 * Reading the library the way a file browser does: devices and their
 * locations, a folder's children, and where an item (workspace key +
 * relative path, DESIGN rule 10) has copies, on this device and on others.
 *
 * Everything walks the entry tree through the `entry_children` index
 * (location, parent), never a scan of a location's entries, so a folder of
 * a 100k-entry location lists in milliseconds. Resolving many items at once
 * (marks, a tag's items) reads each folder on their paths once.
 */
import * as path from 'node:path';
import { ENTRY_KIND } from '../models/entry';
import type { Reader, SqlValue } from '../store';
import { idEquals, idKey, type Id } from '../core/ids';
import type { ItemKey } from './items';

export interface DeviceRow {
  device: Id;
  /** The device's own name (its device record), else the name it was paired with; '' if neither is known yet. */
  name: string;
  self: boolean;
  /** A live member (paired), or a partner of this device. */
  member: boolean;
  /** Live locations it owns. */
  locations: number;
}

export interface LocationRow {
  id: Id;
  /** Row id in this database (for entry queries). */
  rowId: number;
  device: Id;
  name: string;
  workspaceKey: string;
  /** The folder's path on its device. */
  path: string;
  /** Live entries as its owner counted them at its last scan. */
  entries: number;
  bytes: number;
  /** This device's scan state ('scanning', 'done', …); null for other devices' locations. */
  scanState: string | null;
}

export interface ChildRow {
  /** Row id of the entry (for walking further). */
  rowId: number;
  name: string;
  kind: 'file' | 'dir' | 'symlink';
  size: number | null;
  mtime: number | null;
}

const LIVE = 'deleted = 0 AND hlc IS NOT NULL';
const KIND_NAMES: Record<number, ChildRow['kind']> = { [ENTRY_KIND.file]: 'file', [ENTRY_KIND.dir]: 'dir', [ENTRY_KIND.symlink]: 'symlink' };

/** Every device the library knows: this one, members, partners, and owners of live locations; this one first, then by name. */
export function listDevices(r: Reader, self: Id): DeviceRow[] {
  const byKey = new Map<string, DeviceRow>();
  const add = (device: Id, name: string | null, member: boolean) => {
    const k = idKey(device);
    const cur = byKey.get(k);
    if (cur) {
      if (!cur.name && name) cur.name = name;
      cur.member ||= member;
    } else byKey.set(k, { device, name: name ?? '', self: idEquals(device, self), member, locations: 0 });
  };
  // The device's own record names it best (it renames itself there); the pairing names come next.
  const recordNames = new Map(r.rows('SELECT uuid, name FROM device WHERE deleted = 0').map(([u, n]) => [idKey(u as Id), n as string]));
  add(self, recordNames.get(idKey(self)) ?? null, true);
  for (const [device, name] of r.rows('SELECT device, name FROM member WHERE live = 1')) add(device as Id, recordNames.get(idKey(device as Id)) ?? (name as string), true);
  for (const [device, name] of r.rows('SELECT device, name FROM partner')) add(device as Id, recordNames.get(idKey(device as Id)) ?? (name as string | null), true);
  for (const [owner, n] of r.rows(`SELECT owner, count(*) FROM location WHERE deleted = 0 GROUP BY owner`)) {
    add(owner as Id, recordNames.get(idKey(owner as Id)) ?? null, false);
    byKey.get(idKey(owner as Id))!.locations = Number(n);
  }
  return [...byKey.values()].sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name) || idKey(a.device).localeCompare(idKey(b.device)));
}

const LOCATION_COLUMNS = 'uuid, id, owner, name, workspace_key, path, entry_count, total_bytes, scan_state';

/** Live locations (of one device, or all), this device's first, then by device and name. */
export function listLocations(r: Reader, self: Id, device?: Id): LocationRow[] {
  const rows = r.rows(
    `SELECT ${LOCATION_COLUMNS} FROM location WHERE deleted = 0` + (device ? ' AND owner = ?' : '') + ' ORDER BY name, path, id',
    device ? [device] : [],
  );
  const out = rows.map((row) => locationRow(row, self));
  // Stable: this device's first, the rest grouped by device, each device's by name.
  return out.sort((a, b) => Number(idEquals(b.device, self)) - Number(idEquals(a.device, self)) || idKey(a.device).localeCompare(idKey(b.device)));
}

/** One live location by id, or null. */
export function getLocation(r: Reader, self: Id, id: Id): LocationRow | null {
  const row = r.rows(`SELECT ${LOCATION_COLUMNS} FROM location WHERE uuid = ? AND deleted = 0`, [id])[0];
  return row ? locationRow(row, self) : null;
}

/** A row of LOCATION_COLUMNS; the scan state is only this device's to report. */
function locationRow([uuid, rowId, owner, name, wk, p, n, bytes, scan]: SqlValue[], self: Id): LocationRow {
  return {
    id: uuid as Id,
    rowId: rowId as number,
    device: owner as Id,
    name: name as string,
    workspaceKey: wk as string,
    path: p as string,
    entries: Number(n ?? 0),
    bytes: Number(bytes ?? 0),
    scanState: idEquals(owner as Id, self) ? ((scan as string | null) ?? null) : null,
  };
}

/** The live entry row id of a relative path in a location: null for the root, undefined if there is no such entry. */
export function entryRowAt(r: Reader, locationRowId: number, relPath: string): { rowId: number | null; kind: ChildRow['kind'] } | undefined {
  if (relPath === '') return { rowId: null, kind: 'dir' };
  let parent: number | null = null;
  let kind: ChildRow['kind'] = 'dir';
  for (const name of relPath.split('/')) {
    if (kind !== 'dir') return undefined;
    const row: unknown[] | undefined =
      parent === null
        ? r.rows(`SELECT id, kind FROM entry WHERE location_id = ? AND parent_id IS NULL AND name = ? AND ${LIVE} ORDER BY id LIMIT 1`, [locationRowId, name])[0]
        : r.rows(`SELECT id, kind FROM entry WHERE location_id = ? AND parent_id = ? AND name = ? AND ${LIVE} ORDER BY id LIMIT 1`, [locationRowId, parent, name])[0];
    if (!row) return undefined;
    parent = row[0] as number;
    kind = KIND_NAMES[row[1] as number] ?? 'file';
  }
  return { rowId: parent, kind };
}

/**
 * The live children of a folder (`dirRowId` null: the location's root),
 * folders first, then by name (case-insensitive, then exact); at most `limit`.
 */
export function childrenOf(r: Reader, locationRowId: number, dirRowId: number | null, limit: number): ChildRow[] {
  const where = dirRowId === null ? 'parent_id IS NULL' : 'parent_id = ?';
  const params = dirRowId === null ? [locationRowId, limit] : [locationRowId, dirRowId, limit];
  return r
    .rows(`SELECT id, name, kind, size, mtime FROM entry WHERE location_id = ? AND ${where} AND ${LIVE} ORDER BY kind <> ${ENTRY_KIND.dir}, name COLLATE NOCASE, name LIMIT ?`, params)
    .map(([id, name, kind, size, mtime]) => {
      const k = KIND_NAMES[kind as number] ?? 'file';
      return { rowId: id as number, name: name as string, kind: k, size: k === 'dir' ? null : ((size as number | null) ?? null), mtime: (mtime as number | null) ?? null };
    });
}

/**
 * Answers "is this relative path in this location?". For many paths
 * (`bulk`), each folder on their way is read once into a Map of its
 * children, so resolving a thousand items of one big folder costs one read
 * of that folder; for a few, each path is looked up by name.
 */
export class LocationPaths {
  /** Folder path → its children by name (row id, is a folder); null: no such folder. */
  private readonly dirs = new Map<string, Map<string, { rowId: number; dir: boolean }> | null>();

  constructor(
    private readonly r: Reader,
    readonly location: LocationRow,
    private readonly bulk = true,
  ) {}

  has(relPath: string): boolean {
    if (relPath === '') return true;
    if (!this.bulk) return entryRowAt(this.r, this.location.rowId, relPath) !== undefined;
    const cut = relPath.lastIndexOf('/');
    const parent = cut < 0 ? '' : relPath.slice(0, cut);
    return this.children(parent)?.has(relPath.slice(cut + 1)) ?? false;
  }

  /** The absolute path of the item on the location's device. */
  absolute(relPath: string): string {
    return relPath === '' ? this.location.path : path.join(this.location.path, ...relPath.split('/'));
  }

  private children(dirPath: string): Map<string, { rowId: number; dir: boolean }> | null {
    const known = this.dirs.get(dirPath);
    if (known !== undefined) return known;
    let rowId: number | null | undefined;
    if (dirPath === '') rowId = null;
    else {
      const cut = dirPath.lastIndexOf('/');
      const me = this.children(cut < 0 ? '' : dirPath.slice(0, cut))?.get(dirPath.slice(cut + 1));
      rowId = me?.dir ? me.rowId : undefined;
    }
    let out: Map<string, { rowId: number; dir: boolean }> | null = null;
    if (rowId !== undefined) {
      out = new Map();
      const where = rowId === null ? 'parent_id IS NULL' : 'parent_id = ?';
      const params = rowId === null ? [this.location.rowId] : [this.location.rowId, rowId];
      for (const [id, name, kind] of this.r.rows(`SELECT id, name, kind FROM entry WHERE location_id = ? AND ${where} AND ${LIVE} ORDER BY id`, params)) {
        if (!out.has(name as string)) out.set(name as string, { rowId: id as number, dir: kind === ENTRY_KIND.dir });
      }
    }
    this.dirs.set(dirPath, out);
    return out;
  }
}

export interface ItemCopies {
  /** Absolute paths of this device's copies (one per location of this device that has the item), in location order. */
  local: string[];
  /** Devices that have a copy (this one included), in device order. */
  devices: Id[];
}

/**
 * Where each item has copies: every live location with the item's
 * workspace key whose entries include its path (the location root for
 * path ''). `only: 'self'` looks at this device's locations only.
 */
export function itemCopies(r: Reader, self: Id, items: readonly ItemKey[], opts: { only?: 'self' } = {}): Map<string, ItemCopies> {
  const out = new Map<string, ItemCopies>();
  const byWorkspace = new Map<string, LocationPaths[]>();
  for (const item of items) {
    const k = itemMapKey(item);
    if (out.has(k)) continue;
    let locs = byWorkspace.get(item.workspaceKey);
    if (!locs) {
      const rows = r.rows(
        'SELECT uuid FROM location WHERE workspace_key = ? AND deleted = 0' + (opts.only === 'self' ? ' AND owner = ?' : '') + ' ORDER BY id',
        opts.only === 'self' ? [item.workspaceKey, self] : [item.workspaceKey],
      );
      // A handful of items: look each up by name rather than read whole folders.
      locs = rows.map(([uuid]) => new LocationPaths(r, getLocation(r, self, uuid as Id)!, items.length > POINT_LOOKUPS));
      byWorkspace.set(item.workspaceKey, locs);
    }
    const copies: ItemCopies = { local: [], devices: [] };
    for (const l of locs) {
      if (!l.has(item.path)) continue;
      if (idEquals(l.location.device, self)) copies.local.push(l.absolute(item.path));
      if (!copies.devices.some((d) => idEquals(d, l.location.device))) copies.devices.push(l.location.device);
    }
    out.set(k, copies);
  }
  return out;
}

/** Up to this many items are looked up path by path (see LocationPaths). */
const POINT_LOOKUPS = 8;

export function itemMapKey(item: ItemKey): string {
  return `${item.workspaceKey}\u0000${item.path}`;
}

export interface ItemMarks {
  tags: { id: Id; name: string; color: string | null }[];
  favorite: boolean;
  note: boolean;
  hidden: boolean;
}

/**
 * Tags, favorite and note flags of the given paths of one workspace (for a
 * folder's children): indexed lookups in chunks, nothing per row scanned.
 */
export function marksOf(r: Reader, workspaceKey: string, paths: readonly string[]): Map<string, ItemMarks> {
  const out = new Map<string, ItemMarks>();
  const get = (p: string) => {
    let m = out.get(p);
    if (!m) out.set(p, (m = { tags: [], favorite: false, note: false, hidden: false }));
    return m;
  };
  for (let i = 0; i < paths.length; i += CHUNK) {
    const part = paths.slice(i, i + CHUNK);
    const marks = part.map(() => '?').join(', ');
    for (const [p, uuid, name, color] of r.rows(
      `SELECT a.path, t.uuid, t.name, t.color FROM tag_assignment a JOIN tag t ON t.uuid = a.tag AND t.live = 1 ` +
        `WHERE a.workspace_key = ? AND a.path IN (${marks}) AND a.live = 1 ORDER BY t.name, t.uuid`,
      [workspaceKey, ...part],
    )) {
      get(p as string).tags.push({ id: uuid as Id, name: name as string, color: (color as string | null) ?? null });
    }
    for (const [p, note, favorite, hidden] of r.rows(
      `SELECT path, note, favorite, hidden FROM user_metadata WHERE workspace_key = ? AND path IN (${marks}) AND live = 1`,
      [workspaceKey, ...part],
    )) {
      const m = get(p as string);
      m.note = note !== null && note !== '';
      m.favorite = favorite === 1;
      m.hidden = hidden === 1;
    }
  }
  return out;
}

/** Paths per IN (…) query: well under SQLite's parameter limit. */
const CHUNK = 400;

/**
 * Every item that carries a live tag, is a favorite or has a note, in the
 * given workspaces, with those marks (for badges on this device's files).
 */
export function markedItems(r: Reader, workspaceKeys: readonly string[]): { item: ItemKey; marks: ItemMarks }[] {
  const out = new Map<string, { item: ItemKey; marks: ItemMarks }>();
  const get = (wk: string, p: string) => {
    const k = itemMapKey({ workspaceKey: wk, path: p });
    let e = out.get(k);
    if (!e) out.set(k, (e = { item: { workspaceKey: wk, path: p }, marks: { tags: [], favorite: false, note: false, hidden: false } }));
    return e.marks;
  };
  for (const wk of workspaceKeys) {
    for (const [p, uuid, name, color] of r.rows(
      'SELECT a.path, t.uuid, t.name, t.color FROM tag_assignment a JOIN tag t ON t.uuid = a.tag AND t.live = 1 WHERE a.workspace_key = ? AND a.live = 1 ORDER BY a.path, t.name, t.uuid',
      [wk],
    )) {
      get(wk, p as string).tags.push({ id: uuid as Id, name: name as string, color: (color as string | null) ?? null });
    }
    for (const [p, note, favorite, hidden] of r.rows(
      "SELECT path, note, favorite, hidden FROM user_metadata WHERE workspace_key = ? AND live = 1 AND (favorite = 1 OR (note IS NOT NULL AND note <> ''))",
      [wk],
    )) {
      const m = get(wk, p as string);
      m.note = note !== null && note !== '';
      m.favorite = favorite === 1;
      m.hidden = hidden === 1;
    }
  }
  return [...out.values()];
}
