/**
 * Peer sync for one library: a session per link to a partner, every local
 * commit broadcast to the partners that are ready, catch-up on every new
 * link, and a sync state a UI can show.
 *
 * Library work from all sessions runs one operation at a time (`exclusive`),
 * so the order of applies depends only on the order of events: with a
 * virtual clock and a seeded network a simulation replays exactly.
 */
import type { ApplyReport } from '../apply';
import { TypedEmitter } from '../events';
import { idKey, type Id } from '../ids';
import type { Committed, Library } from '../library';
import { realScheduler, type Link, type Transport } from '../transport';
import { Session, type SessionHost, type SessionOptions } from './session';

export type SyncState = 'uninitialized' | 'backfilling' | 'catching-up' | 'ready' | 'paused';

export interface PeerSyncEvents {
  state: (state: SyncState) => void;
  error: (e: { peer: Id; error: Error }) => void;
  applied: (e: { peer: Id; report: ApplyReport }) => void;
  peer: (e: { peer: Id; up: boolean }) => void;
}

export const DEFAULT_SYNC_OPTIONS: SessionOptions = {
  scheduler: realScheduler,
  pageSize: 1000,
  heartbeatMs: 1000,
  deadAfterMs: 5000,
  requestTimeoutMs: 15_000,
  maxBuffered: 10_000,
  maxErrors: 20,
  antiEntropyMs: 30_000,
};

export class PeerSync extends TypedEmitter<PeerSyncEvents> implements SessionHost {
  readonly options: SessionOptions;
  private readonly sessions = new Map<string, Session>();
  private queue: Promise<unknown> = Promise.resolve();
  private busy = 0;
  private paused = false;
  private started = false;
  private current: SyncState = 'uninitialized';
  private readonly offCommitted: () => void;

  constructor(
    readonly library: Library,
    private readonly transport: Transport,
    options: Partial<SessionOptions> = {},
  ) {
    super();
    this.options = { ...DEFAULT_SYNC_OPTIONS, ...options };
    this.offCommitted = library.on('committed', (c: Committed) => {
      // Also to partners in an anti-entropy catch-up: they buffer it (a catch-up that started earlier would miss it).
      for (const s of this.sessions.values()) if (s.caughtUpOnce) s.broadcast(c);
    });
    transport.on('link', (link: Link) => this.onLink(link));
  }

  /** Starts keeping links with the library's partners. */
  start(): void {
    this.started = true;
    this.transport.setPartners(this.library.partners().map((p) => p.device));
    this.updateState();
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
    this.offCommitted();
    for (const s of this.sessions.values()) s.close('stopped');
    await this.transport.close();
    await this.idle();
  }

  get state(): SyncState {
    return this.current;
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
    if (first) this.emit('peer', { peer: s.remote, up: true });
    this.updateState();
  }

  sessionClosed(s: Session): void {
    const key = idKey(s.remote);
    if (this.sessions.get(key) === s) this.sessions.delete(key);
    this.emit('peer', { peer: s.remote, up: false });
    this.updateState();
  }

  report(e: { type: 'error'; peer: Id; error: Error } | { type: 'applied'; peer: Id; report: ApplyReport }): void {
    if (e.type === 'error') this.emit('error', { peer: e.peer, error: e.error });
    else this.emit('applied', { peer: e.peer, report: e.report });
  }

  private onLink(link: Link): void {
    if (this.paused || !this.started) {
      link.close('not syncing');
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
    if (this.paused || (this.started && sessions.length === 0)) next = 'paused';
    else if (!this.started) next = 'uninitialized';
    else if (sessions.some((s) => !s.caughtUpOnce && (s.state === 'catching-up' || s.state === 'handshake'))) {
      next = this.library.vector().size <= 1 && this.library.newestStamps().every((w) => idKey(w.owner) === idKey(this.library.deviceId)) ? 'backfilling' : 'catching-up';
    } else next = 'ready';
    if (next !== this.current) {
      this.current = next;
      this.emit('state', next);
    }
  }
}
