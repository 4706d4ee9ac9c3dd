/**
 * Every control method of the engine service, in one table. A feature adds
 * its methods as a table of its own (`xyzMethods(service)` in this folder)
 * listed here; a name may appear only once.
 */
import type { EngineService } from '../engine-service';
import type { MethodTable } from '../method-table';
import { activityMethods } from './activity';
import { browseMethods } from './browse';
import { coreMethods } from './core';
import { itemMethods } from './items';
import { locationMethods } from './locations';
import { pairingMethods } from './pairing';
import { peerMethods } from './peers';
import { tagMethods } from './tags';
import { watchMethods } from './watch';

export function serviceMethods(service: EngineService): MethodTable {
  const tables: MethodTable[] = [
    coreMethods(service),
    locationMethods(service),
    itemMethods(service),
    pairingMethods(service),
    browseMethods(service),
    tagMethods(service),
    watchMethods(service),
    peerMethods(service),
    activityMethods(service),
  ];
  const all: Record<string, MethodTable[string]> = {};
  for (const t of tables) {
    for (const [name, fn] of Object.entries(t)) {
      if (name in all) throw new Error(`control method "${name}" is defined twice`);
      all[name] = fn;
    }
  }
  return all;
}
