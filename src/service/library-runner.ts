/**
 * One open library inside the engine service: the library, its PeerSync
 * while the network runs (connect / disconnect follow the service's swarm),
 * the wiring between them (partner changes reach sync at once), what it
 * tells the service (events and log lines), and its status.
 */
import { idEquals, idKey, idToString, toHex, type Id } from '../core/ids';
import type { Library } from '../engine/library';
import type { OwnerProof } from '../engine/owner-proofs';
import type { BackfillProgress } from '../sync/backfill';
import type { ApplyReport } from '../engine/apply';
import { DEFAULT_SYNC_OPTIONS, PeerSync, type PeerState } from '../sync/peer-sync';
import type { SessionOptions } from '../sync/session';
import type { Transport } from '../engine/transport';
import { ActivityLog, type ActivityLists } from './activity-log';
import type { EngineServiceEvents } from './service-events';
import { backfillStatus, verifiedStatus, type LibraryStatus, type LibrarySyncState, type PartnerStatus, type VerifiedStatus } from './status';

/** What a runner needs from the service. */
export interface RunnerHost {
  emit<K extends keyof EngineServiceEvents>(event: K, ...args: Parameters<EngineServiceEvents[K]>): void;
  log(line: string): void;
  readonly syncOptions: Partial<SessionOptions>;
}

export class LibraryRunner {
  private current: PeerSync | null = null;
  private readonly offs: (() => void)[] = [];
  /** Backfill progress logged up to this tenth of the total. */
  private loggedTenth = -1;
  private changedSoon = false;
  readonly key: string;
  /** Recent sync activity (received, sent, refused, errors), for the status view. */
  readonly activity: ActivityLog;
  /** Partners the user paused (idKey → id): kept across suspend/resume (each new PeerSync gets them), not across restarts. */
  private readonly pausedPeers = new Map<string, Id>();
  /** Device names by idKey, cleared when the partners change. */
  private names = new Map<string, string | null>();
  /** When this service last pruned the peer log (ms), and how many entries it pruned since it started. */
  private lastPruneAt: number | null = null;
  private prunedEntries = 0;

  constructor(
    readonly library: Library,
    private readonly host: RunnerHost,
  ) {
    this.key = idToString(library.id);
    this.activity = new ActivityLog(() => this.host.emit('activity', { library: this.key }));
    const changed = () => this.changed();
    this.offs.push(
      library.on('partners', () => {
        this.names = new Map();
        this.current?.partnersChanged();
      }),
      library.on('committed', changed),
      library.on('visible', changed), // a partner's change, as soon as it can be read
      library.on('clockDrift', (e) => this.log(`refused a change stamped too far ahead of this device's clock: ${e.message}`)),
      library.on('rejected', (r) => this.log(`rejected ${r.length} invalid record(s) from a partner: ${r[0]?.error.message ?? ''}`)),
      library.on('failed', (e) => {
        this.log(`sync stopped: the journal could not be written (${e.message}); nothing more is sent or received until the library is opened again`);
        this.activity.error(`sync stopped: the journal could not be written (${e.message})`, null, null);
        this.host.emit('state', { library: this.key, state: 'failed' });
      }),
    );
  }

  get sync(): PeerSync | null {
    return this.current;
  }

