/**
 * The views and commands in a real VS Code: the container and its four
 * views, every command registered, and — through the commands, with their
 * inputs given as arguments instead of typed into prompts — creating a
 * library, tagging files from an Explorer multi-selection (the Tags view
 * and the Explorer badges show it), favorite and note on the Locations
 * item, tag and album management, and a malformed join code refused
 * before it reaches the engine.
 *
 * The trees are read through leaderlessSync.internal.snapshot (the
 * providers' own getChildren, as the views call them); the engine is
 * reached for set-up only through leaderlessSync.internal.call (registered
 * in development/test mode only).
 */
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { testEnv, waitFor } from '../support/test-env';
import { call, find, snapshot, ui } from '../support/views';

const extensionId = 'leaderless.leaderless-sync';


describe('views and commands', function () {
  this.timeout(120_000);
  const file = (rel: string) => path.join(testEnv.workspace, rel);
  let library = '';

  before(async () => {
    const ext = vscode.extensions.getExtension(extensionId)!;
    await waitFor(() => ext.isActive, 'the extension to activate', 30_000);
  });

  it('contributes the Leaderless Sync container with Locations, Tags, Albums and Peers', () => {
    const pkg = vscode.extensions.getExtension(extensionId)!.packageJSON as {
      contributes: { viewsContainers: { activitybar: { id: string; title: string }[] }; views: Record<string, { id: string; name: string }[]> };
    };
    assert.deepEqual(pkg.contributes.viewsContainers.activitybar.map((c) => [c.id, c.title]), [['leaderlessSync', 'Leaderless Sync']]);
    assert.deepEqual(
      pkg.contributes.views.leaderlessSync.map((v) => v.name),
      ['Locations', 'Tags', 'Albums', 'Peers'],
    );
  });

  it('registers every command it contributes', async () => {
    const pkg = vscode.extensions.getExtension(extensionId)!.packageJSON as { contributes: { commands: { command: string; title: string; category: string }[] } };
    const contributed = pkg.contributes.commands;
    assert.ok(contributed.length >= 25);
    for (const c of contributed) assert.equal(c.category, 'Leaderless Sync', c.command);
    const missing = await waitFor(async () => {
      const all = new Set(await vscode.commands.getCommands(true));
      const m = contributed.filter((c) => !all.has(c.command)).map((c) => c.command);
      return m.length === 0 ? 'none' : null;
    }, 'every contributed command to be registered');
    assert.equal(missing, 'none');
  });

  it('opens the views, and the status bar says something calm', async () => {
    await vscode.commands.executeCommand('workbench.view.extension.leaderlessSync');
    await vscode.commands.executeCommand('leaderlessSync.locations.focus');
    await waitFor(async () => (await ui()).visible.locations, 'the Locations view to be visible');
    const s = await ui();
    assert.ok(s.statusBar && /^\$\([a-z~-]+\) /.test(s.statusBar.text), JSON.stringify(s.statusBar));
  });

  it('reaches the engine', async () => {
    const s = await waitFor(async () => {
      const x = await ui();
      if (x.connection === 'failed') throw new Error(`the engine failed: ${x.connectionError}`);
      return x.connection === 'owner' || x.connection === 'client' ? x : null;
    }, 'the engine connection', 60_000);
    assert.ok(s);
  });

  it('Create Library (name as argument) creates it and the views show it', async () => {
    const info = await vscode.commands.executeCommand<{ id: string; name: string } | undefined>('leaderlessSync.createLibrary', 'Views Test');
    assert.ok(info, `createLibrary failed: ${(await ui()).lastError}`);
    assert.equal(info.name, 'Views Test');
    library = info.id;
    const s = await waitFor(async () => {
      const x = await ui();
      return x.library?.id === library ? x : null;
    }, 'the views to show the new library');
    assert.equal(s.hasLibrary, true);
    assert.doesNotMatch(s.statusBar!.text, /Set Up Sync|Starting/);
  });

  it('Locations shows this device, the workspace folder and its files', async () => {
    // The workspace indexer may be at it already (the folder becomes a location by itself); else index it here.
    await call('addLocation', { library, path: testEnv.workspace }).then(undefined, (e: Error) => {
      if (!/already being indexed/.test(e.message)) throw e;
    });
    const tree = await waitFor(async () => {
      const t = await snapshot('locations', 4);
      return find(t, (n) => n.label === 'greet.ts') ? t : null;
    }, 'greet.ts in the Locations view', 30_000);
    const me = tree.find((n) => n.contextValue === 'device self');
    assert.ok(me, JSON.stringify(tree));
    assert.equal(me.description, 'this device');
    const loc = find(me.children, (n) => n.contextValue?.startsWith('location') ?? false);
    assert.ok(loc);
    const src = find(loc.children, (n) => n.label === 'src');
    assert.ok(src && src.contextValue?.startsWith('item dir local'));
    const greet = find(tree, (n) => n.label === 'greet.ts')!;
    assert.equal(greet.localPath, file('src/greet.ts'));
  });

  it('Locations loads a big folder in pages: Show More… loads the rest', async () => {
    const big = path.join(testEnv.tmp, 'big-folder');
    mkdirSync(big, { recursive: true });
    for (let i = 0; i < 1200; i++) writeFileSync(path.join(big, `f${String(i).padStart(4, '0')}.txt`), `${i}\n`);
    await call('addLocation', { library, path: big, workspaceKey: 'big-folder' });
    const first = await waitFor(async () => {
      const me = (await snapshot('locations', 3)).find((n) => n.contextValue === 'device self');
      const loc = find(me?.children, (n) => n.label === 'big-folder' && (n.children?.length ?? 0) > 0);
      return loc?.children;
    }, 'the big folder in Locations', 30_000);
    assert.equal(first.length, 501, 'one page and a Show More… node');
    const more = first[500];
    assert.equal(more.label, 'Show More…');
    await vscode.commands.executeCommand('leaderlessSync.internal.showMore', more.id);
    const all = await waitFor(async () => {
      const me = (await snapshot('locations', 3)).find((n) => n.contextValue === 'device self');
      const loc = find(me?.children, (n) => n.label === 'big-folder');
      return loc?.children?.length === 1200 ? loc.children : null;
    }, 'every file of the big folder');
    assert.equal(all[1199].label, 'f1199.txt');
  });

  it('Add Tag on an Explorer multi-selection: the Tags view lists the files, the Explorer badges them', async () => {
    const a = vscode.Uri.file(file('src/greet.ts'));
    const b = vscode.Uri.file(file('docs/notes.md'));
    const r = await vscode.commands.executeCommand<{ added: number } | undefined>('leaderlessSync.addTag', a, [a, b], 'review');
    assert.ok(r, `addTag failed: ${(await ui()).lastError}`);
    assert.equal(r.added, 2);
    const tag = await waitFor(async () => {
      const t = find(await snapshot('tags', 2), (n) => n.label === 'review');
      return t && t.children?.length === 2 ? t : null;
    }, 'the tag with its two items in the Tags view');
    assert.deepEqual(tag.children!.map((c) => c.localPath).sort(), [file('docs/notes.md'), file('src/greet.ts')]);
    assert.ok(tag.children!.every((c) => c.contextValue?.includes('tagged')));
    const deco = await vscode.commands.executeCommand<{ badge: string; tooltip: string } | null>('leaderlessSync.internal.decoration', file('src/greet.ts'));
    assert.ok(deco, `no decoration; marks: ${JSON.stringify(await call('marks', { library }).then(undefined, (e: Error) => e.message))}`);
    assert.equal(deco.badge, '#', JSON.stringify(deco));
    assert.match(deco.tooltip, /Tags: review/);
    assert.equal(await vscode.commands.executeCommand('leaderlessSync.internal.decoration', file('src/index.ts')), null);
  });

  it('Toggle Favorite and Edit Note show on the Locations item and its badge', async () => {
    const a = vscode.Uri.file(file('src/greet.ts'));
    assert.deepEqual(await vscode.commands.executeCommand('leaderlessSync.toggleFavorite', a), { favorite: true });
    assert.deepEqual(await vscode.commands.executeCommand('leaderlessSync.editNote', a, undefined, 'says hello'), { note: 'says hello' });
    const note = await call<{ note: string | null; favorite: boolean }>('note', { library, path: file('src/greet.ts') });
    assert.deepEqual([note.note, note.favorite], ['says hello', true]);
    await waitFor(async () => find(await snapshot('locations', 5), (n) => n.label === 'greet.ts')?.description === '★ #review ✎', 'the marks on greet.ts in Locations');
    const deco = await vscode.commands.executeCommand<{ badge: string } | null>('leaderlessSync.internal.decoration', file('src/greet.ts'));
    assert.equal(deco?.badge, '★#');
    assert.deepEqual(await vscode.commands.executeCommand('leaderlessSync.editNote', a, undefined, ''), { note: null });
    assert.deepEqual(await vscode.commands.executeCommand('leaderlessSync.toggleFavorite', a), { favorite: false });
  });

  it('Create, Rename, Recolor and Delete Tag', async () => {
    const t = await vscode.commands.executeCommand<{ id: string; name: string; color: string | null }>('leaderlessSync.createTag', 'todo', 'green');
    assert.ok(t, `createTag failed: ${(await ui()).lastError}`);
    assert.equal(t.color, 'green');
    await vscode.commands.executeCommand('leaderlessSync.renameTag', t.id, 'later');
    await vscode.commands.executeCommand('leaderlessSync.recolorTag', t.id, 'blue');
    const node = await waitFor(async () => find(await snapshot('tags', 1), (n) => n.id === `tag/${t.id}` && n.label === 'later'), 'the renamed tag');
    assert.equal(node.description, 'no items');
    assert.deepEqual(await vscode.commands.executeCommand('leaderlessSync.deleteTag', t.id, true), { items: 0 });
    await waitFor(async () => !find(await snapshot('tags', 1), (n) => n.id === `tag/${t.id}`), 'the tag to go');
  });

  it('Remove Tag with the tag as argument removes it from that file only', async () => {
    const tag = find(await snapshot('tags', 2), (n) => n.label === 'review')!;
    assert.ok(tag);
    const r = await vscode.commands.executeCommand<{ removed: number }>('leaderlessSync.removeTag', vscode.Uri.file(file('docs/notes.md')), undefined, 'review');
    assert.deepEqual(r, { removed: 1 });
    await waitFor(async () => find(await snapshot('tags', 2), (n) => n.label === 'review')?.children?.length === 1, 'one item left under the tag');
  });

  it('Create Album and Add to Album: the Albums view lists the item', async () => {
    const album = await vscode.commands.executeCommand<{ id: string }>('leaderlessSync.createAlbum', 'Reading');
    assert.ok(album, `createAlbum failed: ${(await ui()).lastError}`);
    const r = await vscode.commands.executeCommand<{ added: number }>('leaderlessSync.addToAlbum', vscode.Uri.file(file('docs/notes.md')), undefined, album.id);
    assert.equal(r.added, 1);
    const node = await waitFor(async () => find(await snapshot('albums', 2), (n) => n.id === `album/${album.id}` && n.children?.length === 1), 'the album with its item');
    assert.equal(node.children![0].localPath, file('docs/notes.md'));
    assert.deepEqual(await vscode.commands.executeCommand('leaderlessSync.deleteAlbum', album.id, true), { items: 1 });
  });

  it('Invite Device (quiet) gives a code with its expiry', async () => {
    const info = await vscode.commands.executeCommand<{ code: string; expiresAt: number } | undefined>('leaderlessSync.inviteDevice', { quiet: true });
    assert.ok(info, `inviteDevice failed: ${(await ui()).lastError}`);
    assert.match(info.code, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    assert.ok(info.expiresAt > Date.now());
    await call('revokeInvite', { code: info.code });
  });

  it('Open on This Device opens this device’s copy of an item named by workspace key and path, or says it is not here', async () => {
    const r = await vscode.commands.executeCommand<{ localPath: string | null }>('leaderlessSync.openOnThisDevice', { workspace: testEnv.workspaceKey, path: 'src/greet.ts' });
    assert.deepEqual(r, { localPath: file('src/greet.ts') });
    await waitFor(() => vscode.window.activeTextEditor?.document.uri.fsPath === file('src/greet.ts'), 'greet.ts open in an editor');
    const none = await vscode.commands.executeCommand('leaderlessSync.openOnThisDevice', { workspace: testEnv.workspaceKey, path: 'src/not-here.ts' });
    assert.deepEqual(none, { localPath: null });
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('prompts: Add Tag… picks from its quick pick, Edit Note… and Rename Tag… take their prefilled input', async () => {
    // Accepts whatever quick input is open until the command settles (nothing happens while none is).
    const answer = async <T>(run: Thenable<T>): Promise<T> => {
      let settled = false;
      const p = Promise.resolve(run).finally(() => (settled = true));
      while (!settled) {
        await new Promise((r) => setTimeout(r, 300));
        if (!settled) await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      }
      return p;
    };
    const uri = vscode.Uri.file(file('src/index.ts'));
    const tagged = await answer(vscode.commands.executeCommand<{ tag: { id: string; name: string }; added: number } | undefined>('leaderlessSync.addTag', uri));
    assert.ok(tagged, `addTag failed: ${(await ui()).lastError}`);
    assert.equal(tagged.tag.name, 'review', 'the first (only) tag of the pick');
    assert.equal(tagged.added, 1);

    await vscode.commands.executeCommand('leaderlessSync.editNote', uri, undefined, 'first note');
    assert.deepEqual(await answer(vscode.commands.executeCommand('leaderlessSync.editNote', uri)), { note: 'first note' });

    const renamed = await answer(vscode.commands.executeCommand<{ name: string } | undefined>('leaderlessSync.renameTag', tagged.tag.id));
    assert.equal(renamed?.name, 'review');
    await vscode.commands.executeCommand('leaderlessSync.removeTag', uri, undefined, 'review');
    await vscode.commands.executeCommand('leaderlessSync.editNote', uri, undefined, '');
  });

  it('turned off (leaderlessSync.enable), the views and status bar go calm; turned on, they come back', async () => {
    const config = () => vscode.workspace.getConfiguration('leaderlessSync');
    await config().update('enable', false, vscode.ConfigurationTarget.Global);
    try {
      const off = await waitFor(async () => {
        const x = await ui();
        return x.connection === 'stopped' && !x.hasLibrary ? x : null;
      }, 'the engine to stop', 30_000);
      assert.equal(off.statusBar?.text, '$(circle-slash) Sync Off');
      assert.deepEqual(await snapshot('tags', 1), [], 'an empty view (its welcome content says why), no error');
    } finally {
      await config().update('enable', undefined, vscode.ConfigurationTarget.Global);
    }
    await waitFor(async () => (await ui()).library?.id === library, 'the engine and the library back', 60_000);
    await waitFor(async () => find(await snapshot('tags', 1), (n) => n.label === 'review'), 'the Tags view filled again');
  });

  it('Join Library refuses a malformed code before asking the engine', async () => {
    const r = await vscode.commands.executeCommand('leaderlessSync.joinLibrary', 'ABCD-EFGH');
    assert.equal(r, undefined);
    assert.match((await ui()).lastError ?? '', /12 characters/);
  });

  it('Remove Location takes a location of this device out of the library (its folder stays)', async () => {
    const folder = path.join(testEnv.tmp, 'to-remove');
    mkdirSync(path.join(folder, 'sub'), { recursive: true });
    writeFileSync(path.join(folder, 'sub/x.txt'), 'x');
    const added = await call<{ location: string }>('addLocation', { library, path: folder, workspaceKey: 'to-remove' });
    const shown = async () => find(await snapshot('locations', 2), (n) => n.contextValue === 'location local' && n.label === 'to-remove');
    await waitFor(shown, 'the new location in Locations', 30_000);
    const r = await vscode.commands.executeCommand<{ location: string; entries: number } | undefined>('leaderlessSync.removeLocation', added.location, true);
    assert.ok(r, `removeLocation failed: ${(await ui()).lastError}`);
    assert.equal(r.entries, 2);
    await waitFor(async () => !(await shown()), 'the location gone from Locations', 30_000);
    assert.ok(existsSync(path.join(folder, 'sub/x.txt')), 'the folder on disk is untouched');
  });
});
