/**
 * The extension's UI on the engine: the four tree views, the Explorer
 * decorations, the status bar item, the context keys the menus and the
 * welcome content depend on, and the commands (src/vscode/commands).
 *
 * Context keys: leaderlessSync.engine (the EngineConnectionState),
 * leaderlessSync.loaded (the engine's status was read), leaderlessSync.hasLibrary,
 * leaderlessSync.paused.
 *
 * Internal commands (not in the palette; for tests and scripts):
 *   leaderlessSync.internal.snapshot (view: 'locations'|'tags'|'peers'|'albums', depth = 2) → SnapshotNode[]
 *   leaderlessSync.internal.decoration (fsPath) → {badge, tooltip, color?} | null   (after reloading the marks)
 *   leaderlessSync.internal.state → {connection, hasLibrary, paused, library, statusBar, lastError}
 *   leaderlessSync.internal.showMore (node | node id)   the "Show More…" node's click
 *   leaderlessSync.internal.call (method, params) → the method's answer; only when the extension runs
 *     in development or tests (ExtensionMode), never for installed copies
 */
import * as vscode from 'vscode';
import type { EngineClient } from '../engine-client';
import { registerCommands, type CommandEnv } from '../commands';
import { MarkDecorations } from './decorations';
import { LibraryState } from './library-state';
import { SyncStatusBar } from './status-bar';
import { AlbumsTree, LocationsTree, PeersTree, TagsTree, VIEW_IDS, type SpecTree, type ViewName } from './tree';
import type { NodeSpec } from './model';

export function registerViews(context: vscode.ExtensionContext, client: EngineClient, log: vscode.LogOutputChannel): void {
  const state = new LibraryState(client);
  context.subscriptions.push(state);
  const preferredKey = 'leaderlessSync.preferredLibrary';
  state.preferred = context.globalState.get<string>(preferredKey) ?? null;

  const trees = {
    locations: new LocationsTree(state),
    tags: new TagsTree(state),
    peers: new PeersTree(state),
    albums: new AlbumsTree(state),
  };
  for (const [name, tree] of Object.entries(trees) as [ViewName, SpecTree][]) {
    const view = vscode.window.createTreeView<NodeSpec>(VIEW_IDS[name], { treeDataProvider: tree, showCollapseAll: name !== 'peers', canSelectMany: name !== 'peers' });
    tree.view = view;
    context.subscriptions.push(tree, view);
  }

  const decorations = new MarkDecorations(state, log);
  context.subscriptions.push(decorations, vscode.window.registerFileDecorationProvider(decorations));

  const statusBar = new SyncStatusBar(client, state);
  context.subscriptions.push(statusBar);

  // Context keys for `when` clauses (menus, palette, welcome content).
  let last = '';
  const setKeys = () => {
    const keys = { engine: client.connection, loaded: state.report !== null, hasLibrary: state.library !== null, paused: state.paused };
    const k = JSON.stringify(keys);
    if (k === last) return;
    last = k;
    void vscode.commands.executeCommand('setContext', 'leaderlessSync.engine', keys.engine);
    void vscode.commands.executeCommand('setContext', 'leaderlessSync.loaded', keys.loaded);
    void vscode.commands.executeCommand('setContext', 'leaderlessSync.hasLibrary', keys.hasLibrary);
    void vscode.commands.executeCommand('setContext', 'leaderlessSync.paused', keys.paused);
  };
  // The library last created or joined here stays the one shown, across reloads (an id; no secret).
  const keepPreferred = () => {
    if (state.preferred !== (context.globalState.get<string>(preferredKey) ?? null)) void context.globalState.update(preferredKey, state.preferred ?? undefined);
  };
  context.subscriptions.push(
    state.onChange((t) => {
      if (t !== 'status') return;
      setKeys();
      keepPreferred();
    }),
    client.onConnection(() => setKeys()),
  );
  setKeys();

  const env: CommandEnv = { context, client, state, log, trees, decorations, lastError: null };
  context.subscriptions.push(...registerCommands(env));

  context.subscriptions.push(
    vscode.commands.registerCommand('leaderlessSync.internal.showMore', (node: NodeSpec | string) => trees.locations.showMore(node)),
    vscode.commands.registerCommand('leaderlessSync.internal.snapshot', (view: ViewName, depth?: number) => {
      const tree = trees[view];
      if (!tree) throw new Error(`no view "${String(view)}"; views: ${Object.keys(trees).join(', ')}`);
      return tree.snapshot(depth ?? 2);
    }),
    vscode.commands.registerCommand('leaderlessSync.internal.decoration', async (fsPath: string) => {
      await decorations.reload();
      if (decorations.lastError) throw new Error(`the marks could not be read: ${decorations.lastError}`);
      return decorations.specFor(fsPath);
    }),
    vscode.commands.registerCommand('leaderlessSync.internal.state', () => ({
      connection: client.connection,
      connectionError: client.connectionError,
      loaded: state.report !== null,
      hasLibrary: state.library !== null,
      paused: state.paused,
      library: state.library ? { id: state.library.library, name: state.library.name, state: state.library.state } : null,
      loadError: state.loadError,
      statusBar: statusBar.last,
      lastError: env.lastError,
      visible: Object.fromEntries(Object.entries(trees).map(([n, t]) => [n, t.view?.visible ?? false])),
    })),
  );

  if (context.extensionMode !== vscode.ExtensionMode.Production) {
    context.subscriptions.push(
      vscode.commands.registerCommand('leaderlessSync.internal.call', (method: string, params?: Record<string, unknown>) => client.call(method, params)),
    );
  }

  // First read; afterwards only events and connection changes refresh.
  void state.refreshAll();
}
