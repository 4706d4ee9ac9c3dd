/**
 * What a person does to items (DESIGN rule 10: a workspace key and a path
 * relative to the checkout): tag them, note them, flag them favorite or
 * hidden, collect them in albums. The operations the CLI and the editor's
 * views call; each is one transaction of shared changes, so it syncs and
 * merges like any other (tags and albums are a union by id, so two may
 * share a name: then a name is ambiguous and the id must be used).
 *
 * An item is given as an ItemKey, or as an absolute path on this device,
 * resolved through this device's locations (the longest that contains it).
 */
import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import type { RecordData } from '../models/fields';
import type { Reader } from '../store';
import { InvalidChangeError, NotFoundError } from './errors';
import { idFromString, idToString, type Id } from '../core/ids';
import { normalizeItemPath, type ItemKey } from './items';
import type { Library, LocalTx } from './library';

/** An item: its key, or an absolute path on this device inside one of its locations. */
export type ItemRef = ItemKey | string;
/** A tag or album: its id (bytes or UUID string) or its name. */
export type NamedRef = Id | string;

export interface LocalItem extends ItemKey {
  /** The location of this device that holds the path. */
  location: Id;
  locationPath: string;
}

export interface TagInfo {
  id: Id;
  name: string;
  color: string | null;
  icon: string | null;
  description: string | null;
  namespace: string | null;
}

export interface AlbumInfo {
  id: Id;
  name: string;
  description: string | null;
}

export interface ItemMetadata {
  note: string | null;
  favorite: boolean;
  hidden: boolean;
}

const MAX_NAME = 256;
const MAX_COLOR = 32;
const MAX_ICON = 64;
const MAX_DESCRIPTION = 4096;
const MAX_NOTE = 65536;
const MAX_WORKSPACE_KEY = 1024;
const MAX_ITEM_PATH = 4096;

/** A name that more than one live tag (or album) has: the caller must pick one by id. */
export class AmbiguousNameError extends Error {
  readonly code = 'ERR_AMBIGUOUS_NAME';
  constructor(
    readonly kind: 'tag' | 'album',
    readonly itemName: string,
    readonly ids: Id[],
  ) {
    super(`${ids.length} ${kind}s are named "${itemName}"; use the id of the one you mean: ${ids.map(idToString).join(', ')}`);
    this.name = 'AmbiguousNameError';
  }
}

/** An absolute path that is not inside any location of this device. */
export class NotInLocationError extends Error {
  readonly code = 'ERR_NOT_IN_LOCATION';
  constructor(readonly path: string) {
    super(`${path} is not inside any indexed folder of this device; index the folder that holds it first`);
    this.name = 'NotInLocationError';
  }
}

// ------------------------------------------------------------------ items

/** The item an absolute path on this device stands for, through the longest location containing it. */
export function resolvePath(lib: Library, absPath: string): LocalItem {
  if (typeof absPath !== 'string' || !path.isAbsolute(absPath)) throw new InvalidChangeError(`Not an absolute path: ${JSON.stringify(String(absPath)).slice(0, 200)}`);
  const target = path.resolve(absPath);
  const locations = lib.read((r) =>
    r.rows('SELECT uuid, path, workspace_key FROM location WHERE owner = ? AND deleted = 0', [lib.deviceId]).map(([uuid, p, wk]) => ({
      uuid: uuid as Id,
      path: p as string,
      workspaceKey: wk as string,
    })),
  );
  let found = longestContaining(target, locations);
  if (!found) {
    // The same folder reached another way (a symlink, /tmp vs /private/tmp): compare real paths.
    const real = realOrNull(target);
    if (real) found = longestContaining(real, locations.map((l) => ({ ...l, path: realOrNull(l.path) ?? l.path })));
  }
  if (!found) throw new NotInLocationError(target);
  const original = locations.find((l) => l.uuid === found!.loc.uuid)!;
  return { workspaceKey: found.loc.workspaceKey, path: checkItemPath(found.rel), location: found.loc.uuid, locationPath: original.path };
}

