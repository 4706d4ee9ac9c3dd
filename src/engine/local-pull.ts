/**
 * Pulls everything one library replica has that another lacks, in-process:
 * shared changes by version vector, then every owner's device-owned rows in
 * dependency order. The network protocol does the same over a transport;
 * this direct form serves the demo and tests of the layers below it.
 */
import type { ApplyReport } from './apply';
import { encodeHlcTime as encodeTime } from '../core/hlc';
import { idEquals } from '../core/ids';
import type { Library } from './library';

export async function pullAll(from: Library, to: Library, pageSize = 1000): Promise<{ applied: number; parked: number }> {
  let applied = 0;
  let parked = 0;
  const add = (r: ApplyReport) => {
    applied += r.applied;
    parked += r.parked;
  };
  for (;;) {
    const have = new Map([...to.vector()].map(([k, v]) => [k, v.seq]));
    const page = from.changesSince(have, pageSize);
    if (page.changes.length) add(await to.applyShared(page.changes));
    if (!page.hasMore) break;
  }
  for (const model of from.registry.deviceOwned) {
    const owners = from.read((r) => model.owners(r));
    for (const owner of owners) {
      // Its own rows a device takes back only as a set it sealed (Backfill.pullOwn), never one by one.
      if (idEquals(owner, to.deviceId)) continue;
      let after: Uint8Array | null = null;
      for (;;) {
        const rows = from.stateSince(model.name, owner, after, pageSize);
        if (rows.length === 0) break;
        add(await to.applyState(model.name, rows));
        after = encodeTime(rows[rows.length - 1].hlc);
        if (rows.length < pageSize) break;
      }
    }
  }
  return { applied, parked };
}
