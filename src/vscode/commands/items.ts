/**
 * Commands on items (files and folders), tags and albums. Items come from
 * the Explorer or editor title (uri, uris[]), a view's nodes (node,
 * nodes[]), scripts (paths, {workspace, path}, Uris), or else the active
 * editor; the last argument is the input a prompt would ask for:
 *
 *   addTag       (items?, selection?, tag?)        → {tag, added}      tag: id or name; a new name creates it
 *   removeTag    (items?, selection?, tag?)        → {removed}
 *   toggleFavorite (items?, selection?, favorite?) → {favorite}
 *   editNote     (items?, selection?, text?)       → {note}            '' removes the note
 *   addToAlbum   (items?, selection?, album?)      → {album, added}
 *   removeFromAlbum (albumItemNodes | items, selection?, album?) → {removed}
 *   openOnThisDevice (item?)                       → {localPath}
 *   createTag (name?, color?) · renameTag (tag?, name?) · recolorTag (tag?, color?) · deleteTag (tag?, confirmed?)
 *   createAlbum (name?) · renameAlbum (album?, name?) · deleteAlbum (album?, confirmed?)
 */
import * as vscode from 'vscode';
import type { AlbumWithCount, MetadataJson, TagJson, TagWithCount } from '../views/engine-types';
import { TAG_COLORS } from '../views/model';
import { flash, needLibrary, orCancel, pickAlbum, pickTag, registerCommand, type CommandEnv } from './env';
import { isNode, resolveTargets, targetsLabel, type Target } from './targets';

function targetsOrEditor(first: unknown, second: unknown): Target[] {
  const targets = resolveTargets(first, second);
  if (targets.length) return targets;
  const uri = vscode.window.activeTextEditor?.document.uri;
  const fromEditor = uri ? resolveTargets(uri, undefined) : [];
  if (!fromEditor.length) throw new Error('select a file in the Explorer or open one in an editor first');
  return fromEditor;
}

function nameInput(title: string, prompt: string, value = ''): Thenable<string | undefined> {
  return vscode.window.showInputBox({
    title,
    prompt,
    value,
    validateInput: (v) => (v.trim() ? (v.length > 256 ? 'At most 256 characters' : null) : 'Enter a name'),
  });
}

/** A tag to put on items: an existing one (by id) or a new name typed into the picker. */
async function chooseTagForItems(env: CommandEnv, what: string): Promise<string> {
  const tags = (await env.state.call<TagWithCount[]>('tags')).sort((a, b) => a.name.localeCompare(b.name));
  type Item = vscode.QuickPickItem & { tag?: TagWithCount; create?: string };
  const qp = vscode.window.createQuickPick<Item>();
  qp.title = `Add Tag to ${what}`;
  qp.placeholder = tags.length ? 'Pick a tag, or type a new tag name' : 'Type a name for the new tag';
  const existing: Item[] = tags.map((t) => ({ label: `$(tag) ${t.name}`, description: `${t.count}${t.color ? ` · ${t.color}` : ''}`, tag: t }));
  const update = () => {
    const v = qp.value.trim();
    const exact = tags.some((t) => t.name === v);
    qp.items = v && !exact ? [{ label: `$(add) Create Tag “${v}”`, create: v, alwaysShow: true }, ...existing] : existing;
  };
  update();
  qp.onDidChangeValue(update);
  const chosen = await new Promise<Item | undefined>((resolve) => {
    qp.onDidAccept(() => resolve(qp.selectedItems[0]));
    qp.onDidHide(() => resolve(undefined));
    qp.show();
  });
  qp.dispose();
  const c = orCancel(chosen);
  return c.tag ? c.tag.id : c.create!;
}

async function forEach<T>(targets: Target[], fn: (t: Target) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (const t of targets) out.push(await fn(t));
  return out;
}

