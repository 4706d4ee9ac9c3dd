/**
 * Control method for indexing folders.
 *
 *   addLocation  {library?, path, workspaceKey?, name?, exclude?: string[], gitignore?: boolean, batchSize?: number}
 *                → {location, workspaceKey, entries, bytes, written, deleted, skipped, warnings}
 *
 * `path` is absolute (the service runs in another folder than the caller);
 * progress goes out as 'indexing' events.
 */
import * as path from 'node:path';
import { idToString } from '../../engine/ids';
import type { EngineService } from '../engine-service';
import { InvalidParamsError } from '../errors';
import type { MethodTable } from '../method-table';

/** Rows per transaction a caller may ask for. */
export const MAX_BATCH_SIZE = 100_000;

export function locationMethods(service: EngineService): MethodTable {
  return {
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
