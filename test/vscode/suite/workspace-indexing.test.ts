/**
 * The open workspace folder becomes a location of this device by itself,
 * with the workspace key of its git remote and without what .gitignore
 * ignores, and the file watcher keeps it current. Runs after views.test.ts
 * (files run sorted by path), which creates the window's library; creates
 * one if there is none.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ControlClient } from '../../../src/service/control-client';
import { controlEndpoint } from '../../../src/service/control-endpoint';
import { testEnv, waitFor } from '../support/test-env';

interface Location {
  id: string;
  self: boolean;
  path: string;
  workspaceKey: string;
  entries: number;
}

describe('workspace indexing', () => {
  let client: ControlClient;
  let library: string;
  let location: Location;

  before(async () => {
    await waitFor(() => vscode.extensions.getExtension('leaderless.leaderless-sync')?.isActive, 'the extension to activate', 20_000);
    client = await waitFor(() => ControlClient.connect(controlEndpoint(path.join(testEnv.globalStorage, 'engine')), { timeoutMs: 1000 }), 'the engine', 30_000);
    let libs = await client.call<{ id: string }[]>('libraries');
    if (libs.length === 0) {
      await client.call('init', { name: 'Indexing Test' });
      libs = await client.call<{ id: string }[]>('libraries');
    }
    library = libs[0].id;
  });
  after(() => client?.close());

  const names = async (rel = ''): Promise<string[]> => {
    const r = await client.call<{ items: { name: string }[] }>('children', { library, location: location.id, path: rel });
    return r.items.map((i) => i.name);
  };

  it('the workspace folder is a location of this device, keyed by its git remote', async () => {
    location = await waitFor(async () => {
      const locs = await client.call<Location[]>('locations', { library });
      return locs.find((l) => l.self && l.path === testEnv.workspace && l.entries > 0);
    }, 'the workspace folder to be indexed', 30_000);
    assert.equal(location.workspaceKey, testEnv.workspaceKey);
  });

  it('leaves out what .gitignore ignores', async () => {
    const root = await names();
    assert.ok(root.includes('src'), root.join(', '));
    assert.ok(!root.includes('build') && !root.includes('debug.log'), `ignored files were indexed: ${root.join(', ')}`);
    assert.ok(!root.includes('.git'));
  });

  it('the file watcher adds a new file and removes a deleted one', async () => {
    const file = path.join(testEnv.workspace, 'src', 'watched-by-test.ts');
    fs.writeFileSync(file, 'export const x = 1;\n');
    try {
      await waitFor(async () => (await names('src')).includes('watched-by-test.ts'), 'the new file to be indexed', 20_000);
    } finally {
      fs.rmSync(file, { force: true });
    }
    await waitFor(async () => !(await names('src')).includes('watched-by-test.ts'), 'the deleted file to leave the index', 20_000);
  });

  it('opting the folder out stops following it; opting in again catches up', async () => {
    const folder = vscode.workspace.workspaceFolders![0];
    const config = () => vscode.workspace.getConfiguration('leaderlessSync', folder.uri);
    const file = path.join(testEnv.workspace, 'src', 'while-opted-out.ts');
    await config().update('indexWorkspaceFolders', false, vscode.ConfigurationTarget.WorkspaceFolder);
    try {
      await new Promise((r) => setTimeout(r, 300));
      fs.writeFileSync(file, 'export const y = 2;\n');
      await new Promise((r) => setTimeout(r, 1500)); // three watcher batches
      assert.ok(!(await names('src')).includes('while-opted-out.ts'), 'an opted-out folder is not followed');
    } finally {
      await config().update('indexWorkspaceFolders', undefined, vscode.ConfigurationTarget.WorkspaceFolder);
    }
    try {
      await waitFor(async () => (await names('src')).includes('while-opted-out.ts'), 'the rescan after opting in', 20_000);
    } finally {
      fs.rmSync(file, { force: true });
    }
    await waitFor(async () => !(await names('src')).includes('while-opted-out.ts'), 'the watcher to follow the folder again', 20_000);
  });
});