function longestContaining<L extends { path: string }>(target: string, locations: readonly L[]): { loc: L; rel: string } | null {
  let best: { loc: L; rel: string } | null = null;
  for (const loc of locations) {
    const rel = path.relative(loc.path, target);
    if (rel === '..' || rel.startsWith('..' + path.sep) || path.isAbsolute(rel)) continue;
    if (!best || loc.path.length > best.loc.path.length) best = { loc, rel };
  }
  return best;
}

function realOrNull(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

/** Validates an item (or resolves a path to one) and normalises its path. */
export function toItemKey(lib: Library, item: ItemRef): ItemKey {
  if (typeof item === 'string') {
    const local = resolvePath(lib, item);
    return { workspaceKey: local.workspaceKey, path: local.path };
  }
  if (!item || typeof item !== 'object') throw new InvalidChangeError('An item is an absolute path or { workspaceKey, path }');
  const wk = item.workspaceKey;
  if (typeof wk !== 'string' || wk === '') throw new InvalidChangeError('An item needs a workspace key');
  if (wk.length > MAX_WORKSPACE_KEY) throw new InvalidChangeError(`A workspace key is at most ${MAX_WORKSPACE_KEY} characters; this one has ${wk.length}`);
  if (typeof item.path !== 'string') throw new InvalidChangeError('An item needs a path (relative to its workspace; "" for the workspace itself)');
  return { workspaceKey: wk, path: checkItemPath(item.path) };
}

function checkItemPath(p: string): string {
  let out: string;
  try {
    out = normalizeItemPath(p);
  } catch (e) {
    throw new InvalidChangeError((e as Error).message);
  }
  if (out.length > MAX_ITEM_PATH) throw new InvalidChangeError(`An item path is at most ${MAX_ITEM_PATH} characters; this one has ${out.length}`);
  return out;
}

function itemData(item: ItemKey): RecordData {
  return { workspace_key: item.workspaceKey, path: item.path };
}

// ------------------------------------------------------------------ validation

function checkName(kind: 'tag' | 'album', name: unknown): string {
  const what = kind === 'album' ? 'An album name' : 'A tag name';
  if (typeof name !== 'string') throw new InvalidChangeError(`${what} must be text`);
  const n = name.trim();
  if (n === '') throw new InvalidChangeError(`${what} cannot be empty`);
  if (n.length > MAX_NAME) throw new InvalidChangeError(`${what} is at most ${MAX_NAME} characters; this one has ${n.length}`);
  return n;
}

/** Optional text: undefined stays undefined (not set), '' and null clear it. */
function optionalText(what: string, v: string | null | undefined, max: number): string | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v !== 'string') throw new InvalidChangeError(`${what} must be text`);
  const t = v.trim();
  if (t.length > max) throw new InvalidChangeError(`${what} is at most ${max} characters; this one has ${t.length}`);
  return t === '' ? null : t;
}

// ------------------------------------------------------------------ named rows (tags, albums)

const TAG_COLUMNS = 'uuid, name, color, icon, description, namespace';
const ALBUM_COLUMNS = 'uuid, name, description';

function tagFromRow(row: readonly unknown[]): TagInfo {
  return {
    id: row[0] as Id,
    name: row[1] as string,
    color: (row[2] as string | null) ?? null,
    icon: (row[3] as string | null) ?? null,
    description: (row[4] as string | null) ?? null,
    namespace: (row[5] as string | null) ?? null,
  };
}

function albumFromRow(row: readonly unknown[]): AlbumInfo {
  return { id: row[0] as Id, name: row[1] as string, description: (row[2] as string | null) ?? null };
}

const NAMED = {
  tag: { table: 'tag', columns: TAG_COLUMNS, from: tagFromRow },
  album: { table: 'album', columns: ALBUM_COLUMNS, from: albumFromRow },
} as const;

function byName<K extends keyof typeof NAMED>(r: Reader, kind: K, name: string): ReturnType<(typeof NAMED)[K]['from']>[] {
  const n = NAMED[kind];
  return r.rows(`SELECT ${n.columns} FROM ${n.table} WHERE live = 1 AND name = ? ORDER BY uuid`, [name]).map((row) => n.from(row) as ReturnType<(typeof NAMED)[K]['from']>);
}

