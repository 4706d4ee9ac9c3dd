/**
 * Control methods for indexing folders.
 *
 *   addLocation     {library?, path, workspaceKey?, name?, exclude?: string[], gitignore?: boolean, batchSize?: number}
 *                   → {location, workspaceKey, entries, bytes, written, deleted, skipped, warnings}
 *   removeLocation  {library?, location}  → {location, name, path, entries}
 *                   A location of this device leaves the library: it and its entries are deleted
 *                   on every device (tags, notes and albums of its items stay: they follow the
 *                   workspace key and path). The folder on disk is not touched. A scan or watcher
 *                   update of the folder that is running is stopped first (its call fails with
 *                   ABORT_ERR, "… is being removed"), one asked for meanwhile is refused
 *                   (ERR_FOLDER_BUSY), and the location is never written again: adding the folder
 *                   again makes a new location.
 *
 * `path` is absolute (the service runs in another folder than the caller);
 * progress goes out as 'indexing' events.
 */
import * as path from 'node:path';
import { getLocation } from '../../engine/browse';
import { NotFoundError } from '../../engine/errors';
import { idEquals, idFromString, idToString } from '../../core/ids';
import { removeLocation } from '../../engine/indexer';
import type { EngineService } from '../engine-service';
import { InvalidParamsError } from '../errors';
import type { MethodTable } from '../method-table';

/** Rows per transaction a caller may ask for. */
export const MAX_BATCH_SIZE = 100_000;

export function locationMethods(service: EngineService): MethodTable {
  return {
    async removeLocation(p) {
      const lib = service.library(p.optionalString('library'));
      const ref = p.string('location');
      let id;
      try {
        id = idFromString(ref);
      } catch {
        throw new InvalidParamsError(`"location" must be a location id (a UUID): ${ref}`);
      }
      const loc = lib.read((r) => getLocation(r, lib.deviceId, id));
      if (!loc) throw new NotFoundError(`No location ${ref} in library "${lib.name}"`);
      if (!idEquals(loc.device, lib.deviceId)) throw new InvalidParamsError(`Location "${loc.name}" belongs to another device: only that device can remove it`);
      await removeLocation(lib, id);
      return { location: idToString(id), name: loc.name, path: loc.path, entries: loc.entries };
    },

    async addLocation(p) {
      const folder = p.string('path');
      if (!path.isAbsolute(folder)) throw new InvalidParamsError(`"path" must be absolute: ${folder}`);
      const r = await service.addLocation(p.optionalString('library'), folder, {
        workspaceKey: p.optionalString('workspaceKey'),
        name: p.optionalString('name'),
        exclude: p.optionalStrings('exclude'),
        gitignore: p.boolean('gitignore', false),
        batchSize: p.optionalPositive('batchSize', MAX_BATCH_SIZE),
      });
      return { ...r, location: idToString(r.location) };
    },
  };
}
