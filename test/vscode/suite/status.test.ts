/**
 * The sync-status webview in a real VS Code: the command opens one panel
 * (a second run reveals it), its script runs under the CSP, says 'ready',
 * renders the snapshots the extension posts and reports the engine's state;
 * hidden and shown again it hands shake anew (no retainContextWhenHidden).
 *
 * The panel is observed through leaderlessSync.test.statusSnapshot (not in
 * package.json): whether the webview said 'ready', how many snapshots were
 * posted and rendered, and the last one (src/vscode/status/status-model.ts).
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { runCli } from '../../support/cli-process';
import { STATUS_VIEW_TYPE, TEST_STATUS_COMMAND, type StatusPanelProbe } from '../../../src/vscode/status';
import { testEnv, waitFor } from '../support/test-env';

const extensionId = 'leaderless.leaderless-sync';
const probe = () => vscode.commands.executeCommand<StatusPanelProbe>(TEST_STATUS_COMMAND);

function statusTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all
    .flatMap((g) => g.tabs)
    .filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith(STATUS_VIEW_TYPE));
}

describe('status webview', function () {
  this.timeout(90_000);

  before(async () => {
    const ext = vscode.extensions.getExtension(extensionId)!;
    await waitFor(() => ext.isActive, 'the extension to activate', 30_000);
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('registers leaderlessSync.showStatus', async () => {
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('leaderlessSync.showStatus'));
  });

  it('opens one panel; running the command again reveals it', async () => {
    await vscode.commands.executeCommand('leaderlessSync.showStatus');
    const p = await waitFor(async () => {
      const x = await probe();
      return x.open && x.visible ? x : null;
    }, 'the status panel to open');
    assert.equal(p.open, true);
    const all = () =>
      vscode.window.tabGroups.all
        .flatMap((g) => g.tabs)
        .map((t) => `${t.label} [${t.input?.constructor?.name}: ${(t.input as { viewType?: string })?.viewType}]`)
        .join(', ');
    await waitFor(() => statusTabs().length === 1, `one status tab (tabs: ${all()})`);
    assert.equal(statusTabs()[0]!.label, 'Leaderless Sync: Status');
    await vscode.commands.executeCommand('leaderlessSync.showStatus');
    assert.equal(statusTabs().length, 1);
  });

  it('the webview says ready, then renders the snapshots posted to it', async () => {
    const p = await waitFor(async () => {
      const x = await probe();
      return x.ready && x.rendered > 0 ? x : null;
    }, "the webview's ready handshake and a rendered snapshot", 30_000);
    assert.ok(p.posted >= p.rendered);
    assert.ok(p.snapshot);
    // The script ran under the CSP (it said ready) and so did the stylesheet.
    assert.equal(p.lastRendered?.styled, true, 'status.css did not apply');
    assert.ok(p.lastRendered?.sections.includes('states'));
    assert.equal(p.snapshot.states.length, 7);
    assert.deepEqual(
      p.snapshot.states.map((s) => s.state),
      ['uninitialized', 'offline', 'backfilling', 'catching-up', 'ready', 'paused', 'failed'],
    );
  });

  it('shows the engine once it answers (or says calmly why not)', async () => {
    const p = await waitFor(async () => {
      const x = await probe();
      return x.snapshot?.engine.available ? x : null;
    }, 'the status snapshot to report the engine', 60_000).catch(async (e: Error) => {
      const x = await probe();
      // Not available: the snapshot must say why, not be blank.
      assert.ok(x.snapshot?.engine.message, 'an unavailable engine without a message');
      throw new Error(`${e.message} (it says: ${x.snapshot?.engine.message}; connection ${x.snapshot?.engine.connection})`);
    });
    const s = p.snapshot!;
    assert.equal(s.engine.message, null);
    // The webview rendered what the engine said: its state line and sections (network at least).
    const r = await waitFor(async () => {
      const x = await probe();
      return x.lastRendered && x.lastRendered.sections.includes('network') ? x.lastRendered : null;
    }, 'the webview to render the network section');
    assert.match(r.state, s.library ? /^Sync state: / : /^No library yet/);
    assert.ok(r.sections.includes('states'));
    assert.ok(['owner', 'client'].includes(s.engine.connection), s.engine.connection);
    assert.ok(s.network, 'no network state');
    if (s.library) assert.equal(s.states.filter((x) => x.current).length, 1);
  });

  it("agrees with what the engine's own `leaderless status` says (libraries, sync state, network)", async () => {
    // The CLI reaches the window's running engine over its control socket in global storage.
    const cli = path.join(testEnv.repo, 'dist/cli.js');
    const dataDir = path.join(testEnv.globalStorage, 'engine');
    const r = await runCli(cli, ['--data-dir', dataDir, '--bootstrap', testEnv.bootstrap, 'status', '--json', '--no-digest']);
    assert.equal(r.code, 0, `leaderless status failed: ${r.stderr}`);
    const report = JSON.parse(r.stdout) as {
      service: { running: boolean; network: { state: string } };
      libraries: { library: string; name: string; state: string; pruneAbsentAfterMs: number | null; partners: { device: string; online: boolean }[] }[];
    };
    assert.equal(report.service.running, true, 'the CLI did not reach the running engine');
    const p = await waitFor(async () => {
      const x = await probe();
      const s = x.snapshot;
      if (!s?.engine.available) return null;
      const sameLibraries = JSON.stringify(s.libraries.map((l) => l.library).sort()) === JSON.stringify(report.libraries.map((l) => l.library).sort());
      return sameLibraries && s.network?.state === report.service.network.state ? x : null;
    }, 'the snapshot to list the same libraries and network state as leaderless status', 20_000);
    const s = p.snapshot!;
    const lib = report.libraries.find((l) => l.library === s.library?.library);
    if (report.libraries.length === 0) assert.equal(s.library, null);
    else {
      assert.ok(lib, 'the shown library is not one the engine reports');
      assert.equal(s.library!.name, lib.name);
      assert.equal(s.library!.state, lib.state);
      assert.equal(s.states.find((x) => x.current)?.state, lib.state);
      assert.deepEqual(s.peers.items.map((x) => x.device).sort(), lib.partners.map((x) => x.device).sort());
      // The peer log's absence horizon (leaderlessSync.pruneAbsentAfterDays, 30 days unless set).
      assert.equal(s.log.pruneAbsentAfterMs, lib.pruneAbsentAfterMs ?? 'none');
    }
  });

  it('hidden and shown again, the webview hands shake anew and renders', async () => {
    const before = await probe();
    const doc = await vscode.workspace.openTextDocument({ content: 'hide the status panel', language: 'plaintext' });
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Active, preview: false });
    await waitFor(async () => !(await probe()).visible, 'the status panel to be hidden');
    await vscode.commands.executeCommand('leaderlessSync.showStatus');
    const p = await waitFor(async () => {
      const x = await probe();
      return x.visible && x.ready && x.rendered > before.rendered ? x : null;
    }, 'the shown-again webview to render', 30_000);
    assert.ok(p.snapshot);
  });

  it('closing the panel disposes it; the command opens a new one', async () => {
    for (const t of statusTabs()) await vscode.window.tabGroups.close(t);
    await waitFor(async () => !(await probe()).open, 'the status panel to close');
    await vscode.commands.executeCommand('leaderlessSync.showStatus');
    await waitFor(async () => {
      const x = await probe();
      return x.open && x.ready && x.rendered > 0;
    }, 'a new panel to render', 30_000);
  });
});
