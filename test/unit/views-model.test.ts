/**
 * The views' logic without the editor (src/vscode/views/model.ts,
 * library-state.ts, src/vscode/commands/targets.ts): method answers to
 * tree nodes, the status bar's wording, invite-code checks, command
 * targets, and event coalescing.
 */
import assert from 'node:assert/strict';
import type { Disposable, EngineClient, EngineConnectionState } from '../../src/vscode/engine-client';
import { resolveTargets, targetOf } from '../../src/vscode/commands/targets';
import type { LibraryStatus, StatusReport } from '../../src/vscode/views/engine-types';
import { LibraryState } from '../../src/vscode/views/library-state';
import {
  albumItemNode,
  albumNode,
  deviceNode,
  entryNode,
  formatAgo,
  inviteCodeProblem,
  itemParamsOf,
  locationNode,
  markDecoration,
  md,
  normalizeInviteCode,
  peerNode,
  percent,
  syncSummary,
  tagNode,
  tagThemeColor,
  taggedItemNode,
} from '../../src/vscode/views/model';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

/** A CommonMark renderer (markdown-it, which @vscode/vsce brings), HTML on: what a tooltip would turn into at worst. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const markdown = new (require('markdown-it') as new (o: object) => { render(s: string): string })({ html: true, linkify: false });

/** The text a reader sees in rendered HTML. */
function textOf(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\n/g, ' ');
}

const selfLoc = { id: 'L1', device: 'D1', deviceName: 'laptop', self: true, name: 'app', workspaceKey: 'github.com/me/app', path: '/home/me/app', entries: 10 };
const otherLoc = { ...selfLoc, id: 'L2', device: 'D2', deviceName: 'desktop', self: false, path: 'C:\\src\\app' };

function lib(over: Partial<LibraryStatus> = {}): LibraryStatus {
  return {
    library: 'LIB',
    name: 'Work',
    device: 'D1',
    state: 'ready',
    backfilled: true,
    backfill: null,
    partners: [{ device: 'D2', name: 'desktop', publicKey: null, online: true, ready: true, lastSeen: NOW, addedAt: 0, lag: 0, holdsLogUntil: null }],
    logSize: 0,
    pruneAbsentAfterMs: null,
    parked: 0,
    counts: {},
    digest: null,
    error: null,
    ...over,
  };
}

function report(l: LibraryStatus[], network: StatusReport['service']['network'] = { state: 'up', announced: true, error: null, bootstrap: null }): StatusReport {
  return { service: { running: true, pid: 1, dataDir: '/d', publicKey: 'ab', network, problems: [] }, libraries: l };
}

