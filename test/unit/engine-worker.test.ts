import assert from 'node:assert/strict';
import { bundleForTest } from '../support/bundle';
import { EngineHost, EngineWorkerError } from '../../src/worker/engine-host';
import { Library } from '../../src/engine/library';
import { idToString } from '../../src/engine/ids';
import { cleanupTempDirs, tempDir } from '../support/tmp';

describe('engine worker', function () {
  this.timeout(30_000);
  after(cleanupTempDirs);

  it('hosts a library off the calling thread and answers requests', async () => {
    const workerFile = await bundleForTest('src/worker/engine-worker.ts', 'worker.js');

    const dataDir = tempDir();
    const lib = await Library.create({ dataDir, name: 'Work' });
    await lib.commitShared([{ model: 'tag', op: 'create', data: { name: 'todo', color: null, icon: null, description: null, namespace: null } }]);
    await lib.close();

    const host = new EngineHost(workerFile, dataDir);
    try {
      const libs = await host.request<{ id: string; name: string }[]>('libraries');
      assert.deepEqual(libs.map((l) => l.name), ['Work']);
      await host.request('open', { libraryId: idToString(lib.id) });
      const status = await host.request<{ open: boolean; counts: Record<string, number>; digest: string }>('status');
      assert.equal(status.counts.tag, 1);
      assert.match(status.digest, /^[0-9a-f]{64}$/);
      await assert.rejects(host.request('nope'), (e: unknown) => e instanceof EngineWorkerError && /Unknown method/.test(e.message));
      // a second opener of the same library (another window) is refused while the worker holds it
      await assert.rejects(Library.open({ dataDir, libraryId: lib.id }), /locked by pid/);
    } finally {
      await host.stop();
    }
  });
});
