/**
 * Two devices through the real UI: a CLI peer (`leaderless serve` on the
 * run's local testnet) creates a library and an invite; VS Code joins it
 * with the Join Library command; the Peers and Locations views show the
 * peer and its folder; a tag added in VS Code reaches the peer, and a note
 * the peer writes shows on VS Code's file (Locations item, Explorer badge).
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CliPeer } from '../support/cli-peer';
import { testEnv, waitFor } from '../support/test-env';
import { call, find, snapshot, ui } from '../support/views';


describe('views: two devices, VS Code and a CLI peer', function () {
  this.timeout(180_000);
  const peer = new CliPeer('desk');
  const greet = path.join(testEnv.workspace, 'src/greet.ts');
  let library = '';

  before(async () => {
    const ext = vscode.extensions.getExtension('leaderless.leaderless-sync')!;
    await waitFor(() => ext.isActive, 'the extension to activate', 30_000);
    await waitFor(async () => ['owner', 'client'].includes((await ui()).connection), 'the engine connection', 60_000);
  });

  after(async () => {
    await peer.stop();
  });

  it('joins the peer’s library with Join Library and shows the peer online', async () => {
    const lib = await peer.json<{ id: string }>(['init', '--name', 'Desk Library', '--json']);
    // The peer's checkout of the same repository, elsewhere.
    const copy = path.join(peer.dataDir, 'checkout');
    mkdirSync(path.join(copy, '.git'), { recursive: true });
    mkdirSync(path.join(copy, 'src'), { recursive: true });
    writeFileSync(path.join(copy, '.git/config'), '[remote "origin"]\n\turl = git@github.com:leaderless-sync/sample-workspace.git\n');
    writeFileSync(path.join(copy, 'src/greet.ts'), 'export const greet = 1;\n');
    const added = await peer.json<{ workspaceKey: string }>(['add-location', copy, '--json']);
    assert.equal(added.workspaceKey, testEnv.workspaceKey);
    await peer.serve();
    const invite = await peer.json<{ code: string }>(['invite', '--no-wait', '--json']);

    const r = await vscode.commands.executeCommand<{ library: string; name: string } | undefined>('leaderlessSync.joinLibrary', invite.code);
    assert.ok(r, `joinLibrary failed: ${(await ui()).lastError}`);
    assert.equal(r.library, lib.id);
    library = r.library;
    await waitFor(async () => (await ui()).library?.id === library, 'the views to show the joined library');
    await waitFor(async () => find(await snapshot('peers', 1), (n) => n.contextValue?.startsWith('peer online') ?? false), 'the peer online in the Peers view', 30_000);
  });

  it('Locations shows the peer’s folder, its file resolved to this device’s copy', async () => {
    await call('addLocation', { library, path: testEnv.workspace }).then(undefined, (e: Error) => {
      if (!/already being indexed/.test(e.message)) throw e;
    });
    // This device's own copy is found once the workspace folder is indexed into the joined library
    // (the window's indexer does it when the library appears; the addLocation above may have found it running).
    const theirs = await waitFor(async () => {
      const tree = await snapshot('locations', 5);
      const dev = tree.find((n) => n.contextValue?.startsWith('device ') && n.contextValue !== 'device self');
      return find(dev?.children, (n) => n.label === 'greet.ts' && n.localPath !== null);
    }, 'the peer’s greet.ts in Locations, resolved to this device’s copy', 30_000);
    assert.equal(theirs.localPath, greet, 'the peer’s file opens as this device’s copy');
    assert.ok(theirs.contextValue?.startsWith('item file local'));
  });

  it('a tag added in VS Code reaches the peer', async () => {
    const r = await vscode.commands.executeCommand<{ added: number } | undefined>('leaderlessSync.addTag', vscode.Uri.file(greet), undefined, 'from-vscode');
    assert.ok(r, `addTag failed: ${(await ui()).lastError}`);
    await waitFor(
      async () => {
        const items = await peer.json<unknown[]>(['tags', '--tag', 'from-vscode', '--json']).catch(() => []);
        return JSON.stringify(items).includes('src/greet.ts');
      },
      'the tag at the peer',
      30_000,
    );
  });

  it('a note the peer writes shows on VS Code’s file', async () => {
    const w = await peer.run(['note', 'src/greet.ts', 'hello from the desk', '--workspace', testEnv.workspaceKey]);
    assert.equal(w.code, 0, w.stderr);
    const node = await waitFor(async () => {
      const tree = await snapshot('locations', 5);
      const me = tree.find((n) => n.contextValue === 'device self');
      const n = find(me?.children, (x) => x.label === 'greet.ts');
      return n?.description?.includes('✎') ? n : null;
    }, 'the note mark on greet.ts in Locations', 30_000);
    assert.match(node.description!, /#from-vscode/);
    const deco = await vscode.commands.executeCommand<{ tooltip: string } | null>('leaderlessSync.internal.decoration', greet);
    assert.match(deco?.tooltip ?? '', /Has a note/);
    const note = await call<{ note: string | null }>('note', { library, path: greet });
    assert.equal(note.note, 'hello from the desk');
  });

  it('Backfill from Peer, Full Resync, pause and resume one peer, Pause and Resume Sync', async () => {
    const node = find(await snapshot('peers', 1), (n) => n.id.startsWith('peer/'))!;
    const device = node.id.slice('peer/'.length);
    const online = () => waitFor(async () => find(await snapshot('peers', 1), (n) => n.id === node.id && n.contextValue === 'peer online running'), 'the peer online again', 30_000);
    assert.deepEqual(await vscode.commands.executeCommand('leaderlessSync.backfillFromPeer', device), {}, (await ui()).lastError ?? '');
    assert.deepEqual(await vscode.commands.executeCommand('leaderlessSync.fullResync', true), {}, (await ui()).lastError ?? '');
    await online();

    await vscode.commands.executeCommand('leaderlessSync.pausePeer', device);
    await waitFor(async () => find(await snapshot('peers', 1), (n) => n.id === node.id && (n.contextValue?.endsWith(' paused') ?? false)), 'the peer paused in the Peers view');
    await vscode.commands.executeCommand('leaderlessSync.resumePeer', device);
    await online();

    await vscode.commands.executeCommand('leaderlessSync.pauseSync');
    const paused = await waitFor(async () => {
      const s = await vscode.commands.executeCommand<{ paused: boolean; statusBar: { text: string } }>('leaderlessSync.internal.state');
      return s.paused ? s : null;
    }, 'the paused state');
    assert.equal(paused.statusBar.text, '$(debug-pause) Sync Paused');
    await vscode.commands.executeCommand('leaderlessSync.resumeSync');
    await waitFor(async () => !(await vscode.commands.executeCommand<{ paused: boolean }>('leaderlessSync.internal.state')).paused, 'sync resumed');
    await online();
  });

  it('the peer shows offline once it stops, and Unpair Device removes it', async () => {
    await peer.stop();
    const node = await waitFor(async () => find(await snapshot('peers', 1), (n) => n.contextValue?.startsWith('peer offline') ?? false), 'the peer offline in the Peers view', 30_000);
    const r = await vscode.commands.executeCommand<{ device: string } | undefined>('leaderlessSync.unpairDevice', node.id.slice('peer/'.length), true);
    assert.ok(r, `unpairDevice failed: ${(await ui()).lastError}`);
    await waitFor(async () => !find(await snapshot('peers', 1), (n) => n.id === node.id), 'the unpaired peer to leave the Peers view');
  });
});