function byId<K extends keyof typeof NAMED>(r: Reader, kind: K, id: Id): ReturnType<(typeof NAMED)[K]['from']> | null {
  const n = NAMED[kind];
  const row = r.rows(`SELECT ${n.columns} FROM ${n.table} WHERE live = 1 AND uuid = ?`, [id])[0];
  return row ? (n.from(row) as ReturnType<(typeof NAMED)[K]['from']>) : null;
}

/** The live row a reference names: by id, else by (unique) name; null when there is none. */
function lookup<K extends keyof typeof NAMED>(r: Reader, kind: K, ref: NamedRef): ReturnType<(typeof NAMED)[K]['from']> | null {
  if (ref instanceof Uint8Array) return byId(r, kind, ref);
  if (typeof ref !== 'string') throw new InvalidChangeError(`${kind === 'album' ? 'An album' : 'A tag'} is given by its name or id`);
  const id = uuidOrNull(ref.trim());
  if (id) {
    const found = byId(r, kind, id);
    if (found) return found;
  }
  const name = checkName(kind, ref);
  const named = byName(r, kind, name);
  if (named.length > 1) throw new AmbiguousNameError(kind, name, named.map((t) => t.id));
  return named[0] ?? null;
}

function mustLookup<K extends keyof typeof NAMED>(r: Reader, kind: K, ref: NamedRef): ReturnType<(typeof NAMED)[K]['from']> {
  const found = lookup(r, kind, ref);
  if (found) return found;
  throw new NotFoundError(ref instanceof Uint8Array ? `No ${kind} with id ${idToString(ref)}` : `No ${kind} named "${String(ref).trim()}"`);
}

function uuidOrNull(s: string): Id | null {
  try {
    return idFromString(s);
  } catch {
    return null;
  }
}

/** Runs `fn` in one write transaction and returns what it returned. */
async function inTx<T>(lib: Library, fn: (tx: LocalTx) => T): Promise<T> {
  let out: T | undefined;
  await lib.write((tx) => {
    out = fn(tx);
  });
  return out as T;
}

// ------------------------------------------------------------------ tags

export interface NewTag {
  name: string;
  color?: string | null;
  icon?: string | null;
  description?: string | null;
  namespace?: string | null;
}

function newTagData(t: NewTag): RecordData {
  return {
    name: checkName('tag', t.name),
    color: optionalText('A tag color', t.color, MAX_COLOR) ?? null,
    icon: optionalText('A tag icon', t.icon, MAX_ICON) ?? null,
    description: optionalText('A tag description', t.description, MAX_DESCRIPTION) ?? null,
    namespace: optionalText('A tag namespace', t.namespace, MAX_NAME) ?? null,
  };
}

/** Creates a tag. Another tag may already have the name (tags are told apart by id). */
export async function createTag(lib: Library, tag: NewTag): Promise<TagInfo> {
  const data = newTagData(tag);
  const ch = await inTx(lib, (tx) => tx.create('tag', data));
  return tagFromRow([ch.uuid, data.name, data.color, data.icon, data.description, data.namespace]);
}

/** Live tags with exactly this name (usually one). */
export function findTags(lib: Library, name: string): TagInfo[] {
  const n = checkName('tag', name);
  return lib.read((r) => byName(r, 'tag', n));
}

/** One tag by id or unique name; null if there is none. Throws AmbiguousNameError if the name is shared. */
export function getTag(lib: Library, ref: NamedRef): TagInfo | null {
  return lib.read((r) => lookup(r, 'tag', ref));
}

/** Every live tag with how many items carry it, by name. */
export function listTags(lib: Library): (TagInfo & { count: number })[] {
  return lib.read((r) =>
    r
      .rows(
        `SELECT t.uuid, t.name, t.color, t.icon, t.description, t.namespace, ` +
          `(SELECT count(*) FROM tag_assignment a WHERE a.tag = t.uuid AND a.live = 1) FROM tag t WHERE t.live = 1 ORDER BY t.name, t.uuid`,
      )
      .map((row) => ({ ...tagFromRow(row), count: Number(row[6]) })),
  );
}

