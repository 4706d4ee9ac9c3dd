/**
 * The engine service: everything one data directory needs to run, in one
 * object, for the CLI's `serve`, a one-shot CLI command, and (later) the
 * VS Code window that owns the data directory.
 *
 * - The data directory is this user's alone: created 0700, an existing one
 *   made 0700, one that another user owns or can write to refused before
 *   anything in it is read (store/private-dir.ts).
 * - Holds the data directory's lock for its lifetime: a second service on
 *   the same directory is refused with the pid that runs the first.
 * - This device's network key pair: handed in, or `<dataDir>/device.key`
 *   (created with mode 0600 on first use).
 * - Opens every library in the data directory; more at runtime
 *   (createLibrary after `init`, addLibrary / openLibrary after a join).
 *   A library that cannot be opened is reported in the status and the
 *   others still run; one held by another process stops the start.
 * - One Hyperswarm (SwarmHost) for all libraries, and a transport and a
 *   PeerSync per library. If networking cannot start (no native addons on
 *   this platform, or the DHT fails), the service runs offline: the status
 *   says why, and the libraries work locally.
 * - suspend() pauses every library's sync and leaves the swarm; resume()
 *   rejoins (and retries a network that was unavailable).
 * - close() stops indexing and sync, destroys the swarm, closes every
 *   library and releases the lock: nothing is left to keep the process
 *   alive.
 *
 * Log lines go to the injected `log` and out as 'log' events; none holds a
 * library secret.
 */
import * as path from 'node:path';
import { TypedEmitter } from '../engine/events';
import { NotFoundError } from '../engine/errors';
import { idEquals, idFromString, idToString, toHex, type Id } from '../core/ids';
import { indexFolder, type IndexOptions, type IndexResult } from '../engine/indexer';
import { Library, listLibraries, type LibraryInfo, type LibraryOptions } from '../engine/library';
import type { PeerSync } from '../sync/peer-sync';
import type { SessionOptions } from '../sync/session';
import { StoreLockedError } from '../store';
import type { DirLock } from '../store/lock';
import { ensurePrivateDir } from '../store/private-dir';
import type { KeyPair } from '../net/hyperswarm-types';
import { deviceIdOf } from '../core/signing';
import { loadOrCreateDeviceKeyPair } from '../net/keys';
import { SwarmHost, type SwarmHostOptions } from '../net/swarm-host';
import { AmbiguousLibraryError, errorMessage, InvalidParamsError, NoLibraryError, ServiceClosedError } from './errors';
import { absenceHorizon, LibraryRunner, type RunnerHost } from './library-runner';
import { PairingDesk } from './pairing-desk';
import type { EngineServiceEvents } from './service-events';
import { lockDataDir } from './service-lock';
import type { LibraryStatus, LibrarySyncState, NetworkState, NetworkStatus } from './status';

export const DEVICE_KEY_FILE = 'device.key';

export interface EngineServiceOptions {
  dataDir: string;
  /** This device's network key pair; default: `<dataDir>/device.key`, created if missing. */
  keyPair?: KeyPair;
  /** false: no networking at all (a one-shot command that only reads or writes locally). Default true. */
  network?: boolean;
  /** DHT bootstrap nodes; default Hyperswarm's public ones. */
  bootstrap?: { host: string; port: number }[];
  log?: (line: string) => void;
  /**
   * How long a partner may go unheard before it stops holding the peer log
   * back (ms; it gets a snapshot when it returns). Default 30 days
   * (DEFAULT_SYNC_OPTIONS); the `leaderlessSync.pruneAbsentAfterDays`
   * setting and `serve --prune-absent-after DAYS` set it.
   */
  pruneAbsentAfterMs?: number;
  /** Sync tuning (tests, simulations). */
  sync?: Partial<SessionOptions>;
  /** Options every library is opened with. */
  library?: Pick<LibraryOptions, 'now' | 'maxClockDriftMs' | 'deviceName' | 'snapshotJournalBytes'>;
  /** How the swarm is created (default SwarmHost.create); tests use it to make networking fail. */
  createSwarmHost?: (opts: SwarmHostOptions) => Promise<SwarmHost>;
}