  /** Starts syncing over `transport` (the service's swarm). */
  connect(transport: Transport): void {
    if (this.current) throw new Error(`library ${this.key} is already syncing`);
    const sync = new PeerSync(this.library, transport, this.host.syncOptions);
    const mine = () => this.current === sync;
    sync.on('state', (state) => {
      if (!mine()) return;
      this.log(`sync ${state}`);
      this.host.emit('state', { library: this.key, state });
    });
    sync.on('progress', (p) => mine() && this.progress(p));
    sync.on('peer', ({ peer, up }) => {
      if (!mine()) return;
      const name = this.partnerName(peer);
      this.log(`partner ${name ?? idToString(peer)} ${up ? 'online' : 'offline'}`);
      this.host.emit('peer', { library: this.key, device: idToString(peer), name, up });
    });
    sync.on('error', ({ peer, error }) => {
      if (!mine()) return;
      this.log(`sync error with ${idToString(peer)}: ${error.message}`);
      const self = idEquals(peer, this.library.deviceId);
      this.activity.error(error.message, self ? null : idToString(peer), self ? null : this.deviceName(peer));
    });
    sync.on('applied', ({ peer, report }) => mine() && this.received(peer, report));
    sync.on('sent', ({ peer, model, count }) => mine() && this.activity.sent(idToString(peer), this.deviceName(peer), model, count));
    sync.on('refused', ({ peer, report }) => mine() && this.refused(peer, report));
    sync.on('cutOff', ({ peer, until, reason }) => {
      if (!mine()) return;
      const name = this.deviceName(peer);
      const message = `cut off ${name ?? idToString(peer)} for ${Math.round((until - sync.options.scheduler.now()) / 1000)} s: ${reason}`;
      this.log(message);
      this.activity.error(message, idToString(peer), name);
    });
    sync.on('pruned', ({ entries }) => {
      this.lastPruneAt = Date.now();
      this.prunedEntries += entries;
    });
    for (const device of this.pausedPeers.values()) sync.pausePeer(device);
    sync.on('snapshot', ({ peer, rows }) => mine() && this.log(`merged a snapshot of ${rows} shared row(s) from ${idToString(peer)}`));
    this.current = sync;
    sync.start();
  }

  /** Stops syncing (links closed, nothing more sent); `idle` is the state reported meanwhile. */
  async disconnect(idle: LibrarySyncState): Promise<void> {
    const sync = this.current;
    this.current = null;
    if (!sync) return;
    sync.pause();
    await sync.stop();
    this.host.emit('state', { library: this.key, state: idle });
  }

  /** Stops syncing and closes the library. */
  async close(): Promise<void> {
    this.activity.close();
    await this.disconnect('stopped');
    for (const off of this.offs.splice(0)) off();
    await this.library.close();
  }

  status(opts: { digest: boolean; idle: LibrarySyncState }): LibraryStatus {
    const lib = this.library;
    const sync = this.current;
    const sessions = sync ? [...sync.liveSessions()] : [];
    const ready = sync ? sync.readyPeers() : [];
    const proofs = this.proofs();
    const partners: PartnerStatus[] = lib.partners().map((p) => ({
      device: idToString(p.device),
      name: p.name,
      publicKey: p.publicKey ? toHex(p.publicKey) : null,
      online: sessions.some((s) => idEquals(s.remote, p.device)),
      ready: ready.some((d) => idEquals(d, p.device)),
      lastSeen: p.lastSeen,
      addedAt: p.addedAt,
      ...this.logHold(p),
      cutOffUntil: this.cutOffUntil(p.device),
      verified: verifiedStatus(proofs.get(idKey(p.device))),
    }));
    const others = [...proofs.values()].filter((p) => !idEquals(p.owner, lib.deviceId));
    return {
      library: this.key,
      name: lib.name,
      device: idToString(lib.deviceId),
      state: lib.failed ? 'failed' : sync ? sync.state : opts.idle,
      backfilled: lib.backfilled,
      backfill: sync?.progress ? backfillStatus(sync.progress) : null,
      partners,
      verified: { owners: others.length, verified: others.filter((p) => p.state === 'verified').length },
      logSize: lib.read((r) => lib.log.size(r)),
      pruneAbsentAfterMs: this.pruneAbsentAfterMs,
      parked: lib.parkedCount(),
      counts: lib.counts(),
      digest: opts.digest ? lib.digest() : null,
      error: lib.failed ? `this device's journal could not be written (${lib.failed.message}); nothing is sent or received until the library is opened again` : null,
    };
  }

