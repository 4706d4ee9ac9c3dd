/**
 * Peer sync for one library: a session per link to a partner, every local
 * commit broadcast to the partners that are ready, catch-up on every new
 * link, and a sync state a UI can show.
 *
 * Library work from all sessions runs one operation at a time (`exclusive`),
 * so the order of applies depends only on the order of events: with a
 * virtual clock and a seeded network a simulation replays exactly.
 */
import type { ApplyReport } from '../engine/apply';
import { TypedEmitter } from '../engine/events';
import { idKey, idToString, type Id } from '../core/ids';
import type { Committed, Library } from '../engine/library';
import { realScheduler, type Link, type Transport } from '../engine/transport';
import { Backfill, type BackfillHost, type BackfillProgress } from './backfill';
import { Session, type SessionEvent, type SessionHost, type SessionOptions } from './session';

/**
 * - uninitialized: not started;
 * - offline: started, but no partner is linked (none online, or none yet);
 * - backfilling: pulling everything for the first time (since joining, or a resync);
 * - catching-up: pulling what changed while away;
 * - ready: linked and caught up;
 * - paused: the user paused sync;
 * - failed: this device's journal could not be written (disk full, I/O
 *   error): nothing more is sent or received until the library is opened
 *   again (`failure` says why).
 */
export type SyncState = 'uninitialized' | 'offline' | 'backfilling' | 'catching-up' | 'ready' | 'paused' | 'failed';

/**
 * One partner as sync sees it:
 * - offline: no link; connecting: linked, handshake not done;
 * - backfilling: pulling from it while this device's first (or resync) backfill runs;
 * - catching-up: pulling what changed while away (or an anti-entropy round);
 * - ready: linked and caught up; paused: the user paused sync with it (pausePeer).
 */
export type PeerState = 'offline' | 'connecting' | 'backfilling' | 'catching-up' | 'ready' | 'paused';

export interface PeerInfo {
  device: Id;
  state: PeerState;
  online: boolean;
  /** Caught up at least once on the current link. */
  ready: boolean;
  paused: boolean;
  /** Scheduler time (ms) a frame last came from it: now-ish while linked, else when its last link closed; null if not since start. */
  lastHeardAt: number | null;
  /** Rows it served in the current (or last) backfill round; null if none. */
  backfill: { received: number; announced: number } | null;
}

export interface PeerSyncEvents {
  state: (state: SyncState) => void;
  /** Backfill or catch-up of device-owned rows: received over announced, per model. */
  progress: (p: BackfillProgress) => void;
  /** A partner's shared rows were merged from a snapshot (it had pruned the log this device needed). */
  snapshot: (e: { peer: Id; rows: number }) => void;
  /** Log entries every partner acknowledged were pruned. */
  pruned: (e: { entries: number }) => void;
  error: (e: { peer: Id; error: Error }) => void;
  applied: (e: { peer: Id; report: ApplyReport }) => void;
  /** Records from `peer` refused (clock drift: report.refused) or rejected (invalid: report.rejected). */
  refused: (e: { peer: Id; report: ApplyReport }) => void;
  /** `peer` sent too many bad frames or records: its links are refused until `until` (scheduler ms). */
  cutOff: (e: { peer: Id; until: number; reason: string }) => void;
  /** Records sent to `peer` (live changes, or pages served to its catch-up). */
  sent: (e: { peer: Id; model: string; count: number }) => void;
  peer: (e: { peer: Id; up: boolean }) => void;
}

export const DEFAULT_SYNC_OPTIONS: SessionOptions = {
  scheduler: realScheduler,
  pageSize: 1000,
  heartbeatMs: 1000,
  deadAfterMs: 5000,
  requestTimeoutMs: 15_000,
  maxBuffered: 10_000,
  maxBufferedBytes: 32 * 1024 * 1024,
  maxErrors: 20,
  cutOffMs: 60_000,
  maxRequestsPerSecond: 1000,
  antiEntropyMs: 30_000,
  pruneIntervalMs: 10_000,
  pruneAbsentAfterMs: 30 * 86_400_000, // 30 days: a partner away longer stops holding the log back (a snapshot awaits it)
};

