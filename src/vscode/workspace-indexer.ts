/**
 * Each workspace folder of this window becomes a location of this device
 * in the engine's libraries (all of them when there are several), unless
 * `leaderlessSync.indexWorkspaceFolders` is false for it, and is kept
 * current:
 *
 * - indexed through `addLocation` (incremental: a rescan writes only what
 *   changed) with `files.exclude`, `.gitignore` and `leaderlessSync.exclude`
 *   honoured and the workspace key from `leaderlessSync.workspaceKey` or the
 *   engine's default (git remote, else folder name); progress in the window's
 *   status area from the engine's 'indexing' events;
 * - a FileSystemWatcher per folder feeds `updatePaths` in batches
 *   (`leaderlessSync.watcherBatchMs`); a batch touching a .gitignore, or too
 *   big for one call, rescans instead;
 * - again when a library appears, folders or the relevant settings change,
 *   or the engine comes back after a takeover (only what was not indexed in
 *   this session yet).
 *
 * Every window indexes its own folders through its EngineClient; the engine
 * is shared and the operations are idempotent.
 *
 * Remove Location turns `indexWorkspaceFolders` off for the folder before it
 * asks the engine, which stops a scan or update of the folder that is
 * running; a watcher batch queued meanwhile is dropped (it would add the
 * folder back as a new location), and a call the removal stopped or refused
 * is not an error.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { DEFAULT_EXCLUDES, Excludes } from '../engine/excludes';
import type { EngineClient } from './engine-client';
import { formatNumber } from './views/model';
import { excludeGlobs } from './workspace-excludes';

const SECTION = 'leaderlessSync';
const DEFAULT_BATCH_MS = 500;
/** More paths than this in one batch: a rescan is cheaper than listing them (and updatePaths takes at most 1000). */
const MAX_BATCH_PATHS = 1000;
const BUSY_RETRY_MS = 2000;
/** What the engine says when a scan or update stopped, or was refused, because the folder's location is being removed. */
const BEING_REMOVED = /is being removed/;

interface LibraryInfo {
  id: string;
  name: string;
}

class FolderIndex {
  readonly path: string;
  /** Libraries this folder was indexed into during this session. */
  readonly indexed = new Set<string>();
  private watcher: vscode.FileSystemWatcher | null = null;
  private changed = new Set<string>();
  private deleted = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  /** Index and update calls of this folder run one after another. */
  private chain: Promise<unknown> = Promise.resolve();
  private prefilter: Excludes;
  private disposed = false;

  constructor(
    readonly folder: vscode.WorkspaceFolder,
    private readonly owner: WorkspaceIndexer,
  ) {
    this.path = folder.uri.fsPath;
    this.prefilter = new Excludes(DEFAULT_EXCLUDES);
  }

  get enabled(): boolean {
    return vscode.workspace.getConfiguration(SECTION, this.folder.uri).get<boolean>('indexWorkspaceFolders', true) !== false;
  }

  /** The exclude globs for this folder: files.exclude (enabled ones) and leaderlessSync.exclude. */
  excludes(): string[] {
    const files = vscode.workspace.getConfiguration('files', this.folder.uri).get<Record<string, unknown>>('exclude', {});
    const own = vscode.workspace.getConfiguration(SECTION, this.folder.uri).get<string[]>('exclude', []);
    const globs = excludeGlobs(files, Array.isArray(own) ? own : []).filter((g) => {
      try {
        new Excludes([g]);
        return true;
      } catch (e) {
        this.owner.warnOnce(`${this.path}: exclude pattern ${JSON.stringify(g)} ignored: ${(e as Error).message}`);
        return false;
      }
    });
    this.prefilter = new Excludes([...DEFAULT_EXCLUDES, ...globs]);
    return globs;
  }

  workspaceKey(): string | undefined {
    const key = vscode.workspace.getConfiguration(SECTION, this.folder.uri).get<string>('workspaceKey', '');
    return typeof key === 'string' && key.trim() ? key.trim() : undefined;
  }

  /** Indexes the folder into each library it is not indexed in yet (all of them with `force`). */
  index(libraries: readonly LibraryInfo[], force: boolean): Promise<void> {
    return this.enqueue(async () => {
      if (this.disposed) return;
      if (!this.enabled) {
        // Opted out (its location stays in the library as last indexed): stop following it.
        this.unwatch();
        this.indexed.clear();
        return;
      }
      const todo = libraries.filter((l) => force || !this.indexed.has(l.id));
      for (const lib of todo) {
        await this.owner.indexInto(this, lib);
        this.indexed.add(lib.id);
      }
      if (this.indexed.size) this.watch();
    });
  }