  /** Each partner's sync state, progress and log lag (see methods/peers.ts). */
  peers(): RunnerPeer[] {
    const lib = this.library;
    const sync = this.current;
    const info = new Map((sync?.peers() ?? []).map((p) => [idKey(p.device), p]));
    const proofs = this.proofs();
    return lib.partners().map((p) => {
      const k = idKey(p.device);
      const s = info.get(k);
      const paused = this.pausedPeers.has(k);
      const heard = s?.lastHeardAt ?? null;
      return {
        device: idToString(p.device),
        name: p.name,
        publicKey: p.publicKey ? toHex(p.publicKey) : null,
        online: s?.online ?? false,
        ready: s?.ready ?? false,
        state: paused ? 'paused' : (s?.state ?? 'offline'),
        lastSeen: s?.online ? Date.now() : maxOrNull(p.lastSeen, heard),
        backfill: s?.backfill ?? null,
        ...this.logHold(p),
        cutOffUntil: this.cutOffUntil(p.device),
        verified: verifiedStatus(proofs.get(k)),
        paused,
      };
    });
  }

  /** The absence horizon pruning goes by (ms), null if none: partners hold the log back however long they are away. */
  get pruneAbsentAfterMs(): number | null {
    return absenceHorizon(this.host.syncOptions);
  }

  /** Per owner (idKey): whether what is held of its own rows is exactly what it signed (owners with no rows and no seal here are absent). */
  private proofs(): Map<string, OwnerProof> {
    return new Map(this.library.ownerProofs().map((p) => [idKey(p.owner), p]));
  }

  /** Until when `device`'s links are refused for misbehaving (ms since the epoch), null if they are not. */
  private cutOffUntil(device: Id): number | null {
    const sync = this.current;
    const until = sync?.cutOffUntil(device) ?? null;
    return until === null ? null : Date.now() + (until - sync!.options.scheduler.now());
  }

  /**
   * The log entries `partner` has not acknowledged (`lag`), and when it stops holding the log back
   * unless it is heard from and acknowledges meanwhile (as PeerLog.prune counts: its last contact, else
   * when it was paired, or when the oldest of those entries was logged, whichever is earlier; null: never).
   */
  private logHold(partner: { device: Id; lastSeen: number | null; addedAt: number }): { lag: number; holdsLogUntil: number | null } {
    const lib = this.library;
    const { entries, oldestLoggedAt } = lib.read((r) => lib.log.unackedBy(r, partner.device));
    const horizon = this.pruneAbsentAfterMs;
    return { lag: entries, holdsLogUntil: horizon === null ? null : Math.min(partner.lastSeen ?? partner.addedAt, oldestLoggedAt ?? Infinity) + horizon };
  }

  /** Stops syncing with one partner until resumePeer (or a restart of the service): its link closes, it is neither dialled nor admitted. */
  pausePeer(device: Id): void {
    this.pausedPeers.set(idKey(device), device);
    this.current?.pausePeer(device);
    this.log(`paused sync with ${this.deviceName(device) ?? idToString(device)}`);
    this.host.emit('peer', { library: this.key, device: idToString(device), name: this.deviceName(device), up: false, paused: true });
  }

  resumePeer(device: Id): void {
    if (!this.pausedPeers.delete(idKey(device))) return;
    this.current?.resumePeer(device);
    this.log(`resumed sync with ${this.deviceName(device) ?? idToString(device)}`);
    this.host.emit('peer', { library: this.key, device: idToString(device), name: this.deviceName(device), up: false, paused: false });
  }

  /** Recent activity, newest first, and the peer log's size and pruning horizon. */
  activityReport(limit: number): ActivityLists & { log: LogActivity } {
    const lib = this.library;
    const { size, pruned } = lib.read((r) => ({ size: lib.log.size(r), pruned: lib.log.pruned(r) }));
    return {
      ...this.activity.recent(limit),
      log: {
        size,
        horizon: pruned.length ? pruned.reduce((n, p) => n + p.seq, 0) : null,
        origins: pruned.map((p) => ({ device: idToString(p.origin), name: this.deviceName(p.origin), pruned: p.seq })),
        prunedAt: this.lastPruneAt,
        prunedEntries: this.prunedEntries,
      },
    };
  }

