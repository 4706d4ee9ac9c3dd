/**
 * The engine as this window hosts it: the only window, so it owns the
 * engine (a worker thread of this extension host) and serves it on the
 * control socket in its globalStorage; it answers `status`, and joined the
 * run's local testnet (LEADERLESS_TEST_BOOTSTRAP), never the public DHT.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ControlClient } from '../../../src/service/control-client';
import { controlEndpoint } from '../../../src/service/control-endpoint';
import type { StatusReport } from '../../../src/service/status';
import { CliProcess } from '../../support/cli-process';
import { testEnv, waitFor } from '../support/test-env';

describe('engine host', () => {
  let client: ControlClient;
  let endpoint: string;

  before(async () => {
    await waitFor(() => vscode.extensions.getExtension('leaderless.leaderless-sync')?.isActive, 'the extension to activate', 20_000);
    endpoint = controlEndpoint(path.join(testEnv.globalStorage, 'engine'));
    client = await waitFor(() => ControlClient.connect(endpoint, { timeoutMs: 1000 }), `the engine's control socket ${endpoint}`, 30_000);
  });
  after(() => client?.close());

  it('this window owns the engine: it runs in this extension host', async () => {
    const ping = await client.call<{ pid: number; dataDir: string }>('ping');
    assert.equal(ping.pid, process.pid);
    assert.equal(ping.dataDir, path.join(testEnv.globalStorage, 'engine'));
  });

  it('answers status, on the local testnet', async () => {
    const report = await waitFor(async () => {
      const r = await client.call<StatusReport>('status', { digest: false });
      return r.service.network.state !== 'suspended' ? r : null;
    }, 'the network to start', 30_000);
    assert.equal(report.service.running, true);
    assert.deepEqual(report.service.network.bootstrap, [testEnv.bootstrap]);
    assert.equal(report.service.network.state, 'up', JSON.stringify(report.service.network));
  });

  it('leaderlessSync.enable off stops the engine (its socket goes away); on starts it again', async () => {
    const config = () => vscode.workspace.getConfiguration('leaderlessSync');
    await client.close();
    await config().update('enable', false, vscode.ConfigurationTarget.Global);
    try {
      await waitFor(async () => {
        try {
          const c = await ControlClient.connect(endpoint, { timeoutMs: 500 });
          await c.close();
          return false;
        } catch {
          return true;
        }
      }, 'the engine to stop', 20_000);
    } finally {
      await config().update('enable', undefined, vscode.ConfigurationTarget.Global);
    }
    client = await waitFor(() => ControlClient.connect(endpoint, { timeoutMs: 1000 }), 'the engine to start again', 30_000);
    assert.equal((await client.call<{ pid: number }>('ping')).pid, process.pid);
  });

  it('when another process runs the engine, this window is its client; when that process dies, the window takes over', async () => {
    const engineDir = path.join(testEnv.globalStorage, 'engine');
    const config = () => vscode.workspace.getConfiguration('leaderlessSync');
    const state = () => vscode.commands.executeCommand<{ connection: string }>('leaderlessSync.internal.state');
    const enginePid = async () => (await vscode.commands.executeCommand<{ pid: number }>('leaderlessSync.internal.call', 'ping')).pid;
    await client.close();
    // Hand the engine to a `leaderless serve` on the same data directory (standing in for another window).
    await config().update('enable', false, vscode.ConfigurationTarget.Global);
    let serve: CliProcess | null = null;
    try {
      await waitFor(async () => (await state()).connection === 'stopped', 'the engine to stop', 20_000);
      serve = new CliProcess(path.join(testEnv.repo, 'dist/cli.js'), ['--data-dir', engineDir, '--bootstrap', testEnv.bootstrap, 'serve']);
      await serve.waitForStderr(/serving .*control socket/, 30_000);
    } finally {
      await config().update('enable', undefined, vscode.ConfigurationTarget.Global);
    }
    try {
      await waitFor(async () => (await state()).connection === 'client', 'this window to become a client', 20_000);
      assert.equal(await enginePid(), serve.child.pid);
      serve.kill('SIGKILL');
      await serve.exited;
      await waitFor(async () => (await state()).connection === 'owner', 'this window to take over', 20_000);
      assert.equal(await enginePid(), process.pid);
    } finally {
      serve.kill('SIGKILL');
      // The CLI made its own key file; this window's key is in SecretStorage.
      fs.rmSync(path.join(engineDir, 'device.key'), { force: true });
    }
    client = await ControlClient.connect(endpoint, { timeoutMs: 1000 });
  });
});