describe('views model', () => {
  it('formats ages and progress', () => {
    assert.equal(formatAgo(null, NOW), 'never');
    assert.equal(formatAgo(NOW - 10_000, NOW), 'just now');
    assert.equal(formatAgo(NOW - 5 * 60_000, NOW), '5 min ago');
    assert.equal(formatAgo(NOW - 3 * 3600_000, NOW), '3 h ago');
    assert.equal(formatAgo(NOW - 30 * 3600_000, NOW), 'yesterday');
    assert.equal(percent(null), null);
    assert.equal(percent({ received: 0, announced: 0 }), null);
    assert.equal(percent({ received: 42, announced: 100 }), 42);
    assert.equal(percent({ received: 999, announced: 1000 }), 99, 'never 100 before done');
    assert.equal(percent({ received: 1000, announced: 1000 }), 100);
  });

  it('maps tag colors onto theme colors', () => {
    assert.equal(tagThemeColor(null), null);
    assert.equal(tagThemeColor('red'), 'charts.red');
    assert.equal(tagThemeColor('Orange'), 'charts.orange');
    assert.equal(tagThemeColor('#00ff00'), 'charts.green');
    assert.equal(tagThemeColor('#36f'), 'charts.blue');
    assert.equal(tagThemeColor('#808080'), 'disabledForeground');
    assert.equal(tagThemeColor('not a color'), null);
  });

  it('builds device and entry nodes with stable ids, states and marks', () => {
    const me = deviceNode({ device: 'D1', name: 'laptop', self: true, online: true, lastSeen: null, locations: 1 }, NOW);
    assert.equal(me.id, 'device/D1');
    assert.equal(me.description, 'this device');
    assert.equal(me.collapsible, 'expanded');
    const off = deviceNode({ device: 'D2', name: 'desktop', self: false, online: false, lastSeen: NOW - 120_000, locations: 0 }, NOW);
    assert.equal(off.description, 'offline · seen 2 min ago');
    assert.equal(off.contextValue, 'device offline');
    assert.equal(off.collapsible, 'none');

    const tags = [{ id: 'T1', name: 'review', color: 'red' }];
    const mine = entryNode(selfLoc, { name: 'a.ts', path: 'src/a.ts', kind: 'file', size: 10, modifiedAt: NOW, tags, note: true, favorite: true, localPath: null });
    assert.equal(mine.id, 'location/L1/src/a.ts');
    assert.equal(mine.localPath, '/home/me/app/src/a.ts', "this device's own location: its path");
    assert.equal(mine.description, '★ #review ✎');
    assert.equal(mine.contextValue, 'item file local favorite hasTags hasNote');
    assert.deepEqual(itemParamsOf(mine.data), { workspace: 'github.com/me/app', path: 'src/a.ts' });

    const theirs = entryNode(otherLoc, { name: 'b.ts', path: 'b.ts', kind: 'file', size: null, modifiedAt: null, tags: [], note: false, favorite: false, localPath: null });
    assert.equal(theirs.localPath, null);
    assert.equal(theirs.contextValue, 'item file remote');
    assert.equal(theirs.iconPath, 'b.ts');
    assert.match(theirs.tooltip!, /Not on this device/);
    const copy = entryNode(otherLoc, { name: 'b.ts', path: 'b.ts', kind: 'file', size: null, modifiedAt: null, tags: [], note: false, favorite: false, localPath: '/home/me/app/b.ts' });
    assert.equal(copy.localPath, '/home/me/app/b.ts');
    assert.equal(copy.contextValue, 'item file local');
  });

  it('shows tagged items as this device’s copy, else on their devices', () => {
    const t = { id: 'T1', name: 'review', color: '#ff0000', count: 2 };
    const node = tagNode(t);
    assert.deepEqual(node.icon, { id: 'tag', color: 'charts.red' });
    assert.equal(node.collapsible, 'collapsed');
    const here = taggedItemNode(t, { workspaceKey: 'w', path: 'src/a.ts', localPath: '/x/src/a.ts', devices: [{ device: 'D1', name: 'laptop' }] });
    assert.equal(here.label, 'a.ts');
    assert.equal(here.description, 'src');
    assert.equal(here.localPath, '/x/src/a.ts');
    assert.equal(here.id, 'tag/T1/w/src/a.ts');
    const there = taggedItemNode(t, { workspaceKey: 'w', path: 'b.ts', localPath: null, devices: [{ device: 'D2', name: 'desktop' }] });
    assert.equal(there.description, 'on desktop');
    assert.equal(there.contextValue, 'item file remote tagged');
  });

  it('describes peers', () => {
    const base = { device: 'D2', name: 'desktop', publicKey: null, online: true, ready: true, state: 'ready' as const, lastSeen: NOW, backfill: null, lag: 0, holdsLogUntil: null, paused: false };
    assert.equal(peerNode(base, NOW).description, 'Synced');
    assert.equal(peerNode({ ...base, state: 'backfilling', backfill: { received: 50, announced: 200 }, lag: 3 }, NOW).description, 'Backfilling 25% · 3 behind');
    const off = peerNode({ ...base, online: false, ready: false, state: 'offline', lastSeen: NOW - 3 * 3600_000 }, NOW);
    assert.equal(off.description, 'Offline · seen 3 h ago');
    assert.equal(off.contextValue, 'peer offline running');
    assert.equal(peerNode({ ...base, paused: true }, NOW).contextValue, 'peer online paused');
  });

  it('says per peer whether its files held here are exactly what it signed', () => {
    const base = { device: 'D2', name: 'desktop', publicKey: null, online: true, ready: true, state: 'ready' as const, lastSeen: NOW, backfill: null, lag: 0, holdsLogUntil: null, paused: false };
    const since = NOW - 2 * 3600_000;
    const good = peerNode({ ...base, verified: { state: 'verified', since, rows: 12, sealedRows: 12 } }, NOW);
    assert.equal(good.description, 'Synced · Files verified');
    assert.ok(good.tooltip!.includes(`Files: verified, exactly what it signed (since ${md(new Date(since).toLocaleString())}, 2 h ago)`), good.tooltip);
    const bad = peerNode({ ...base, verified: { state: 'mismatch', since: null, rows: 3, sealedRows: 4 } }, NOW);
    assert.equal(bad.description, 'Synced · Files do NOT match');
    assert.match(bad.tooltip!, /Files: do \*\*not\*\* match what it signed \(3 records here, it signed 4\): forged or missing records, being repaired/);
    assert.match(textOf(markdown.render(bad.tooltip!)), /Files: do not match what it signed/);
    const slow = peerNode({ ...base, state: 'catching-up', lag: 2, verified: { state: 'behind', since: null, rows: 1, sealedRows: 5 } }, NOW);
    assert.equal(slow.description, 'Catching up · 2 behind · Files not verified yet');
    assert.match(slow.tooltip!, /Files: not verified yet, catching up \(it signed 5 records; 1 here\)/);
    const unsigned = peerNode({ ...base, verified: { state: 'unproven', since: null, rows: 1, sealedRows: null } }, NOW);
    assert.equal(unsigned.description, 'Synced · Files unproven');
    assert.match(unsigned.tooltip!, /Files: not verified, no signature of it covers the 1 record here yet/);
    const none = peerNode({ ...base, verified: { state: 'none', since: null, rows: 0, sealedRows: null } }, NOW);
    assert.equal(none.description, 'Synced');
    assert.match(none.tooltip!, /Files: none here yet/);
    // An engine that does not say: nothing said.
    assert.doesNotMatch(peerNode(base, NOW).tooltip!, /Files/);
  });

  it('puts peer-supplied text into tooltips as text: no links, images, HTML or headings, whatever it holds', () => {
    // Names, workspace keys, paths and tag descriptions come from other devices.
    const evil = 'x](https://evil.example/a) ![t](https://evil.example/t.png) <img src="https://evil.example/i.png"> *b* _i_ [r]: https://evil.example/r\n\n# big\n[r] https://evil.example/b www.evil.example me@evil.example &lt; \\`x`';
    const key = 'k` ![t](https://evil.example/k.png) [l](https://evil.example/l) ``x` ';
    const loc = { ...otherLoc, name: evil, deviceName: evil, workspaceKey: key, path: evil, scanState: `error: ${evil}` };
    const tag = { id: 'T1', name: evil, color: evil, description: evil, count: 1 };
    const item = { workspaceKey: key, path: evil, localPath: null, devices: [{ device: 'D9', name: evil }] };
    const nodes = [
      deviceNode({ device: key, name: evil, self: false, online: false, lastSeen: null, locations: 1 }, NOW),
      locationNode(loc),
      entryNode(loc, { name: evil, path: evil, kind: 'file', size: 1, modifiedAt: NOW, tags: [{ id: 'T1', name: evil, color: null }], note: true, favorite: false, localPath: evil }),
      tagNode(tag),
      taggedItemNode(tag, item),
      albumNode({ id: 'A1', name: evil, description: evil, count: 1 }),
      albumItemNode({ id: 'A1', name: evil, description: null, count: 1 }, item),
      peerNode({ device: key, name: evil, publicKey: null, online: true, ready: true, state: 'ready', lastSeen: NOW, backfill: null, lag: 0, holdsLogUntil: null, paused: false }, NOW),
      peerNode({ device: key, name: evil, publicKey: null, online: true, ready: true, state: 'ready', lastSeen: NOW, backfill: null, lag: 0, holdsLogUntil: null, paused: false, verified: { state: 'verified', since: NOW - 60_000, rows: 1, sealedRows: 1 } }, NOW),
    ];
    const flat = (s: string) => s.replace(/[\n\r]/g, ' ');
    for (const n of nodes) {
      const tooltip = n.tooltip!;
      const html = markdown.render(tooltip);
      assert.doesNotMatch(html, /<(a|img|h\d|em|ul|ol|pre|blockquote)\b/, `${n.id}: ${tooltip}\n→ ${html}`);
      // GitHub-flavoured autolinks (VS Code's renderer makes links of bare URLs and addresses) start only on unescaped text outside code spans.
      const prose = tooltip.replace(/(`+) .*? \1|`[^`]*`/g, '');
      assert.doesNotMatch(prose, /(?<!\\)(?:https?|ftp):|(?<![\\\w])www\.|(?<!\\)@/, `${n.id}: ${tooltip}`);
      // And it still reads as given (on one line).
      const text = textOf(html);
      assert.ok(text.includes(flat(evil)) || n.data.kind === 'device' || n.data.kind === 'peer', `${n.id}: ${text}`);
    }
    assert.ok(textOf(markdown.render(locationNode(loc).tooltip!)).includes(`Workspace key: ${key}`));
    assert.ok(textOf(markdown.render(peerNode({ device: key, name: evil, publicKey: null, online: true, ready: true, state: 'ready', lastSeen: NOW, backfill: null, lag: 0, holdsLogUntil: null, paused: false }, NOW).tooltip!)).includes(flat(evil)));
  });

  it('badges marks', () => {
    assert.equal(markDecoration({ localPath: '/a', tags: [], favorite: false, note: false }), null);
    assert.deepEqual(markDecoration({ localPath: '/a', tags: [{ name: 'x', color: 'blue' }], favorite: true, note: false }), { badge: '★#', tooltip: 'Tags: x · Favorite', color: 'charts.blue' });
    assert.deepEqual(markDecoration({ localPath: '/a', tags: [], favorite: false, note: true }), { badge: '✎', tooltip: 'Has a note' });
  });

  it('words the status bar for each state', () => {
    const s = (l: LibraryStatus | null, r: StatusReport | null = report(l ? [l] : []), conn: EngineConnectionState = 'owner') => syncSummary(conn, 'no addon', r, l, null, NOW).text;
    assert.equal(s(null, null, 'starting'), '$(sync~spin) Starting…');
    assert.equal(s(null, null, 'failed'), '$(error) Sync Failed');
    assert.equal(s(null), '$(sync) Set Up Sync');
    assert.equal(s(lib()), '$(sync) Synced');
    assert.equal(s(lib({ state: 'backfilling', backfill: { received: 42, announced: 100, serving: 1, done: false, models: {} } })), '$(sync~spin) Backfilling 42%');
    assert.equal(s(lib({ state: 'offline' })), '$(debug-disconnect) Offline');
    assert.equal(s(lib({ state: 'offline', partners: [] })), '$(sync) Not Paired');
    const l = lib();
    assert.equal(s(l, report([l], { state: 'suspended', announced: false, error: null, bootstrap: null })), '$(debug-pause) Sync Paused');
    assert.equal(s(l, report([l], { state: 'unavailable', announced: false, error: 'no addon', bootstrap: null })), '$(debug-disconnect) Offline');
    assert.equal(syncSummary('failed', 'x', null, null, null, NOW).severity, 'error');
    const failed = lib({ state: 'failed', error: "this device's journal could not be written (ENOSPC)" });
    const f = syncSummary('owner', null, report([failed]), failed, null, NOW);
    assert.deepEqual([f.text, f.severity], ['$(error) Sync Failed', 'error']);
    assert.match(f.tooltip, /ENOSPC/);
  });

  it('checks invite codes locally', () => {
    assert.equal(inviteCodeProblem('ABCD-EFGH-JKMN'), null);
    assert.equal(inviteCodeProblem('abcd efgh jkmn'), null);
    assert.match(inviteCodeProblem('ABCD-EFGH')!, /4 more/);
    assert.match(inviteCodeProblem('ABCD-EFGH-JKMU')!, /"U" cannot appear/);
    assert.match(inviteCodeProblem('ABCD-EFGH-JKMN-1')!, /has 13/);
    assert.equal(normalizeInviteCode('abcd efgh ikmo'), 'ABCD-EFGH-1KM0');
  });
});

describe('command targets', () => {
  it('takes the multi-selection, else the one item, from uris, nodes, paths and keys', () => {
    const uri = (p: string) => ({ scheme: 'file', fsPath: p });
    assert.deepEqual(
      resolveTargets(uri('/a'), [uri('/a'), uri('/b')]).map((t) => t.params),
      [{ path: '/a' }, { path: '/b' }],
    );
    assert.deepEqual(resolveTargets(uri('/a'), undefined).map((t) => t.params), [{ path: '/a' }]);
    assert.deepEqual(resolveTargets(uri('/a'), []).map((t) => t.params), [{ path: '/a' }]);
    assert.deepEqual(resolveTargets(['/x', { workspace: 'w', path: 'p/q' }], undefined).map((t) => t.params), [{ path: '/x' }, { workspace: 'w', path: 'p/q' }]);
    assert.equal(targetOf({ scheme: 'untitled', fsPath: 'Untitled-1' }), null);
    assert.equal(targetOf('relative/path'), null);
    const node = taggedItemNode({ id: 'T', name: 't', color: null }, { workspaceKey: 'w', path: 'a/b.ts', localPath: null });
    const t = targetOf(node)!;
    assert.deepEqual(t.params, { workspace: 'w', path: 'a/b.ts' });
    assert.equal(t.localPath, null);
    assert.equal(t.label, 'b.ts');
    assert.equal(targetOf(tagNode({ id: 'T', name: 't', color: null, count: 0 })), null, 'a tag node is no item');
  });
});

class FakeClient implements EngineClient {
  connection: EngineConnectionState = 'owner';
  connectionError: string | null = null;
  calls: string[] = [];
  private events = new Set<(n: string, d: unknown) => void>();
  private conns = new Set<(s: EngineConnectionState) => void>();
  constructor(public status: StatusReport | null) {}
  onConnection(l: (s: EngineConnectionState) => void): Disposable {
    this.conns.add(l);
    return { dispose: () => this.conns.delete(l) };
  }
  onEvent(l: (n: string, d: unknown) => void): Disposable {
    this.events.add(l);
    return { dispose: () => this.events.delete(l) };
  }
  async call<T>(method: string, params?: Record<string, unknown>): Promise<T> {
    this.calls.push(`${method} ${JSON.stringify(params ?? {})}`);
    if (method === 'status') {
      if (!this.status) throw new Error('The engine is not available yet');
      return structuredClone(this.status) as T;
    }
    return {} as T;
  }
  emit(name: string, data: unknown): void {
    for (const l of this.events) l(name, data);
  }
  setConnection(s: EngineConnectionState): void {
    this.connection = s;
    for (const l of this.conns) l(s);
  }
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('library state', () => {
  it('is calm while the engine is unreachable and reads the status once it connects', async () => {
    const client = new FakeClient(null);
    const state = new LibraryState(client, { dataDelayMs: 5, statusDelayMs: 5 });
    const topics: string[] = [];
    state.onChange((t) => topics.push(t));
    await state.refresh();
    assert.equal(state.library, null);
    assert.match(state.loadError!, /not available/);
    client.status = report([lib()]);
    client.setConnection('owner');
    await tick(20);
    const shown = (s: LibraryState) => s.library; // (a getter: the assertion above narrowed it)
    assert.equal(shown(state)?.library, 'LIB');
    assert.equal(state.loadError, null);
    assert.ok(topics.includes('data') && topics.includes('peers'));
    state.dispose();
  });

  it('coalesces bursts of changes into one refresh, and adds the library to calls', async () => {
    const client = new FakeClient(report([lib()]));
    const state = new LibraryState(client, { dataDelayMs: 10, statusDelayMs: 10, ackDelayMs: 80 });
    await state.refresh();
    const topics: string[] = [];
    state.onChange((t) => topics.push(t));
    for (let i = 0; i < 100; i++) client.emit('changed', { library: 'LIB' });
    client.emit('changed', { library: 'OTHER' });
    await tick(60);
    assert.equal(topics.filter((t) => t === 'data').length, 1);
    assert.equal(topics.filter((t) => t === 'acks').length, 0, 'Peers re-reads the lag only once acknowledgements are due');
    await tick(60);
    assert.equal(topics.filter((t) => t === 'acks').length, 1);
    await state.call('tags');
    assert.equal(client.calls.at(-1), 'tags {"library":"LIB"}');
    state.dispose();
  });

  it('applies progress and state events to the status at once', async () => {
    const client = new FakeClient(report([lib({ state: 'backfilling' })]));
    const state = new LibraryState(client, { dataDelayMs: 5, statusDelayMs: 1000 });
    await state.refresh();
    const seen: [string, number | null, string | null][] = [];
    state.onProgress((l, p, s) => seen.push([l, p?.received ?? null, s]));
    client.emit('progress', { library: 'LIB', progress: { received: 5, announced: 10, serving: 1, done: false, models: {} } });
    assert.equal(state.library?.backfill?.received, 5);
    client.emit('state', { library: 'LIB', state: 'ready' });
    assert.equal(state.library?.state, 'ready');
    client.emit('network', { state: 'suspended', announced: false, error: null, bootstrap: null });
    assert.equal(state.paused, true);
    assert.deepEqual(seen, [
      ['LIB', 5, null],
      ['LIB', null, 'ready'],
    ]);
    state.dispose();
  });
});
