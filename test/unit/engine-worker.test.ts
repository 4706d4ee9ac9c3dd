/**
 * The engine worker thread as the extension host starts it: it owns the
 * data directory and serves the control socket, refuses a second start as
 * 'busy', releases everything on stop, reports a start it cannot make as
 * 'failed', and after a crash its locks do not keep the engine down.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ControlClient } from '../../src/service/control-client';
import { EngineThread } from '../../src/worker/engine-thread';
import { bundleWindow } from '../support/window-process';
import { cleanupTempDirs, tempDir } from '../support/tmp';

describe('engine worker thread', function () {
  this.timeout(30_000);
  let workerFile: string;
  before(async () => {
    workerFile = (await bundleWindow()).worker;
  });
  after(cleanupTempDirs);

  const lines: string[] = [];
  const log = (l: string) => lines.push(l);

  it('serves the engine on the control socket; a second one is busy; stop releases the lock', async () => {
    const dataDir = tempDir();
    const a = new EngineThread(workerFile, { dataDir, network: false, deviceName: 'A', pruneAbsentAfterMs: 7 * 86_400_000 }, log);
    const ready = await a.outcome;
    assert.equal(ready.kind, 'ready');
    const client = await ControlClient.connect((ready as { endpoint: string }).endpoint);
    try {
      const ping = await client.call<{ pid: number; dataDir: string }>('ping');
      assert.equal(ping.pid, process.pid);
      await client.call('init', { name: 'Work' });
      assert.deepEqual((await client.call<{ name: string }[]>('libraries')).map((l) => l.name), ['Work']);
      // The settings it was started with reach the engine (leaderlessSync.pruneAbsentAfterDays).
      const status = await client.call<{ libraries: { pruneAbsentAfterMs: number | null }[] }>('status', { digest: false });
      assert.equal(status.libraries[0].pruneAbsentAfterMs, 7 * 86_400_000);

      const b = new EngineThread(workerFile, { dataDir, network: false }, log);
      const busy = await b.outcome;
      assert.equal(busy.kind, 'busy', JSON.stringify(busy));
      await b.terminate();
      assert.ok(fs.existsSync(path.join(dataDir, 'LOCK')), 'a busy worker leaves the owner its lock');
    } finally {
      await client.close();
    }
    await a.stop();
    assert.ok(!fs.existsSync(path.join(dataDir, 'LOCK')), 'stop released the data directory');
    const again = new EngineThread(workerFile, { dataDir, network: false }, log);
    assert.equal((await again.outcome).kind, 'ready');
    await again.stop();
  });

  it('reports a start it cannot make as failed', async () => {
    const dataDir = tempDir();
    fs.writeFileSync(path.join(dataDir, 'device.key'), 'not a key', { mode: 0o600 });
    const t = new EngineThread(workerFile, { dataDir, network: false }, log);
    const out = await t.outcome;
    assert.equal(out.kind, 'failed');
    assert.match((out as { message: string }).message, /device\.key.*corrupt/);
    await t.terminate();
    const missing = new EngineThread(path.join(dataDir, 'no-such-worker.js'), { dataDir, network: false }, log);
    assert.equal((await missing.outcome).kind, 'failed');
  });

  it('after a crash, the locks its worker held are released so the engine can start again', async () => {
    const dataDir = tempDir();
    const a = new EngineThread(workerFile, { dataDir, network: false }, log);
    const ready = await a.outcome;
    const client = await ControlClient.connect((ready as { endpoint: string }).endpoint);
    await client.call('init', { name: 'Work' });
    await client.close();
    const crashed = new Promise<string>((resolve) => a.onCrash(resolve));
    // Ending the thread without asking it to stop is what a crash looks like from the host.
    await (a as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    assert.match(await crashed, /exited/);
    assert.ok(!fs.existsSync(path.join(dataDir, 'LOCK')));
    const b = new EngineThread(workerFile, { dataDir, network: false }, log);
    assert.equal((await b.outcome).kind, 'ready');
    await b.stop();
  });

  it('without its native addons the engine still starts, and says why the network is unavailable', async function () {
    // The bundle sits in a temp folder, where sodium-native and udx-native cannot be found (as on a platform without prebuilds).
    if (process.env.NODE_PATH) this.skip();
    const dataDir = tempDir();
    const t = new EngineThread(workerFile, { dataDir, bootstrap: [{ host: '127.0.0.1', port: 9 }] }, log);
    const ready = await t.outcome;
    assert.equal(ready.kind, 'ready', JSON.stringify(ready));
    const client = await ControlClient.connect((ready as { endpoint: string }).endpoint);
    try {
      const status = await client.call<{ service: { network: { state: string; error: string | null } } }>('status', { digest: false });
      assert.equal(status.service.network.state, 'unavailable');
      assert.match(status.service.network.error ?? '', /sodium-native|udx-native|addon|Cannot find/i);
      await client.call('init', { name: 'Offline' }); // the library works locally
    } finally {
      await client.close();
      await t.stop();
    }
  });
});