export interface CreateOptions {
  name: string;
  deviceName?: string;
  /** This device's id in the library; default the one its other libraries use (or a new one). A join passes the id it announced. */
  deviceId?: Id;
  /** Joining an existing library: its id and secret. */
  libraryId?: Id;
  secret?: Uint8Array;
}

export class EngineService extends TypedEmitter<EngineServiceEvents> {
  /** Invites this device has open, and joining with a code. */
  readonly pairing: PairingDesk;
  private readonly runners = new Map<string, LibraryRunner>();
  private host: SwarmHost | null = null;
  private net: NetworkState;
  private netError: string | null = null;
  private announced = false;
  private readonly problems = new Map<string, string>();
  private ops: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | null = null;
  /** Aborted by close(): running index jobs stop between batches. */
  private readonly stopping = new AbortController();
  private readonly indexing = new Set<Promise<IndexResult>>();
  private readonly runnerHost: RunnerHost;

  private constructor(
    readonly dataDir: string,
    readonly keyPair: KeyPair,
    private readonly lock: DirLock,
    private readonly options: EngineServiceOptions,
  ) {
    super();
    this.pairing = new PairingDesk({
      publicKey: keyPair.publicKey,
      bootstrap: options.bootstrap,
      networkError: () => (this.net === 'up' ? null : (this.netError ?? (this.net === 'off' ? 'this command runs without networking' : `the network is ${this.net}`))),
      library: (ref) => this.library(ref),
      hasLibrary: (id) => this.runners.has(idToString(id)),
      deviceId: () => this.deviceId,
      deviceName: () => options.library?.deviceName,
      createLibrary: (o) => this.createLibrary(o),
      expectPeers: (keys) => this.host?.expect(keys),
      emitInvite: (info) => this.emit('invite', info),
      log: (line) => this.log(line),
    });
    this.net = options.network === false ? 'off' : 'suspended';
    this.runnerHost = {
      emit: <K extends keyof EngineServiceEvents>(event: K, ...args: Parameters<EngineServiceEvents[K]>) => this.emit(event, ...args),
      log: (line: string) => this.log(line),
      syncOptions: options.pruneAbsentAfterMs === undefined ? (options.sync ?? {}) : { ...options.sync, pruneAbsentAfterMs: options.pruneAbsentAfterMs },
    };
  }

  /** Locks the data directory, opens its libraries and (unless `network: false`) joins the swarm. */
  static async start(options: EngineServiceOptions): Promise<EngineService> {
    const dataDir = path.resolve(options.dataDir);
    const absent = options.pruneAbsentAfterMs;
    if (absent !== undefined && !(typeof absent === 'number' && absent > 0)) throw new InvalidParamsError(`pruneAbsentAfterMs must be a number of milliseconds above 0, not ${String(absent)}`);
    const log = options.log ?? (() => undefined);
    // Before anything is read from it or written into it: this user's alone (see private-dir.ts).
    ensurePrivateDir(dataDir, { what: 'the data directory', log });
    const lock = await lockDataDir(dataDir, log);
    let service: EngineService | null = null;
    try {
      const keyPair = options.keyPair ?? loadOrCreateDeviceKeyPair(path.join(dataDir, DEVICE_KEY_FILE));
      service = new EngineService(dataDir, keyPair, lock, options);
      await service.openAll();
      if (options.network !== false) await service.startNetwork();
      return service;
    } catch (e) {
      if (service) await service.close();
      else lock.release();
      throw e;
    }
  }

  /** This device's network public key (hex). */
  get publicKey(): string {
    return toHex(this.keyPair.publicKey);
  }

  /** This device's id in every library it creates or joins: derived from its key (core/signing.ts), so no other key can speak for it. */
  get deviceId(): Id {
    return deviceIdOf(this.keyPair.publicKey);
  }