export function itemCommands(env: CommandEnv): vscode.Disposable[] {
  return [
    registerCommand(env, 'leaderlessSync.addTag', 'add the tag', async (first, second, tagArg) => {
      needLibrary(env);
      const targets = targetsOrEditor(first, second);
      const tag = typeof tagArg === 'string' && tagArg.trim() ? tagArg.trim() : await chooseTagForItems(env, targetsLabel(targets));
      const rs = await forEach(targets, (t) => env.state.call<{ tag: TagJson; added: boolean }>('tag', { ...t.params, tag }));
      const added = rs.filter((r) => r.added).length;
      flash(`$(tag) ${rs[0]?.tag.name ?? tag}: ${added ? `tagged ${added === 1 ? targetsLabel(targets) : `${added} items`}` : 'already tagged'}`);
      return { tag: rs[0]?.tag, added };
    }),

    registerCommand(env, 'leaderlessSync.removeTag', 'remove the tag', async (first, second, tagArg) => {
      needLibrary(env);
      const targets = targetsOrEditor(first, second);
      let removed = 0;
      // From the Tags view: each node's own tag.
      if (typeof tagArg !== 'string' && targets.every((t) => t.node?.data.kind === 'tagged')) {
        for (const t of targets) {
          if (t.node?.data.kind !== 'tagged') continue;
          const r = await env.state.call<{ removed: boolean }>('untag', { ...t.params, tag: t.node.data.tag.id });
          if (r.removed) removed++;
        }
        return { removed };
      }
      let tags: string[];
      if (typeof tagArg === 'string' && tagArg) tags = [tagArg];
      else {
        const on = new Map<string, TagJson>();
        for (const t of targets) for (const tag of await env.state.call<TagJson[]>('tagsOf', t.params)) on.set(tag.id, tag);
        if (!on.size) {
          flash(`$(info) ${targetsLabel(targets)} ${targets.length === 1 ? 'has' : 'have'} no tags`);
          return { removed: 0 };
        }
        const picks = await vscode.window.showQuickPick(
          [...on.values()].sort((a, b) => a.name.localeCompare(b.name)).map((t) => ({ label: `$(tag) ${t.name}`, tag: t, picked: on.size === 1 })),
          { title: `Remove Tag from ${targetsLabel(targets)}`, placeHolder: 'Tags to remove', canPickMany: true },
        );
        tags = orCancel(picks).map((p) => p.tag.id);
        if (!tags.length) return { removed: 0 };
      }
      for (const t of targets) for (const tag of tags) if ((await env.state.call<{ removed: boolean }>('untag', { ...t.params, tag })).removed) removed++;
      return { removed };
    }),

    registerCommand(env, 'leaderlessSync.toggleFavorite', 'change the favorite', async (first, second, favArg) => {
      needLibrary(env);
      const targets = targetsOrEditor(first, second);
      let favorite: boolean;
      if (typeof favArg === 'boolean') favorite = favArg;
      else {
        // Any not favorite yet: make them all favorites; else unfavorite them all.
        const now = await forEach(targets, async (t) => (t.node?.data.kind === 'entry' ? t.node.data.entry.favorite : (await env.state.call<MetadataJson>('note', t.params)).favorite));
        favorite = now.some((f) => !f);
      }
      await forEach(targets, (t) => env.state.call('favorite', { ...t.params, favorite }));
      flash(`$(star${favorite ? '-full' : '-empty'}) ${targetsLabel(targets)} ${favorite ? 'added to' : 'removed from'} favorites`);
      return { favorite };
    }),

    registerCommand(env, 'leaderlessSync.editNote', 'save the note', async (first, second, textArg) => {
      needLibrary(env);
      const targets = targetsOrEditor(first, second);
      let text: string;
      if (typeof textArg === 'string') text = textArg;
      else {
        const notes = await forEach(targets, async (t) => (await env.state.call<MetadataJson>('note', t.params)).note ?? '');
        const same = notes.every((n) => n === notes[0]);
        text = orCancel(
          await vscode.window.showInputBox({
            title: `Edit Note: ${targetsLabel(targets)}`,
            prompt: targets.length > 1 && !same ? 'The items have different notes: this one replaces them all (empty removes them)' : 'Empty removes the note',
            value: same ? notes[0] : '',
            placeHolder: 'A note that follows this file to all your devices',
            ignoreFocusOut: true,
          }),
        );
      }
      const note = text.trim() ? text : null;
      await forEach(targets, (t) => env.state.call('setNote', { ...t.params, text: note }));
      flash(note ? '$(note) Note saved' : '$(note) Note removed');
      return { note };
    }),

    registerCommand(env, 'leaderlessSync.addToAlbum', 'add to the album', async (first, second, albumArg) => {
      needLibrary(env);
      const targets = targetsOrEditor(first, second);
      let album: string;
      if (typeof albumArg === 'string' && albumArg) album = albumArg;
      else {
        const albums = (await env.state.call<AlbumWithCount[]>('albums')).sort((a, b) => a.name.localeCompare(b.name));
        const pick = orCancel(
          await vscode.window.showQuickPick(
            [
              ...albums.map((a) => ({ label: `$(library) ${a.name}`, description: `${a.count}`, id: a.id as string | null })),
              { label: '$(add) New Album…', description: '', id: null },
            ],
            { title: `Add ${targetsLabel(targets)} to Album`, placeHolder: 'Pick an album' },
          ),
        );
        if (pick.id) album = pick.id;
        else {
          const name = orCancel(await nameInput('New Album', 'A name for the album'));
          album = (await env.state.call<{ id: string }>('albumCreate', { name: name.trim() })).id;
        }
      }
      const rs = await forEach(targets, (t) => env.state.call<{ album: { name: string }; added: boolean }>('albumAdd', { ...t.params, album }));
      flash(`$(library) Added to ${rs[0]?.album.name ?? 'the album'}`);
      return { album: rs[0]?.album, added: rs.filter((r) => r.added).length };
    }),

    registerCommand(env, 'leaderlessSync.removeFromAlbum', 'remove from the album', async (first, second, albumArg) => {
      needLibrary(env);
      const targets = resolveTargets(first, second);
      let removed = 0;
      for (const t of targets) {
        const album = t.node?.data.kind === 'albumItem' ? t.node.data.album.id : typeof albumArg === 'string' ? albumArg : (await pickAlbum(env, undefined, 'Remove from which album?')).id;
        if ((await env.state.call<{ removed: boolean }>('albumRemove', { ...t.params, album })).removed) removed++;
      }
      return { removed };
    }),

    registerCommand(env, 'leaderlessSync.openOnThisDevice', 'open the file', async (first) => {
      const [t] = resolveTargets(first, undefined);
      if (!t) throw new Error('pick an item in the Locations, Tags or Albums view');
      let local = t.localPath;
      if (local === undefined && 'workspace' in t.params) {
        local = (await env.state.call<{ localPath: string | null }>('localPath', { workspace: t.params.workspace, path: t.params.path })).localPath;
      }
      if (!local) {
        void vscode.window.showInformationMessage(`“${t.label}” is not on this device.`);
        return { localPath: null };
      }
      const uri = vscode.Uri.file(local);
      const isDir = t.node?.data.kind === 'entry' && t.node.data.entry.kind === 'dir';
      if (isDir) await vscode.commands.executeCommand('revealInExplorer', uri);
      else await vscode.window.showTextDocument(uri, { preview: true });
      return { localPath: local };
    }),

    // ------------------------------------------------------------ tags

    registerCommand(env, 'leaderlessSync.createTag', 'create the tag', async (nameArg, colorArg) => {
      needLibrary(env);
      const name = typeof nameArg === 'string' ? nameArg : orCancel(await nameInput('Create Tag', 'A name for the tag'));
      const color = typeof colorArg === 'string' ? colorArg || null : typeof nameArg === 'string' ? null : await chooseColor('Color for the new tag', null);
      return env.state.call<TagJson>('tagCreate', { name: name.trim(), ...(color ? { color } : {}) });
    }),

    registerCommand(env, 'leaderlessSync.renameTag', 'rename the tag', async (tagArg, nameArg) => {
      needLibrary(env);
      const tag = await pickTag(env, tagArg, 'Rename which tag?');
      const name = typeof nameArg === 'string' ? nameArg : orCancel(await nameInput('Rename Tag', `New name for “${tag.name}”`, tag.name));
      return env.state.call<TagJson>('tagRename', { tag: tag.id, name: name.trim() });
    }),

    registerCommand(env, 'leaderlessSync.recolorTag', 'change the tag’s color', async (tagArg, colorArg) => {
      needLibrary(env);
      const tag = await pickTag(env, tagArg, 'Recolor which tag?');
      const color = typeof colorArg === 'string' ? colorArg || null : colorArg === null ? null : await chooseColor(`Color for “${tag.name}”`, tag.color);
      return env.state.call<TagJson>('tagRecolor', { tag: tag.id, color });
    }),

    registerCommand(env, 'leaderlessSync.deleteTag', 'delete the tag', async (tagArg, confirmedArg) => {
      needLibrary(env);
      const nodes = Array.isArray(confirmedArg) ? confirmedArg.filter((n) => isNode(n) && n.data.kind === 'tag') : [];
      const tags = nodes.length > 1 ? await Promise.all(nodes.map((n) => pickTag(env, n, ''))) : [await pickTag(env, tagArg, 'Delete which tag?')];
      if (confirmedArg !== true) {
        const count = tags.reduce((s, t) => s + t.count, 0);
        const what = tags.length === 1 ? `the tag “${tags[0].name}”` : `${tags.length} tags`;
        const b = await vscode.window.showWarningMessage(
          `Delete ${what}?`,
          { modal: true, detail: count ? `It is removed from ${count} item${count === 1 ? '' : 's'} on every device of the library.` : 'No item carries it.' },
          'Delete',
        );
        if (b !== 'Delete') orCancel(undefined);
      }
      let items = 0;
      for (const t of tags) items += (await env.state.call<{ items: number }>('tagDelete', { tag: t.id })).items;
      return { items };
    }),

    // ------------------------------------------------------------ albums

    registerCommand(env, 'leaderlessSync.createAlbum', 'create the album', async (nameArg) => {
      needLibrary(env);
      const name = typeof nameArg === 'string' ? nameArg : orCancel(await nameInput('Create Album', 'A name for the album (a working set, a reading list…)'));
      return env.state.call('albumCreate', { name: name.trim() });
    }),

    registerCommand(env, 'leaderlessSync.renameAlbum', 'rename the album', async (albumArg, nameArg) => {
      needLibrary(env);
      const album = await pickAlbum(env, albumArg, 'Rename which album?');
      const name = typeof nameArg === 'string' ? nameArg : orCancel(await nameInput('Rename Album', `New name for “${album.name}”`, album.name));
      return env.state.call('albumRename', { album: album.id, name: name.trim() });
    }),

    registerCommand(env, 'leaderlessSync.deleteAlbum', 'delete the album', async (albumArg, confirmedArg) => {
      needLibrary(env);
      const album = await pickAlbum(env, albumArg, 'Delete which album?');
      if (confirmedArg !== true) {
        const b = await vscode.window.showWarningMessage(
          `Delete the album “${album.name}”?`,
          { modal: true, detail: 'The album goes from every device of the library; its files stay where they are.' },
          'Delete',
        );
        if (b !== 'Delete') orCancel(undefined);
      }
      return env.state.call('albumDelete', { album: album.id });
    }),
  ];
}

async function chooseColor(title: string, current: string | null): Promise<string | null> {
  const items = [
    { label: '$(circle-slash) No Color', color: null as string | null, description: current === null ? 'current' : '' },
    ...TAG_COLORS.map((c) => ({ label: `$(circle-large-filled) ${c[0].toUpperCase()}${c.slice(1)}`, color: c as string | null, description: current === c ? 'current' : '' })),
  ];
  const pick = await vscode.window.showQuickPick(items, { title, placeHolder: 'Pick a color' });
  return orCancel(pick).color;
}