export class PeerSync extends TypedEmitter<PeerSyncEvents> implements SessionHost, BackfillHost {
  readonly options: SessionOptions;
  private readonly backfill = new Backfill(this);
  private lastProgress: BackfillProgress | null = null;
  private pruneTimer: unknown = null;
  private lastPrune = -Infinity;
  private marking = false;
  private stopped = false;
  private readonly sessions = new Map<string, Session>();
  private queue: Promise<unknown> = Promise.resolve();
  private busy = 0;
  private paused = false;
  private started = false;
  private current: SyncState = 'uninitialized';
  private readonly offCommitted: () => void;
  /** Partners the user paused (idKey): no link to them until resumePeer. In memory only. */
  private readonly pausedPeers = new Set<string>();
  /** Per partner (idKey): when its last link closed, the last time a frame came on it. */
  private readonly lastHeard = new Map<string, number>();
  /** Partners cut off for misbehaving (idKey): until when (scheduler ms) their links are refused, and how many times so far. In memory only. */
  private readonly cutOffs = new Map<string, { until: number; times: number; timer: unknown }>();
  private readonly offFailed: () => void;
  private readonly offProven: () => void;
  /** Why sync stopped for good (the journal failed); null while it runs. */
  failure: Error | null = null;
  /** Data read for partners that waited for this device's journal before it went out: how many times, and for how long in all (ms). */
  readonly held = { count: 0, ms: 0 };

  constructor(
    readonly library: Library,
    private readonly transport: Transport,
    options: Partial<SessionOptions> = {},
  ) {
    super();
    this.options = { ...DEFAULT_SYNC_OPTIONS, ...options };
    this.offCommitted = library.on('committed', (c: Committed) => {
      // Also to partners in an anti-entropy catch-up: they buffer it (a catch-up that started earlier would miss it).
      // A partner not caught up yet may have read this device's log before this commit: it is told to look again once ready (Session.missedLive).
      for (const s of this.sessions.values()) {
        if (s.caughtUpOnce) s.broadcast(c);
        else s.missedLive = true;
      }
    });
    transport.on('link', (link: Link) => this.onLink(link));
    this.offFailed = library.on('failed', (e) => this.failed(e));
    // Rows this device can now vouch for (or its own, changed through a partner): partners hear of them now, not at the next anti-entropy round.
    this.offProven = library.on('proven', () => {
      for (const s of this.sessions.values()) s.helloSoon();
    });
    if (library.failed) this.failed(library.failed);
  }

  /** The journal failed: stop syncing (what is in memory past the last durable commit must not leave). */
  private failed(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.transport.setPartners([]);
    for (const s of this.sessions.values()) s.close('journal failed');
    this.emit('error', { peer: this.library.deviceId, error: new Error(`sync stopped: this device's journal could not be written (${e.message}); nothing more is sent until the library is opened again`) });
    this.updateState();
  }

  /** Starts keeping links with the library's partners. */
  start(): void {
    this.started = true;
    if (!this.failure) this.transport.setPartners(this.linkedPartners());
    this.updateState();
  }

  /** The partner list changed (paired or unpaired): keep links with the new list. */
  partnersChanged(): void {
    if (this.started && !this.paused && !this.failure) this.transport.setPartners(this.linkedPartners());
  }

  /** Partners to keep links with: all but those paused one by one and those cut off. */
  private linkedPartners(): Id[] {
    return this.library
      .partners()
      .map((p) => p.device)
      .filter((d) => !this.pausedPeers.has(idKey(d)) && this.cutOffUntil(d) === null);
  }

  /**
   * Stops syncing with one partner: its link is closed and the transport no
   * longer dials or admits it, until resumePeer. Held in memory only (a new
   * PeerSync starts with every partner linked).
   */
  pausePeer(peer: Id): void {
    this.pausedPeers.add(idKey(peer));
    if (this.started && !this.paused) this.transport.setPartners(this.linkedPartners());
    this.sessions.get(idKey(peer))?.close('paused');
    this.updateState();
  }

  resumePeer(peer: Id): void {
    if (!this.pausedPeers.delete(idKey(peer))) return;
    if (this.started && !this.paused) this.transport.setPartners(this.linkedPartners());
    this.updateState();
  }

  isPeerPaused(peer: Id): boolean {
    return this.pausedPeers.has(idKey(peer));
  }