  private watch(): void {
    if (this.watcher) return;
    const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(this.folder, '**/*'));
    w.onDidCreate((u) => this.note(u, false));
    w.onDidChange((u) => this.note(u, false));
    w.onDidDelete((u) => this.note(u, true));
    this.watcher = w;
  }

  private unwatch(): void {
    this.watcher?.dispose();
    this.watcher = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.changed.clear();
    this.deleted.clear();
  }

  private note(uri: vscode.Uri, deleted: boolean): void {
    if (uri.scheme !== 'file') return;
    const rel = path.relative(this.path, uri.fsPath).split(path.sep).join('/');
    if (!rel || rel.startsWith('..')) return;
    // Cheap filter for the noisy ones (.git, node_modules, excluded folders); the engine checks everything again.
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) if (this.prefilter.matches(parts.slice(0, i).join('/'), i < parts.length)) return;
    if (deleted) {
      this.deleted.add(uri.fsPath);
      this.changed.delete(uri.fsPath);
    } else {
      this.changed.add(uri.fsPath);
      this.deleted.delete(uri.fsPath);
    }
    this.timer ??= setTimeout(() => this.flush(), this.owner.batchMs());
  }

  private flush(): void {
    this.timer = null;
    const changed = [...this.changed];
    const deleted = [...this.deleted];
    this.changed.clear();
    this.deleted.clear();
    if (changed.length + deleted.length === 0) return;
    const rescan = changed.length > MAX_BATCH_PATHS || deleted.length > MAX_BATCH_PATHS || [...changed, ...deleted].some((p) => path.basename(p) === '.gitignore');
    void this.enqueue(async () => {
      if (this.disposed || !this.enabled) {
        // Opted out (e.g. by Remove Location) since the batch was gathered: writing it would add the folder back.
        this.unwatch();
        this.indexed.clear();
        return;
      }
      for (const lib of [...this.indexed]) {
        if (rescan) await this.owner.indexInto(this, { id: lib, name: lib });
        else {
          const ok = await this.owner.update(this, lib, changed, deleted);
          if (!ok) {
            // The folder was busy (being indexed elsewhere): try this batch again shortly.
            for (const p of changed) this.changed.add(p);
            for (const p of deleted) this.deleted.add(p);
            this.timer ??= setTimeout(() => this.flush(), BUSY_RETRY_MS);
            return;
          }
        }
      }
    }).catch(() => undefined); // logged where it failed
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  dispose(): void {
    this.disposed = true;
    this.unwatch();
  }
}

