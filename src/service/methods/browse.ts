/**
 * Control methods for browsing the library like a file tree (the editor's
 * Locations view and its file badges). Each takes an optional `library`.
 * Ids are UUID strings; times are ms since the epoch. Fields are only ever
 * added.
 *
 *   devices                       → [{device, name, self, online, lastSeen: number|null, locations: number, member: boolean}]
 *       every device the library knows: this one (first), members and partners, and owners of
 *       live locations (member false: e.g. unpaired, its locations still here); then by name.
 *       online: this device while the network is up; a partner while a link to it is up.
 *       lastSeen: null for this device; a partner's last contact (now while online).
 *   locations  {device?}          → [{id, device, deviceName, self, name, workspaceKey, path, entries, bytes, scanState: string|null}]
 *       live locations, this device's first; `device` (id, id prefix or name) keeps one device's.
 *       path: the folder on its device; entries/bytes: as its owner counted them at its last scan;
 *       scanState: this device's own scan state ('scanning', 'done', 'aborted', 'error: …'), else null.
 *   children   {location, path?: string ('' = root), limit?: number (default 2000, max 100000)}
 *       → {items: [{name, path, kind: 'file'|'dir', symlink: boolean, size: number|null, modifiedAt: number|null,
 *                   tags: TagJson[], note: boolean, favorite: boolean, hidden: boolean, localPath: string|null}],
 *          truncated: boolean, location, workspaceKey, path}
 *       folders first, then by name (case-insensitive). path: relative to the location. A symlink
 *       is kind 'file' with symlink true. localPath: this device's copy (same workspace key and path,
 *       entry present on a location of this device), else null.
 *       Unknown location or folder: ERR_NOT_FOUND; a malformed id: ERR_INVALID_PARAMS.
 *   localPath  {workspace, path}  → {localPath: string|null}
 *   marks                         → [{localPath, workspaceKey, path, tags: [{id, name, color}], favorite, note, hidden}]
 *       every tagged, favorite or noted item with a copy on this device, one row per copy.
 */
import { childrenOf, entryRowAt, getLocation, itemCopies, itemMapKey, listDevices, listLocations, LocationPaths, markedItems, marksOf } from '../../engine/browse';
import { NotFoundError } from '../../engine/errors';
import { idEquals, idFromString, idKey, idToString, type Id } from '../../core/ids';
import { normalizeItemPath } from '../../engine/items';
import type { Library } from '../../engine/library';
import type { EngineService } from '../engine-service';
import { InvalidParamsError } from '../errors';
import type { MethodTable } from '../method-table';
import type { Params } from '../params';
import { findDevice } from './device-param';

const DEFAULT_LIMIT = 2000;
const MAX_LIMIT = 100_000;

