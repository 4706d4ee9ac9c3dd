/**
 * Control method for keeping an indexed folder current from a file
 * watcher (see engine/update-paths.ts), without rescanning it.
 *
 *   updatePaths  {library?, path | location, changed: string[], deleted: string[],
 *                 exclude?: string[], gitignore?: boolean, batchSize?: number}
 *                → {location, written, deleted, skipped, warnings}
 *
 * `path` is the folder of a location of this device (absolute); or
 * `location`, its id. Changed and deleted paths are absolute, at most 1000
 * of each per call (a bigger change is better served by addLocation's
 * rescan). Pass the same `exclude` and `gitignore` as to addLocation.
 */
import * as path from 'node:path';
import { idFromString, idToString } from '../../core/ids';
import { updatePaths } from '../../engine/update-paths';
import type { EngineService } from '../engine-service';
import { InvalidParamsError, ServiceClosedError } from '../errors';
import type { MethodTable } from '../method-table';
import type { Params } from '../params';
import { MAX_BATCH_SIZE } from './locations';
import { NotFoundError } from '../../engine/errors';

export function watchMethods(service: EngineService): MethodTable {
  return {
    async updatePaths(p) {
      if (service.closed) throw new ServiceClosedError();
      const lib = service.library(p.optionalString('library'));
      const folder = folderOf(p, (id) => {
        const v = lib.read((r) => r.value('SELECT path FROM location WHERE uuid = ? AND owner = ? AND deleted = 0', [idFromString(id), lib.deviceId]));
        if (typeof v !== 'string') throw new NotFoundError(`No location ${id} of this device`);
        return v;
      });
      const changed = absolutes(p, 'changed');
      const deleted = absolutes(p, 'deleted');
      const r = await updatePaths(lib, folder, { changed, deleted }, {
        exclude: p.optionalStrings('exclude'),
        gitignore: p.boolean('gitignore', false),
        batchSize: p.optionalPositive('batchSize', MAX_BATCH_SIZE),
      });
      return { location: idToString(r.location), written: r.written, deleted: r.deleted, skipped: r.skipped, warnings: r.warnings };
    },
  };
}

function folderOf(p: Params, byId: (id: string) => string): string {
  const folder = p.optionalString('path');
  if (folder !== undefined && folder !== '') {
    if (!path.isAbsolute(folder)) throw new InvalidParamsError(`"path" must be absolute: ${folder}`);
    return folder;
  }
  const location = p.optionalString('location');
  if (location === undefined || location === '') throw new InvalidParamsError('"path" or "location" is required');
  return byId(location);
}

function absolutes(p: Params, name: string): string[] {
  const list = p.optionalStrings(name) ?? [];
  const bad = list.find((x) => !path.isAbsolute(x));
  if (bad !== undefined) throw new InvalidParamsError(`"${name}" must hold absolute paths: ${bad}`);
  return list;
}