export class WorkspaceIndexer implements vscode.Disposable {
  private readonly folders = new Map<string, FolderIndex>();
  private readonly progress = new Map<string, vscode.Progress<{ message?: string }>>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly client: EngineClient,
    private readonly log: vscode.LogOutputChannel,
  ) {
    for (const f of vscode.workspace.workspaceFolders ?? []) this.add(f);
    this.subscriptions.push(
      client.onConnection((state) => {
        if (state === 'owner' || state === 'client') void this.indexAll(false);
      }),
      client.onEvent((name, data) => {
        if (name === 'libraries') void this.indexAll(false);
        else if (name === 'indexing') this.onIndexing(data as { path: string; scanned: number; done: boolean });
      }),
      vscode.workspace.onDidChangeWorkspaceFolders((e) => {
        for (const f of e.removed) this.remove(f);
        for (const f of e.added) this.add(f);
        void this.indexAll(false);
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        for (const f of this.folders.values()) {
          const affects = (k: string) => e.affectsConfiguration(k, f.folder.uri);
          if (affects('files.exclude') || affects(`${SECTION}.exclude`) || affects(`${SECTION}.workspaceKey`) || affects(`${SECTION}.indexWorkspaceFolders`)) {
            void this.indexFolder(f, true);
          }
        }
      }),
    );
    if (client.connection === 'owner' || client.connection === 'client') void this.indexAll(false);
  }

  private readonly warned = new Set<string>();

  warnOnce(line: string): void {
    if (this.warned.has(line)) return;
    this.warned.add(line);
    this.log.warn(line);
  }

  /** leaderlessSync.indexBatchSize, or the engine's default. */
  batchSize(): number | undefined {
    const v = vscode.workspace.getConfiguration(SECTION).get<number>('indexBatchSize');
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 ? Math.min(v, 100_000) : undefined;
  }

  batchMs(): number {
    const v = vscode.workspace.getConfiguration(SECTION).get<number>('watcherBatchMs', DEFAULT_BATCH_MS);
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.min(v, 60_000) : DEFAULT_BATCH_MS;
  }

  /** Indexes (or rescans) one folder into one library, with progress in the window's status area. */
  async indexInto(f: FolderIndex, lib: LibraryInfo): Promise<void> {
    const params = { library: lib.id, path: f.path, workspaceKey: f.workspaceKey(), exclude: f.excludes(), gitignore: true, batchSize: this.batchSize() };
    try {
      const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Leaderless Sync: indexing ${f.folder.name}` }, async (progress) => {
        this.progress.set(f.path, progress);
        try {
          return await this.client.call<{ entries: number; written: number; deleted: number; workspaceKey: string; warnings: string[] }>('addLocation', params);
        } finally {
          this.progress.delete(f.path);
        }
      });
      this.log.debug(`indexed ${f.path} (workspace ${r.workspaceKey}): ${r.entries} entries, ${r.written} written, ${r.deleted} deleted`);
      for (const w of r.warnings.slice(0, 20)) this.log.warn(`indexing ${f.path}: ${w}`);
    } catch (e) {
      // Another window with the same folder open is scanning it right now: that scan covers this one.
      if (/already being indexed/.test((e as Error).message)) return;
      if (BEING_REMOVED.test((e as Error).message)) {
        this.log.info(`indexing ${f.path} stopped: its location is being removed`);
        throw e;
      }
      this.log.warn(`indexing ${f.path} failed: ${(e as Error).message}`);
      throw e;
    }
  }

  /** Sends one watcher batch; false if the folder is busy (try again later). */
  async update(f: FolderIndex, library: string, changed: string[], deleted: string[]): Promise<boolean> {
    try {
      const r = await this.client.call<{ written: number; deleted: number; warnings?: string[] }>('updatePaths', { library, path: f.path, changed, deleted, exclude: f.excludes(), gitignore: true, batchSize: this.batchSize() });
      for (const w of (r.warnings ?? []).slice(0, 20)) this.log.warn(`updating ${f.path}: ${w}`);
      if (r.written || r.deleted) this.log.debug(`${f.path}: ${r.written} written, ${r.deleted} deleted from ${changed.length + deleted.length} watcher event(s)`);
      return true;
    } catch (e) {
      if (/already being indexed/.test((e as Error).message)) return false;
      if (BEING_REMOVED.test((e as Error).message)) {
        // Its location is leaving the library: the batch is dropped, and the folder is not indexed again from here.
        f.indexed.delete(library);
        return true;
      }
      // E.g. the engine was away longer than a call waits: rescan (incrementally) once it is back.
      this.log.warn(`updating ${f.path} failed: ${(e as Error).message}; it is rescanned when the engine is back`);
      f.indexed.delete(library);
      if (this.client.connection === 'owner' || this.client.connection === 'client') void this.indexFolder(f, false);
      return true;
    }
  }

  private add(folder: vscode.WorkspaceFolder): void {
    if (folder.uri.scheme !== 'file' || this.folders.has(folder.uri.toString())) return;
    this.folders.set(folder.uri.toString(), new FolderIndex(folder, this));
  }

  private remove(folder: vscode.WorkspaceFolder): void {
    const key = folder.uri.toString();
    this.folders.get(key)?.dispose();
    this.folders.delete(key);
  }

  private async libraries(): Promise<LibraryInfo[] | null> {
    if (this.client.connection !== 'owner' && this.client.connection !== 'client') return null;
    try {
      return await this.client.call<LibraryInfo[]>('libraries');
    } catch (e) {
      this.log.warn(`listing libraries failed: ${(e as Error).message}`);
      return null;
    }
  }

  private async indexAll(force: boolean): Promise<void> {
    const libs = await this.libraries();
    if (!libs?.length) return; // no library yet: indexed once one is created or joined ('libraries' event)
    await Promise.all([...this.folders.values()].map((f) => f.index(libs, force).catch(() => undefined)));
  }

  private async indexFolder(f: FolderIndex, force: boolean): Promise<void> {
    const libs = await this.libraries();
    if (libs?.length) await f.index(libs, force).catch(() => undefined);
  }

  private onIndexing(e: { path: string; scanned: number; done: boolean }): void {
    const p = this.progress.get(e?.path);
    if (p && !e.done) p.report({ message: `${formatNumber(e.scanned)} entries` });
  }

  dispose(): void {
    for (const s of this.subscriptions.splice(0)) s.dispose();
    for (const f of this.folders.values()) f.dispose();
    this.folders.clear();
  }
}

export function registerWorkspaceIndexer(context: vscode.ExtensionContext, client: EngineClient, log: vscode.LogOutputChannel): WorkspaceIndexer {
  const indexer = new WorkspaceIndexer(client, log);
  context.subscriptions.push(indexer);
  return indexer;
}