  /** Each partner's sync state (in the library's partner order). */
  peers(): PeerInfo[] {
    const backfilling = !this.library.backfilled;
    return this.library.partners().map((p) => {
      const key = idKey(p.device);
      const s = this.sessions.get(key);
      const paused = this.pausedPeers.has(key) || this.paused;
      const live = s && s.state !== 'closed' ? s : null;
      let state: PeerState;
      if (paused) state = 'paused';
      else if (!live) state = 'offline';
      else if (live.state === 'handshake') state = 'connecting';
      else if (live.state === 'catching-up' || this.backfill.serving(live)) state = backfilling ? 'backfilling' : 'catching-up';
      else state = 'ready';
      return {
        device: p.device,
        state,
        online: !!live,
        ready: !!live?.caughtUpOnce,
        paused,
        lastHeardAt: live ? live.lastHeardAt : (this.lastHeard.get(key) ?? null),
        backfill: this.backfill.peerProgress(p.device),
      };
    });
  }

  /** The user paused sync: links are closed and none are made until resume(). */
  pause(): void {
    this.paused = true;
    this.transport.setPartners([]);
    for (const s of this.sessions.values()) s.close('paused');
    this.updateState();
  }

  resume(): void {
    this.paused = false;
    this.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.offCommitted();
    this.offFailed();
    this.offProven();
    this.options.scheduler.clearTimeout(this.pruneTimer);
    for (const c of this.cutOffs.values()) this.options.scheduler.clearTimeout(c.timer);
    for (const s of this.sessions.values()) s.close('stopped');
    await this.transport.close();
    await this.idle();
  }

  get state(): SyncState {
    return this.current;
  }

  /** The last backfill progress reported (null before any). */
  get progress(): BackfillProgress | null {
    return this.lastProgress;
  }

  /**
   * Pulls everything again from `peer`: every owner's device-owned rows from
   * the start and a snapshot of its shared rows, merged into what is here.
   * Checkpoints persist, so a restart (or losing the peer, then other
   * partners take over) resumes. Resolves when the peer has served it all;
   * throws if the peer is not connected.
   */
  async backfillFrom(peer: Id): Promise<void> {
    const s = this.sessions.get(idKey(peer));
    if (!s) throw new Error(`${idToString(peer)} is not connected`);
    await this.resync(peer, [s]);
  }

  /** Pulls everything again from every connected partner (see backfillFrom); resumes after a restart. */
  async fullResync(): Promise<void> {
    await this.resync(null, [...this.sessions.values()]);
  }

  private async resync(peer: Id | null, from: readonly Session[]): Promise<void> {
    await this.exclusive(() => this.library.requestResync());
    this.backfill.restart(peer);
    // catchUp() flips each session to catching-up at once, so the state below is not 'ready'.
    const done = from.map((s) => s.catchUp());
    this.updateState();
    await Promise.all(done);
  }