  /** The DHT bootstrap nodes the service was given (undefined: Hyperswarm's public ones); e.g. for a pairing swarm. */
  get bootstrap(): { host: string; port: number }[] | undefined {
    return this.options.bootstrap;
  }

  get network(): NetworkStatus {
    const b = this.options.bootstrap;
    return { state: this.net, announced: this.announced, error: this.netError, bootstrap: b ? b.map((n) => `${n.host}:${n.port}`) : null };
  }

  /** The swarm, while the network is up. */
  get swarm(): SwarmHost | null {
    return this.host;
  }

  /** Open libraries. */
  libraries(): Library[] {
    return [...this.runners.values()].map((r) => r.library);
  }

  libraryInfos(): LibraryInfo[] {
    return [...this.runners.values()].map((r) => ({ id: r.key, name: r.library.name, createdAt: createdAt(r.library) }));
  }

  /** Libraries in the data directory that could not be opened, and why. */
  problemList(): { library: string; error: string }[] {
    return [...this.problems].map(([library, error]) => ({ library, error }));
  }

  /**
   * A library by id (a full UUID or a unique prefix of one), or the only
   * one when `ref` is omitted. Throws NoLibraryError, AmbiguousLibraryError
   * or NotFoundError.
   */
  library(ref?: string | Id): Library {
    return this.runner(ref).library;
  }

  /** A library's sync, while the network runs. */
  sync(ref?: string | Id): PeerSync | null {
    return this.runner(ref).sync;
  }

  /** A library's runner: its sync activity, per-partner state and pause (see library()). */
  libraryRunner(ref?: string | Id): LibraryRunner {
    return this.runner(ref);
  }

  /** How long a partner may go unheard before it stops holding a peer log back (ms), null: no horizon. */
  get pruneAbsentAfterMs(): number | null {
    return absenceHorizon(this.runnerHost.syncOptions);
  }

  /** Status of one library (see library()). */
  status(ref?: string | Id, opts: { digest?: boolean } = {}): LibraryStatus {
    return this.runner(ref).status({ digest: opts.digest ?? true, idle: this.idleState() });
  }

  /** Status of every open library. */
  statusAll(opts: { digest?: boolean } = {}): LibraryStatus[] {
    return [...this.runners.values()].map((r) => r.status({ digest: opts.digest ?? true, idle: this.idleState() }));
  }

  /** Creates a library in the data directory (this device's id is reused) and runs it. */
  createLibrary(opts: CreateOptions): Promise<Library> {
    return this.queue(async () => {
      const lib = await Library.create({
        ...this.options.library,
        dataDir: this.dataDir,
        name: opts.name,
        deviceName: opts.deviceName ?? this.options.library?.deviceName,
        deviceId: opts.deviceId ?? this.deviceId,
        keyPair: this.keyPair,
        libraryId: opts.libraryId,
        secret: opts.secret,
      });
      await this.adopt(lib);
      return lib;
    });
  }

  /** Runs a library opened elsewhere (e.g. created by a join); the service closes it on close(). */
  addLibrary(lib: Library): Promise<void> {
    return this.queue(() => this.adopt(lib));
  }

  /** Opens a library of the data directory that is not open yet (e.g. one written by a join) and runs it. */
  openLibrary(id: Id): Promise<Library> {
    return this.queue(async () => {
      const existing = this.runners.get(idToString(id));
      if (existing) return existing.library;
      const lib = await Library.open({ ...this.options.library, dataDir: this.dataDir, libraryId: id, keyPair: this.keyPair });
      await this.adopt(lib);
      return lib;
    });
  }

  /** Stops syncing a library and closes it (its files stay). */
  closeLibrary(ref: string | Id): Promise<void> {
    return this.queue(async () => {
      const r = this.runner(ref);
      this.runners.delete(r.key);
      await r.close();
      this.log(`closed library ${r.key}`);
      this.emit('libraries', { libraries: this.libraryInfos() });
    });
  }