export function browseMethods(service: EngineService): MethodTable {
  const lib = (p: Params) => service.library(p.optionalString('library'));

  /** Per device: link up, and when last heard from (partners only). */
  const presence = (p: Params, l: Library) => {
    const online = new Set<string>();
    for (const s of service.sync(p.optionalString('library'))?.liveSessions() ?? []) online.add(idKey(s.remote));
    const lastSeen = new Map(l.partners().map((x) => [idKey(x.device), x.lastSeen]));
    return { online, lastSeen };
  };

  return {
    devices(p) {
      const l = lib(p);
      const { online, lastSeen } = presence(p, l);
      return l.read((r) => listDevices(r, l.deviceId)).map((d) => {
        const k = idKey(d.device);
        const up = d.self ? service.network.state === 'up' : online.has(k);
        return {
          device: idToString(d.device),
          name: d.name,
          self: d.self,
          online: up,
          lastSeen: d.self ? null : up ? Date.now() : (lastSeen.get(k) ?? null),
          locations: d.locations,
          member: d.member,
        };
      });
    },

    locations(p) {
      const l = lib(p);
      const devices = l.read((r) => listDevices(r, l.deviceId));
      const ref = p.optionalString('device');
      const only = ref === undefined ? undefined : findDevice(devices, ref, `device in library "${l.name}"`).device;
      const names = new Map(devices.map((d) => [idKey(d.device), d.name]));
      return l.read((r) => listLocations(r, l.deviceId, only)).map((x) => ({
        id: idToString(x.id),
        device: idToString(x.device),
        deviceName: names.get(idKey(x.device)) ?? '',
        self: idEquals(x.device, l.deviceId),
        name: x.name,
        workspaceKey: x.workspaceKey,
        path: x.path,
        entries: x.entries,
        bytes: x.bytes,
        scanState: x.scanState,
      }));
    },

    children(p) {
      const l = lib(p);
      const id = idParam(p, 'location');
      const dir = relPathParam(p, 'path');
      const limit = Math.floor(p.optionalPositive('limit', MAX_LIMIT) ?? DEFAULT_LIMIT) || 1;
      return l.read((r) => {
        const loc = getLocation(r, l.deviceId, id);
        if (!loc) throw new NotFoundError(`No location ${idToString(id)} in library "${l.name}"`);
        const at = entryRowAt(r, loc.rowId, dir);
        if (!at) throw new NotFoundError(`No folder "${dir}" in location "${loc.name}" (${loc.path})`);
        if (at.kind !== 'dir') throw new NotFoundError(`"${dir}" in location "${loc.name}" is not a folder`);
        const rows = childrenOf(r, loc.rowId, at.rowId, limit + 1);
        const truncated = rows.length > limit;
        if (truncated) rows.length = limit;
        const paths = rows.map((c) => (dir === '' ? c.name : `${dir}/${c.name}`));
        const marks = marksOf(r, loc.workspaceKey, paths);
        const self = idEquals(loc.device, l.deviceId);
        // This device's copies: the listed entries themselves, else this device's locations of the same workspace.
        const mine = self
          ? []
          : listLocations(r, l.deviceId, l.deviceId)
              .filter((x) => x.workspaceKey === loc.workspaceKey)
              .map((x) => new LocationPaths(r, x));
        const here = new LocationPaths(r, loc);
        const items = rows.map((c, i) => {
          const m = marks.get(paths[i]);
          const copy = self ? here : mine.find((x) => x.has(paths[i]));
          return {
            name: c.name,
            path: paths[i],
            kind: c.kind === 'dir' ? 'dir' : 'file',
            symlink: c.kind === 'symlink',
            size: c.size,
            modifiedAt: c.mtime,
            tags: (m?.tags ?? []).map((t) => ({ id: idToString(t.id), name: t.name, color: t.color })),
            note: m?.note ?? false,
            favorite: m?.favorite ?? false,
            hidden: m?.hidden ?? false,
            localPath: copy ? copy.absolute(paths[i]) : null,
          };
        });
        return { items, truncated, location: idToString(loc.id), workspaceKey: loc.workspaceKey, path: dir };
      });
    },

    localPath(p) {
      const l = lib(p);
      const item = { workspaceKey: p.string('workspace'), path: relPathParam(p, 'path') };
      const copies = l.read((r) => itemCopies(r, l.deviceId, [item], { only: 'self' }));
      return { localPath: [...copies.values()][0]?.local[0] ?? null };
    },

    marks(p) {
      const l = lib(p);
      return l.read((r) => {
        const workspaces = [...new Set(listLocations(r, l.deviceId, l.deviceId).map((x) => x.workspaceKey))];
        const marked = markedItems(r, workspaces);
        const copies = itemCopies(
          r,
          l.deviceId,
          marked.map((m) => m.item),
          { only: 'self' },
        );
        return marked.flatMap(({ item, marks }) =>
          (copies.get(itemMapKey(item))?.local ?? []).map((localPath) => ({
            localPath,
            workspaceKey: item.workspaceKey,
            path: item.path,
            tags: marks.tags.map((t) => ({ id: idToString(t.id), name: t.name, color: t.color })),
            favorite: marks.favorite,
            note: marks.note,
            hidden: marks.hidden,
          })),
        );
      });
    },
  };
}

/** A required UUID param. */
export function idParam(p: Params, name: string): Id {
  const s = p.string(name);
  try {
    return idFromString(s);
  } catch {
    throw new InvalidParamsError(`"${name}" must be an id (a UUID): ${JSON.stringify(s).slice(0, 60)}`);
  }
}

/** An optional path relative to a location or workspace ('' or absent: its root), normalised. */
export function relPathParam(p: Params, name: string): string {
  const raw = p.optionalString(name) ?? '';
  try {
    return normalizeItemPath(raw);
  } catch (e) {
    throw new InvalidParamsError(`"${name}": ${(e as Error).message}`);
  }
}
