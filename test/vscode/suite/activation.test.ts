/**
 * The extension as VS Code loads it: present, activates on its own
 * (onStartupFinished), and its Show Log command is registered and runs.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { testEnv, waitFor } from '../support/test-env';

const extensionId = 'leaderless.leaderless-sync';

describe('activation', () => {
  it('the extension is installed from the repository under test', () => {
    const ext = vscode.extensions.getExtension(extensionId);
    assert.ok(ext, `${extensionId} is not loaded`);
    assert.equal(ext.extensionPath, testEnv.repo);
  });

  it('activates by itself after startup', async () => {
    const ext = vscode.extensions.getExtension(extensionId)!;
    await waitFor(() => ext.isActive, 'the extension to activate (onStartupFinished)', 20_000);
  });

  it('registers leaderlessSync.showLog, and it runs', async () => {
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('leaderlessSync.showLog'), 'leaderlessSync.showLog is not registered');
    await vscode.commands.executeCommand('leaderlessSync.showLog');
  });

  it('opens the sample workspace', () => {
    const folders = vscode.workspace.workspaceFolders ?? [];
    assert.deepEqual(
      folders.map((f) => f.uri.fsPath),
      [testEnv.workspace],
    );
  });
});