  /** Partners with a link up and caught up. */
  readyPeers(): Id[] {
    return [...this.sessions.values()].filter((s) => s.caughtUpOnce).map((s) => s.remote);
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.busy++;
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined).finally(() => this.busy--);
    return run;
  }

  /** Resolves once no library work is queued or running (for simulations). */
  async idle(): Promise<void> {
    while (this.busy > 0) await this.queue;
  }

  get working(): boolean {
    return this.busy > 0;
  }

  sessionReady(s: Session, first: boolean): void {
    if (first) {
      this.emit('peer', { peer: s.remote, up: true });
      this.exclusive(() => this.library.partnerSeen(s.remote)).catch((error: Error) => this.emit('error', { peer: s.remote, error }));
    }
    this.updateState();
  }

  pullDeviceOwned(s: Session): Promise<void> {
    return this.backfill.pullFrom(s);
  }

  liveSessions(): Iterable<Session> {
    return this.sessions.values();
  }

  reportProgress(p: BackfillProgress): void {
    this.lastProgress = p;
    this.emit('progress', p);
    if (p.done) this.updateState();
  }

  /** Prunes at most every pruneIntervalMs, on the next ack after it. */
  acked(): void {
    const { scheduler, pruneIntervalMs } = this.options;
    if (this.pruneTimer !== null || this.stopped) return;
    const wait = Math.max(0, this.lastPrune + pruneIntervalMs - scheduler.now());
    this.pruneTimer = scheduler.setTimeout(() => {
      this.pruneTimer = null;
      this.lastPrune = scheduler.now();
      this.exclusive(() => this.library.prune({ absentAfterMs: this.options.pruneAbsentAfterMs }))
        .then((entries) => {
          if (entries > 0) this.emit('pruned', { entries });
        })
        .catch((error: Error) => this.emit('error', { peer: this.library.deviceId, error }));
    }, wait);
  }

  sessionClosed(s: Session): void {
    const key = idKey(s.remote);
    if (this.sessions.get(key) === s) this.sessions.delete(key);
    this.lastHeard.set(key, s.lastHeardAt);
    this.backfill.sessionClosed(s);
    this.emit('peer', { peer: s.remote, up: false });
    this.updateState();
  }

  report(e: SessionEvent): void {
    if (e.type === 'error') this.emit('error', { peer: e.peer, error: e.error });
    else if (e.type === 'applied') this.emit('applied', { peer: e.peer, report: e.report });
    else if (e.type === 'refused') this.emit('refused', { peer: e.peer, report: e.report });
    else if (e.type === 'sent') this.emit('sent', { peer: e.peer, model: e.model, count: e.count });
    else if (e.type === 'held') {
      this.held.count++;
      this.held.ms += e.ms;
    } else if (e.type === 'misbehaved') this.cutOff(e.peer, e.reason);
    else this.emit('snapshot', { peer: e.peer, rows: e.rows });
  }

  /**
   * Neither dials nor admits `peer` for cutOffMs, doubled each time it is
   * cut off again (up to 64×); a link that comes anyway is closed at once.
   */
  private cutOff(peer: Id, reason: string): void {
    const { scheduler, cutOffMs } = this.options;
    const key = idKey(peer);
    const prev = this.cutOffs.get(key);
    scheduler.clearTimeout(prev?.timer);
    const times = (prev?.times ?? 0) + 1;
    const wait = cutOffMs * 2 ** Math.min(times - 1, 6);
    const until = scheduler.now() + wait;
    const timer = scheduler.setTimeout(() => this.partnersChanged(), wait + 1);
    this.cutOffs.set(key, { until, times, timer });
    this.partnersChanged();
    this.emit('cutOff', { peer, until, reason });
  }

  /** Until when `peer`'s links are refused (scheduler ms), or null if they are not. */
  cutOffUntil(peer: Id): number | null {
    const c = this.cutOffs.get(idKey(peer));
    return c && c.until > this.options.scheduler.now() ? c.until : null;
  }

  private onLink(link: Link): void {
    if (this.paused || !this.started || this.failure) {
      link.close(this.failure ? 'journal failed' : 'not syncing');
      return;
    }
    if (this.pausedPeers.has(idKey(link.remote))) {
      link.close('paused');
      return;
    }
    const cutOff = this.cutOffUntil(link.remote);
    if (cutOff !== null) {
      link.close(`cut off for misbehaving, for ${Math.ceil((cutOff - this.options.scheduler.now()) / 1000)} s more`);
      return;
    }
    const key = idKey(link.remote);
    // A new link replaces a stale one to the same partner (e.g. it restarted).
    this.sessions.get(key)?.close('replaced');
    this.sessions.set(key, new Session(link, this));
    this.updateState();
  }

  private updateState(): void {
    let next: SyncState;
    const sessions = [...this.sessions.values()];
    if (this.failure) next = 'failed';
    else if (this.paused) next = 'paused';
    else if (this.started && sessions.length === 0) next = 'offline';
    else if (!this.started) next = 'uninitialized';
    else if (!this.library.backfilled && (this.backfill.busy || sessions.some((s) => s.state !== 'ready'))) next = 'backfilling';
    else if (sessions.some((s) => !s.caughtUpOnce && s.state !== 'ready')) next = 'catching-up';
    else next = 'ready';
    // The first time everything is pulled (since joining, or since a resync) ends the backfill.
    if (next === 'ready' && !this.library.backfilled && !this.marking) {
      this.marking = true;
      void this.exclusive(() => this.library.markBackfilled())
        .catch((error: Error) => this.emit('error', { peer: this.library.deviceId, error }))
        .finally(() => (this.marking = false));
    }
    if (next !== this.current) {
      this.current = next;
      this.emit('state', next);
    }
  }
}
