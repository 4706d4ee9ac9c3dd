/**
 * Child for the library crash test: opens (or creates) a library and commits
 * in a loop, shared changes and device-owned state, printing `ack <origin> <seq>`
 * for each tag once `commitShared` has resolved (acknowledged = durable).
 * Args: dataDir libraryId|new
 */
import * as path from 'node:path';
import { idFromString, idKey, idToString } from '../../src/core/ids';
import { loadOrCreateDeviceKeyPair } from '../../src/net/keys';
import { Library } from '../../src/engine/library';
import { ENTRY_KIND } from '../../src/models/entry';

async function main(): Promise<void> {
  const [dataDir, id] = process.argv.slice(2);
  // The device's key, kept beside its libraries as a service keeps it: every run signs as the same device.
  const keyPair = loadOrCreateDeviceKeyPair(path.join(dataDir, 'device.key'));
  const lib = id === 'new' ? await Library.create({ dataDir, name: 'crash', keyPair }) : await Library.open({ dataDir, libraryId: idFromString(id), keyPair });
  process.stdout.write(`library ${idToString(lib.id)}\nready\n`);
  const [loc] = await lib.commitDeviceOwned('location', [
    { data: { device: lib.deviceId, volume: null, path: `/p-${idKey(lib.origin)}`, name: 'p', workspace_key: 'k', entry_count: 0, total_bytes: 0 } },
  ]);
  for (let n = 0; ; n++) {
    const burst = n % 4 === 0 ? 8 : 1; // mix single commits and concurrent bursts (group commit)
    await Promise.all(
      Array.from({ length: burst }, async () => {
        const [tag] = await lib.commitShared([{ model: 'tag', op: 'create', data: { name: 'crash', color: null, icon: null, description: null, namespace: null } }]);
        process.stdout.write(`ack ${idKey(tag.hlc.device)} ${tag.seq}\n`);
      }),
    );
    // a transaction of 50 entries: all or nothing
    await lib.write((tx) => {
      for (let i = 0; i < 50; i++) tx.put('entry', { location: loc.uuid, parent: null, name: `f${n}-${i}`, kind: ENTRY_KIND.file, size: i, mtime: n });
    });
  }
}

void main();