  private received(peer: Id, report: ApplyReport): void {
    const device = idToString(peer);
    const name = this.deviceName(peer);
    for (const [model, records] of report.state) this.activity.received(device, name, model, records.length);
    const shared = new Map<string, number>();
    for (const c of report.shared) shared.set(c.model, (shared.get(c.model) ?? 0) + 1);
    for (const [model, rows] of report.rows) shared.set(model, (shared.get(model) ?? 0) + rows.length);
    for (const [model, count] of shared) this.activity.received(device, name, model, count);
  }

  private refused(peer: Id, report: ApplyReport): void {
    const device = idToString(peer);
    const name = this.deviceName(peer);
    for (const e of report.refused) {
      this.activity.refused({ device, name, reason: e.message, skewMs: e.remote.ms - e.localMs, origin: idToString(e.author), model: null });
    }
    for (const r of report.rejected) this.activity.refused({ device, name, reason: r.error.message, skewMs: null, origin: null, model: r.model });
  }

  /** A device's name: as paired (partners), else its own device record; null if unknown. */
  deviceName(device: Id): string | null {
    const k = idKey(device);
    if (this.names.has(k)) return this.names.get(k)!;
    const lib = this.library;
    const name =
      lib.partners().find((p) => idEquals(p.device, device))?.name ??
      ((lib.read((r) => r.value('SELECT name FROM device WHERE uuid = ? AND deleted = 0', [device])) as string | undefined) ?? null);
    this.names.set(k, name);
    return name;
  }

  private progress(p: BackfillProgress): void {
    this.host.emit('progress', { library: this.key, progress: backfillStatus(p) });
    if (p.announced === 0) return;
    const tenth = p.done ? 10 : Math.floor((p.received / p.announced) * 10);
    if (tenth > this.loggedTenth) {
      this.loggedTenth = tenth;
      this.log(`backfill: ${p.received} of ${p.announced} rows${p.done ? ' (done)' : ''}`);
    }
    if (p.done) this.loggedTenth = -1;
  }

  private changed(): void {
    if (this.changedSoon) return;
    this.changedSoon = true;
    const at = performance.timeOrigin + performance.now(); // when the first of the coalesced changes became readable
    setImmediate(() => {
      this.changedSoon = false;
      this.host.emit('changed', { library: this.key, at });
    });
  }

  private partnerName(device: Id): string | null {
    return this.deviceName(device);
  }

  private log(line: string): void {
    this.host.log(`[${this.library.name} ${this.key.slice(0, 8)}] ${line}`);
  }
}

/** A partner as the `peers` control method reports it. */
export interface RunnerPeer {
  device: string;
  name: string | null;
  publicKey: string | null;
  online: boolean;
  ready: boolean;
  state: PeerState;
  lastSeen: number | null;
  backfill: { received: number; announced: number } | null;
  /** Shared changes of this device's peer log the peer has not acknowledged yet. */
  lag: number;
  /** When it stops holding the log back unless heard from and acknowledging meanwhile (ms), null: never (see PartnerStatus). */
  holdsLogUntil: number | null;
  /** Until when its links are refused for sending too many bad frames or records (ms), null if they are not. */
  cutOffUntil?: number | null;
  /** Whether what is held here of its files and folders is exactly what it signed (see PartnerStatus). */
  verified?: VerifiedStatus;
  paused: boolean;
}

export interface LogActivity {
  /** Shared changes held in the peer log. */
  size: number;
  /** Changes pruned from the log so far, all origins together (the sum of each origin's pruned seq); null if none was. */
  horizon: number | null;
  /** Per origin: its changes up to seq `pruned` are no longer in the log (a partner behind that gets a snapshot). */
  origins: { device: string; name: string | null; pruned: number }[];
  /** When this service last pruned entries (ms), null if not since it started. */
  prunedAt: number | null;
  prunedEntries: number;
}

/** The absence horizon sync with `options` prunes by (ms), null if none. */
export function absenceHorizon(options: Partial<SessionOptions>): number | null {
  const ms = options.pruneAbsentAfterMs ?? DEFAULT_SYNC_OPTIONS.pruneAbsentAfterMs;
  return Number.isFinite(ms) ? ms : null;
}

function maxOrNull(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
