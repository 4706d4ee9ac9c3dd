/**
 * A deterministic synthetic file tree for benchmarks: one location of one
 * remote device, directories of ~20 children, produced batch by batch so a
 * million rows never sit in memory at once.
 */
import { encodeHlcTime, type Hlc } from '../src/core/hlc';
import { deviceIdOf, deviceKeyPair } from '../src/core/signing';
import type { Library } from '../src/engine/library';
import { makeSeal, stateOf } from '../src/engine/owner-seals';
import { ENTRY_KIND } from '../src/models/entry';
import type { StateRecord } from '../src/models/model';

export const BASE_MS = 1_760_000_000_000;

function idFrom(n: number, tag: number): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, tag);
  dv.setUint32(4, Math.floor(n / 2 ** 32));
  dv.setUint32(8, n >>> 0);
  dv.setUint32(12, Math.imul(n ^ 0x9e3779b9, 0x85ebca6b) >>> 0);
  return b;
}

export class EntryTree {
  /** The remote device's key (fixed): its id is derived from it, and it is a member of the library it is relayed into. */
  readonly key = deviceKeyPair(new Uint8Array(32).fill(0xde));
  readonly device = deviceIdOf(this.key.publicKey);
  readonly location = idFrom(2, 0xbeef);
  constructor(readonly total: number) {}

  uuid(i: number): Uint8Array {
    return idFrom(i, 0xe);
  }

  /** Entry i: every 20th is a directory; parent is the directory that precedes it in creation order. */
  record(i: number): StateRecord {
    const isDir = i % 20 === 0;
    const parentDir = i < 20 ? -1 : Math.floor((i - 1) / 20 / 20) * 20; // dirs nest ~20 per dir
    const hlc: Hlc = { ms: BASE_MS + Math.floor(i / 1000), counter: i % 1000, device: this.device };
    return {
      uuid: this.uuid(i),
      hlc,
      deleted: false,
      data: {
        location: this.location,
        parent: parentDir >= 0 && parentDir !== i ? this.uuid(parentDir) : null,
        name: isDir ? `dir${i}` : `file${i}.ts`,
        kind: isDir ? ENTRY_KIND.dir : ENTRY_KIND.file,
        size: isDir ? 0 : (i * 7919) % 100_000,
        mtime: BASE_MS - (i % 1_000_000),
      },
    };
  }

  *batches(size: number): Generator<StateRecord[]> {
    for (let start = 0; start < this.total; start += size) {
      const batch: StateRecord[] = [];
      for (let i = start; i < Math.min(this.total, start + size); i++) batch.push(this.record(i));
      yield batch;
    }
  }

  timeOf(rec: StateRecord): Uint8Array {
    return encodeHlcTime(rec.hlc);
  }

  /** The location and device records the entries belong to (stamped before them). */
  parents(): { device: StateRecord; location: StateRecord } {
    const stamp = (c: number): Hlc => ({ ms: BASE_MS - 1000, counter: c, device: this.device });
    return {
      device: {
        uuid: this.device,
        hlc: stamp(0),
        deleted: false,
        data: { name: 'server', os: 'linux-x64', hostname: 'server', app_version: '0.1.0', created_at: BASE_MS, updated_at: BASE_MS, last_seen_at: BASE_MS },
      },
      location: {
        uuid: this.location,
        hlc: stamp(1),
        deleted: false,
        data: { device: this.device, volume: null, path: '/srv/code', name: 'code', workspace_key: 'github.com/acme/mono', entry_count: this.total, total_bytes: 0 },
      },
    };
  }
}

/**
 * Fills `lib` with `tree` as a relay of its device (applied as remote state,
 * a few batches in flight), and makes it vouch for all of it so it can
 * serve a backfill: its watermarks, and the device's seal of exactly these
 * rows (the tree's device holds the same, so it signs that).
 */
export async function fillRelayedTree(lib: Library, tree: EntryTree, batchSize = 1000, window = 4): Promise<void> {
  const { device, location } = tree.parents();
  // Its device is a member of the library, as a device whose data is relayed is.
  await lib.addMember({ device: tree.device, publicKey: tree.key.publicKey, name: 'server' });
  await lib.applyState('device', [device]);
  await lib.applyState('location', [location]);
  const inFlight: Promise<unknown>[] = [];
  for (const batch of tree.batches(batchSize)) {
    if (inFlight.length >= window) await inFlight.shift();
    inFlight.push(
      lib.applyState('entry', batch).then((r) => {
        if (r.applied !== batch.length) throw new Error(`filling: applied ${r.applied} of ${batch.length}`);
      }),
    );
  }
  await Promise.all(inFlight);
  await lib.setWatermark(tree.device, 'device', encodeHlcTime(device.hlc));
  await lib.setWatermark(tree.device, 'location', encodeHlcTime(location.hlc));
  await lib.setWatermark(tree.device, 'entry', encodeHlcTime(tree.record(tree.total - 1).hlc));
  const state = stateOf(lib.ownerStates().filter((o) => o.owner.every((b, i) => b === tree.device[i])));
  if (!state) throw new Error('filling: no rows of the tree held');
  const { refused } = await lib.takeSeals([makeSeal(lib.id, tree.key, tree.device, encodeHlcTime({ ms: Date.now(), counter: 0 }), state)]);
  if (refused.length) throw refused[0];
}