  /**
   * Indexes a folder of this device into a library (a new location, or a
   * rescan of an existing one), logging it and emitting 'indexing' progress.
   */
  async addLocation(ref: string | Id | undefined, folder: string, opts: Omit<IndexOptions, 'onProgress' | 'deviceName' | 'signal'> = {}): Promise<IndexResult> {
    if (this.closing) throw new ServiceClosedError();
    const lib = this.library(ref);
    const library = idToString(lib.id);
    this.log(`indexing ${folder} into "${lib.name}"`);
    const job = indexFolder(lib, folder, {
      ...opts,
      deviceName: this.options.library?.deviceName,
      onProgress: (p) => this.emit('indexing', { library, path: folder, ...p, done: false }),
      signal: this.stopping.signal, // close() stops it between batches (what was written stays consistent)
    });
    this.indexing.add(job);
    let result: IndexResult;
    try {
      result = await job;
    } finally {
      this.indexing.delete(job);
    }
    this.emit('indexing', { library, path: folder, scanned: result.entries, written: result.written, deleted: result.deleted, done: true });
    this.log(`indexed ${folder}: ${result.entries} entries (${result.written} written, ${result.deleted} deleted), workspace ${result.workspaceKey}${result.warnings.length ? `; ${result.warnings.length} warning(s)` : ''}`);
    return result;
  }

  /** Pauses every library's sync and leaves the swarm. */
  suspend(): Promise<void> {
    return this.queue(async () => {
      if (this.net === 'off' || this.net === 'suspended') return;
      for (const r of this.runners.values()) await r.disconnect('paused');
      await this.stopHost();
      this.net = 'suspended';
      this.netError = null;
      this.log('network suspended: left the swarm');
      this.emit('network', this.network);
    });
  }

  /** Rejoins the swarm after suspend() (or tries again after networking was unavailable). */
  resume(): Promise<void> {
    return this.queue(async () => {
      if (this.net !== 'suspended' && this.net !== 'unavailable') return;
      if (this.options.network === false) return;
      await this.startNetwork();
    });
  }