/**
 * Tags an item. A name no tag has creates the tag (in the same
 * transaction); a name two tags share is refused (AmbiguousNameError).
 * Tagging an item that already has the tag changes nothing.
 */
export async function tagItem(lib: Library, item: ItemRef, tag: NamedRef): Promise<{ tag: TagInfo; createdTag: boolean; added: boolean }> {
  const key = toItemKey(lib, item);
  return inTx(lib, (tx) => {
    let t = lookup(tx.reader, 'tag', tag);
    let createdTag = false;
    if (!t) {
      if (typeof tag !== 'string') throw new NotFoundError(`No tag with id ${idToString(tag)}`);
      const id = uuidOrNull(tag.trim());
      if (id) throw new NotFoundError(`No tag with id ${idToString(id)}`); // an id is never taken for a new tag's name
      const data = newTagData({ name: tag });
      t = tagFromRow([tx.create('tag', data).uuid, data.name, null, null, null, null]);
      createdTag = true;
    }
    const data = { tag: t.id, ...itemData(key) };
    const added = !isLive(tx.reader, 'tag_assignment', lib.registry.sharedModel('tag_assignment').derivedId(data)!);
    if (added) tx.create('tag_assignment', data);
    return { tag: t, createdTag, added };
  });
}

/** Removes a tag from an item. Returns whether the item had it. */
export async function untagItem(lib: Library, item: ItemRef, tag: NamedRef): Promise<boolean> {
  const key = toItemKey(lib, item);
  return inTx(lib, (tx) => {
    const t = mustLookup(tx.reader, 'tag', tag);
    const id = lib.registry.sharedModel('tag_assignment').derivedId({ tag: t.id, ...itemData(key) })!;
    if (!isLive(tx.reader, 'tag_assignment', id)) return false;
    tx.delete('tag_assignment', id);
    return true;
  });
}

/** The items carrying a tag, by workspace and path. */
export function itemsWithTag(lib: Library, tag: NamedRef): ItemKey[] {
  return lib.read((r) => {
    const t = mustLookup(r, 'tag', tag);
    return r
      .rows('SELECT workspace_key, path FROM tag_assignment WHERE tag = ? AND live = 1 ORDER BY workspace_key, path', [t.id])
      .map(([wk, p]) => ({ workspaceKey: wk as string, path: p as string }));
  });
}

/** The (live) tags of an item, by name. */
export function tagsOf(lib: Library, item: ItemRef): TagInfo[] {
  const key = toItemKey(lib, item);
  return lib.read((r) =>
    r
      .rows(
        `SELECT ${TAG_COLUMNS.split(', ').map((c) => `t.${c}`).join(', ')} FROM tag_assignment a JOIN tag t ON t.uuid = a.tag ` +
          'WHERE a.workspace_key = ? AND a.path = ? AND a.live = 1 AND t.live = 1 ORDER BY t.name, t.uuid',
        [key.workspaceKey, key.path],
      )
      .map(tagFromRow),
  );
}

export async function renameTag(lib: Library, tag: NamedRef, newName: string): Promise<TagInfo> {
  const name = checkName('tag', newName);
  return inTx(lib, (tx) => {
    const t = mustLookup(tx.reader, 'tag', tag);
    if (t.name !== name) tx.update('tag', t.id, { name });
    return { ...t, name };
  });
}

/** Sets a tag's color (null or '' clears it). */
export async function recolorTag(lib: Library, tag: NamedRef, color: string | null): Promise<TagInfo> {
  const c = optionalText('A tag color', color, MAX_COLOR) ?? null;
  return inTx(lib, (tx) => {
    const t = mustLookup(tx.reader, 'tag', tag);
    if (t.color !== c) tx.update('tag', t.id, { color: c });
    return { ...t, color: c };
  });
}

