/**
 * The extension's manifest (package.json "contributes") against the code:
 * every command a menu, keybinding or welcome link names is contributed and
 * registered; titles follow VS Code's conventions; every setting of the
 * contract is declared with a description and the right scope.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

const root = path.join(__dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  contributes: {
    commands: { command: string; title: string; category: string; icon?: string }[];
    menus: Record<string, { command?: string; submenu?: string; when?: string; group?: string }[]>;
    submenus: { id: string; label: string }[];
    views: Record<string, { id: string; name: string }[]>;
    viewsWelcome: { view: string; contents: string; when?: string }[];
    configuration: { properties: Record<string, { type: string; scope: string; markdownDescription?: string; description?: string }> };
  };
};
const c = pkg.contributes;

function sources(dir: string): string {
  let out = '';
  for (const f of readdirSync(dir)) {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) out += sources(p);
    else if (f.endsWith('.ts')) out += readFileSync(p, 'utf8');
  }
  return out;
}

describe('extension manifest', () => {
  const contributed = new Set(c.commands.map((x) => x.command));
  const code = sources(path.join(root, 'src/vscode'));

  it('registers every contributed command in the code', () => {
    const missing = [...contributed].filter((id) => !code.includes(`'${id}'`));
    assert.deepEqual(missing, []);
  });

  it('menus and welcome links name contributed commands and submenus', () => {
    const submenus = new Set(c.submenus.map((s) => s.id));
    for (const [menu, items] of Object.entries(c.menus)) {
      for (const i of items) {
        if (i.command) assert.ok(contributed.has(i.command), `${menu}: ${i.command} is not contributed`);
        if (i.submenu) assert.ok(submenus.has(i.submenu), `${menu}: submenu ${i.submenu} is not contributed`);
      }
    }
    for (const w of c.viewsWelcome) {
      for (const m of w.contents.matchAll(/\(command:([\w.]+)/g)) {
        if (m[1].startsWith('workbench.')) continue;
        assert.ok(contributed.has(m[1]), `welcome of ${w.view} links ${m[1]}`);
      }
    }
  });

  it('commands have the category, a codicon, Title Case and … when they ask for input', () => {
    const small = new Set(['a', 'an', 'and', 'as', 'at', 'for', 'from', 'in', 'of', 'on', 'or', 'the', 'to', 'with']);
    const prompts = ['createLibrary', 'joinLibrary', 'backfillFromPeer', 'unpairDevice', 'removeLocation', 'addTag', 'createTag', 'renameTag', 'recolorTag', 'addToAlbum', 'createAlbum', 'renameAlbum', 'editNote'];
    for (const x of c.commands) {
      assert.equal(x.category, 'Leaderless Sync', x.command);
      assert.match(x.icon ?? '', /^\$\([a-z-]+\)$/, `${x.command} has no codicon`);
      const words = x.title.replace(/…$/, '').split(' ');
      words.forEach((w, i) => assert.ok(/^[A-Z]/.test(w) || (i > 0 && small.has(w)), `${x.command}: "${x.title}" is not Title Case`));
      const id = x.command.replace('leaderlessSync.', '');
      assert.equal(x.title.endsWith('…'), prompts.includes(id), `${x.command}: "${x.title}" (… means it asks for more input)`);
    }
  });

  it('the palette has a when clause for every command that cannot always run', () => {
    const palette = new Map(c.menus.commandPalette.map((m) => [m.command, m.when]));
    for (const x of c.commands) {
      if (x.command === 'leaderlessSync.showLog' || x.command === 'leaderlessSync.showStatus') continue;
      assert.ok(palette.get(x.command), `${x.command} has no commandPalette when clause`);
    }
    assert.equal(palette.get('leaderlessSync.openOnThisDevice'), 'false', 'needs an item from a view');
    assert.match(palette.get('leaderlessSync.resumeSync')!, /leaderlessSync\.paused/);
    assert.match(palette.get('leaderlessSync.addTag')!, /resourceScheme == file/);
  });

  it('views: one container with Locations, Tags, Albums and Peers', () => {
    assert.deepEqual(Object.keys(c.views), ['leaderlessSync']);
    assert.deepEqual(
      c.views.leaderlessSync.map((v) => v.id),
      ['leaderlessSync.locations', 'leaderlessSync.tags', 'leaderlessSync.albums', 'leaderlessSync.peers'],
    );
    for (const v of c.views.leaderlessSync) assert.ok(c.viewsWelcome.some((w) => w.view === v.id), `${v.id} has no welcome content`);
  });

  it('declares every setting of the contract with a description and its scope', () => {
    const want: Record<string, string> = {
      enable: 'application',
      deviceName: 'application',
      bootstrap: 'application',
      exclude: 'resource',
      indexWorkspaceFolders: 'resource',
      workspaceKey: 'resource',
      maxClockDriftSeconds: 'application',
      pruneAbsentAfterDays: 'application',
      indexBatchSize: 'application',
      watcherBatchMs: 'application',
    };
    const props = c.configuration.properties;
    assert.deepEqual(Object.keys(props).sort(), Object.keys(want).map((k) => `leaderlessSync.${k}`).sort());
    for (const [k, scope] of Object.entries(want)) {
      const p = props[`leaderlessSync.${k}`];
      assert.equal(p.scope, scope, k);
      assert.ok((p.markdownDescription ?? p.description ?? '').length > 20, `${k} needs a description`);
    }
  });
});