  /** Stops everything: sync, swarm, libraries, the lock. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopping.abort();
      await this.pairing.close();
      await Promise.allSettled([...this.indexing]);
      await this.ops.catch(() => undefined);
      for (const r of this.runners.values()) {
        await r.close().catch((e: unknown) => this.log(`closing library ${r.key} failed: ${errorMessage(e)}`));
      }
      this.runners.clear();
      await this.stopHost();
      if (this.net !== 'off') this.net = 'suspended';
      this.lock.release();
    })();
    return this.closing;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  // ---------------------------------------------------------------- internals

  /** Runs `fn` after every earlier operation (open, add, suspend, resume) finished. */
  private queue<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new ServiceClosedError());
    const run = this.ops.then(() => {
      if (this.closing) throw new ServiceClosedError();
      return fn();
    });
    this.ops = run.catch(() => undefined);
    return run;
  }

  private runner(ref?: string | Id): LibraryRunner {
    if (ref === undefined || ref === '') {
      if (this.runners.size === 1) return [...this.runners.values()][0];
      if (this.runners.size === 0) {
        const p = this.problemList();
        if (p.length) throw new NotFoundError(`No library could be opened in ${this.dataDir}: ${p.map((x) => `${x.library}: ${x.error}`).join('; ')}`);
        throw new NoLibraryError(this.dataDir);
      }
      throw new AmbiguousLibraryError(this.dataDir, [...this.runners.keys()]);
    }
    if (typeof ref !== 'string') {
      for (const r of this.runners.values()) if (idEquals(r.library.id, ref)) return r;
      throw new NotFoundError(`No library ${idToString(ref)} is open in ${this.dataDir}`);
    }
    const want = ref.toLowerCase().replace(/-/g, '');
    const found = [...this.runners.values()].filter((r) => r.key.replace(/-/g, '').startsWith(want));
    if (found.length === 1 && (want.length >= 4 || want.length === 32)) return found[0];
    if (found.length > 1) throw new AmbiguousLibraryError(this.dataDir, found.map((r) => r.key));
    const problem = [...this.problems].find(([id]) => id.replace(/-/g, '').startsWith(want));
    if (problem) throw new NotFoundError(`Library ${problem[0]} could not be opened: ${problem[1]}`);
    throw new NotFoundError(`No library ${ref} in ${this.dataDir}`);
  }

  /** A library's state while it has no sync: stopped (a one-shot command), paused (suspended), offline (no network here). */
  private idleState(): LibrarySyncState {
    return this.net === 'off' ? 'stopped' : this.net === 'suspended' ? 'paused' : 'offline';
  }

  private async openAll(): Promise<void> {
    for (const info of await listLibraries(this.dataDir)) {
      let lib: Library;
      try {
        lib = await Library.open({ ...this.options.library, dataDir: this.dataDir, libraryId: idFromString(info.id), keyPair: this.keyPair });
      } catch (e) {
        if (e instanceof StoreLockedError) throw e; // another process runs it: this service must not start
        this.problems.set(info.id, errorMessage(e));
        this.log(`library ${info.id} could not be opened: ${errorMessage(e)}`);
        continue;
      }
      await this.adopt(lib);
    }
  }

  private async adopt(lib: Library): Promise<void> {
    const key = idToString(lib.id);
    if (this.runners.has(key)) throw new Error(`Library ${key} is already open in this service`);
    await lib.ready();
    const r = new LibraryRunner(lib, this.runnerHost);
    this.runners.set(key, r);
    this.problems.delete(key);
    this.log(`library "${lib.name}" (${key}) open: ${lib.partners().length} partner(s)`);
    if (this.host) this.connect(r, this.host);
    this.emit('libraries', { libraries: this.libraryInfos() });
  }

  private connect(r: LibraryRunner, host: SwarmHost): void {
    const lib = r.library;
    r.connect(host.transport({ libraryId: lib.id, secret: lib.secret, peers: () => reachable(lib) }));
  }

  private async startNetwork(): Promise<void> {
    const create = this.options.createSwarmHost ?? ((o: SwarmHostOptions) => SwarmHost.create(o));
    try {
      const host = await create({ keyPair: this.keyPair, bootstrap: this.options.bootstrap, log: (line) => this.log(`[net] ${line}`) });
      this.host = host;
      this.net = 'up';
      this.netError = null;
      this.announced = false;
      void host.announced().then((ok) => {
        if (this.host !== host) return;
        this.announced = ok;
        if (ok) this.log('announced on the DHT');
        this.emit('network', this.network);
      });
      this.log(`joined the swarm as ${this.publicKey.slice(0, 16)}… (${this.options.bootstrap ? `bootstrap ${this.network.bootstrap!.join(', ')}` : 'public DHT'})`);
      for (const r of this.runners.values()) this.connect(r, host);
    } catch (e) {
      this.net = 'unavailable';
      this.netError = errorMessage(e);
      this.log(`peer networking unavailable; libraries work locally only: ${this.netError}`);
    }
    this.emit('network', this.network);
  }

  private async stopHost(): Promise<void> {
    const host = this.host;
    this.host = null;
    this.announced = false;
    await host?.destroy().catch((e: unknown) => this.log(`leaving the swarm failed: ${errorMessage(e)}`));
  }

  /** Writes a line to the service's log (and as a 'log' event). Never pass a library secret. */
  log(line: string): void {
    this.options.log?.(line);
    this.emit('log', { line });
  }
}

/** A library's partners that have a network key. */
function reachable(lib: Library): { device: Id; publicKey: Uint8Array }[] {
  return lib.partners().flatMap((p) => (p.publicKey ? [{ device: p.device, publicKey: p.publicKey }] : []));
}

function createdAt(lib: Library): number {
  const v = lib.read((r) => r.value("SELECT value FROM meta WHERE key = 'created_at'"));
  return typeof v === 'number' ? v : 0;
}