/** Deletes a tag and its assignments (in one transaction). Returns how many items carried it. */
export async function deleteTag(lib: Library, tag: NamedRef): Promise<number> {
  return inTx(lib, (tx) => {
    const t = mustLookup(tx.reader, 'tag', tag);
    const assigned = tx.reader.rows('SELECT uuid FROM tag_assignment WHERE tag = ? AND live = 1', [t.id]);
    for (const [uuid] of assigned) tx.delete('tag_assignment', uuid as Id);
    tx.delete('tag', t.id);
    return assigned.length;
  });
}

function isLive(r: Reader, table: 'tag_assignment' | 'album_item' | 'user_metadata', uuid: Id): boolean {
  return r.value(`SELECT live FROM ${table} WHERE uuid = ?`, [uuid]) === 1;
}

// ------------------------------------------------------------------ notes and flags

/** An item's note and flags (defaults when it has none). */
export function getMetadata(lib: Library, item: ItemRef): ItemMetadata {
  const key = toItemKey(lib, item);
  const id = metadataId(lib, key);
  const row = lib.read((r) => r.rows('SELECT note, favorite, hidden FROM user_metadata WHERE uuid = ? AND live = 1', [id])[0]);
  return { note: (row?.[0] as string | null) ?? null, favorite: row?.[1] === 1, hidden: row?.[2] === 1 };
}

export function getNote(lib: Library, item: ItemRef): string | null {
  return getMetadata(lib, item).note;
}

/** Sets an item's note; null or '' removes it. */
export async function setNote(lib: Library, item: ItemRef, text: string | null): Promise<void> {
  if (text !== null && typeof text !== 'string') throw new InvalidChangeError('A note must be text (or null to remove it)');
  if (text !== null && text.length > MAX_NOTE) throw new InvalidChangeError(`A note is at most ${MAX_NOTE} characters; this one has ${text.length}`);
  await setField(lib, item, 'note', text === '' ? null : text);
}

export async function setFavorite(lib: Library, item: ItemRef, favorite: boolean): Promise<void> {
  if (typeof favorite !== 'boolean') throw new InvalidChangeError('favorite must be true or false');
  await setField(lib, item, 'favorite', favorite);
}

export async function setHidden(lib: Library, item: ItemRef, hidden: boolean): Promise<void> {
  if (typeof hidden !== 'boolean') throw new InvalidChangeError('hidden must be true or false');
  await setField(lib, item, 'hidden', hidden);
}

/** Items marked favorite, by workspace and path. */
export function favoriteItems(lib: Library): ItemKey[] {
  return lib.read((r) =>
    r
      .rows('SELECT workspace_key, path FROM user_metadata WHERE live = 1 AND favorite = 1 ORDER BY workspace_key, path')
      .map(([wk, p]) => ({ workspaceKey: wk as string, path: p as string })),
  );
}

function metadataId(lib: Library, key: ItemKey): Id {
  return lib.registry.sharedModel('user_metadata').derivedId(itemData(key))!;
}

/**
 * Sets one field of an item's metadata row: an update of just that field, so
 * a concurrent edit of another field on another device is kept (rule 7).
 * The row is created on first use and never deleted (a delete would drop
 * concurrent edits of its other fields); clearing a field sets it to null.
 */
async function setField(lib: Library, item: ItemRef, field: 'note' | 'favorite' | 'hidden', value: string | boolean | null): Promise<void> {
  const key = toItemKey(lib, item);
  const id = metadataId(lib, key);
  const model = lib.registry.sharedModel('user_metadata');
  await lib.write((tx) => {
    const cur = model.get(tx.reader, id);
    if (cur?.live) {
      if ((cur.data[field] ?? null) === value || (value === false && cur.data[field] === null)) return;
      tx.update('user_metadata', id, { [field]: value });
    } else {
      if (value === null || value === false) return; // nothing to clear
      tx.create('user_metadata', { ...itemData(key), [field]: value });
    }
  });
}

// ------------------------------------------------------------------ albums

export interface NewAlbum {
  name: string;
  description?: string | null;
}

/** Creates an album. Another album may already have the name (albums are told apart by id). */
export async function createAlbum(lib: Library, album: NewAlbum): Promise<AlbumInfo> {
  const data: RecordData = {
    name: checkName('album', album.name),
    description: optionalText('An album description', album.description, MAX_DESCRIPTION) ?? null,
  };
  const ch = await inTx(lib, (tx) => tx.create('album', data));
  return albumFromRow([ch.uuid, data.name, data.description]);
}

/** Live albums with exactly this name (usually one). */
export function findAlbums(lib: Library, name: string): AlbumInfo[] {
  const n = checkName('album', name);
  return lib.read((r) => byName(r, 'album', n));
}

/** One album by id or unique name; null if there is none. Throws AmbiguousNameError if the name is shared. */
export function getAlbum(lib: Library, ref: NamedRef): AlbumInfo | null {
  return lib.read((r) => lookup(r, 'album', ref));
}

/** Every live album with how many items it holds, by name. */
export function listAlbums(lib: Library): (AlbumInfo & { count: number })[] {
  return lib.read((r) =>
    r
      .rows(
        'SELECT a.uuid, a.name, a.description, (SELECT count(*) FROM album_item i WHERE i.album = a.uuid AND i.live = 1) ' +
          'FROM album a WHERE a.live = 1 ORDER BY a.name, a.uuid',
      )
      .map((row) => ({ ...albumFromRow(row), count: Number(row[3]) })),
  );
}

/** Adds an item at the end of an album (which must exist). Adding an item already there changes nothing. */
export async function addToAlbum(lib: Library, album: NamedRef, item: ItemRef): Promise<{ album: AlbumInfo; added: boolean }> {
  const key = toItemKey(lib, item);
  return inTx(lib, (tx) => {
    const a = mustLookup(tx.reader, 'album', album);
    const data: RecordData = { album: a.id, ...itemData(key) };
    if (isLive(tx.reader, 'album_item', lib.registry.sharedModel('album_item').derivedId(data)!)) return { album: a, added: false };
    const last = tx.reader.value('SELECT max(position) FROM album_item WHERE album = ? AND live = 1', [a.id]);
    tx.create('album_item', { ...data, position: typeof last === 'number' ? last + 1 : 0 });
    return { album: a, added: true };
  });
}

/** Removes an item from an album. Returns whether it was there. */
export async function removeFromAlbum(lib: Library, album: NamedRef, item: ItemRef): Promise<boolean> {
  const key = toItemKey(lib, item);
  return inTx(lib, (tx) => {
    const a = mustLookup(tx.reader, 'album', album);
    const id = lib.registry.sharedModel('album_item').derivedId({ album: a.id, ...itemData(key) })!;
    if (!isLive(tx.reader, 'album_item', id)) return false;
    tx.delete('album_item', id);
    return true;
  });
}

/** An album's items in album order (then by path). */
export function albumItems(lib: Library, album: NamedRef): ItemKey[] {
  return lib.read((r) => {
    const a = mustLookup(r, 'album', album);
    return r
      .rows('SELECT workspace_key, path FROM album_item WHERE album = ? AND live = 1 ORDER BY position IS NULL, position, workspace_key, path', [a.id])
      .map(([wk, p]) => ({ workspaceKey: wk as string, path: p as string }));
  });
}

export async function renameAlbum(lib: Library, album: NamedRef, newName: string): Promise<AlbumInfo> {
  const name = checkName('album', newName);
  return inTx(lib, (tx) => {
    const a = mustLookup(tx.reader, 'album', album);
    if (a.name !== name) tx.update('album', a.id, { name });
    return { ...a, name };
  });
}

/** Deletes an album and its items (in one transaction). Returns how many items it held. */
export async function deleteAlbum(lib: Library, album: NamedRef): Promise<number> {
  return inTx(lib, (tx) => {
    const a = mustLookup(tx.reader, 'album', album);
    const items = tx.reader.rows('SELECT uuid FROM album_item WHERE album = ? AND live = 1', [a.id]);
    for (const [uuid] of items) tx.delete('album_item', uuid as Id);
    tx.delete('album', a.id);
    return items.length;
  });
}
