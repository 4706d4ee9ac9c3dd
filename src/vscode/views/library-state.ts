/**
 * What every view, command and the status bar share: the engine's status
 * (which library the views show, its sync state, the network), kept
 * current from the engine's events, never by polling. Changes go out as
 * topics, coalesced, so a burst of events (a backfill's progress, a
 * thousand live changes) costs one refresh per view:
 *
 *   status  the status report or the connection changed (status bar, context keys)
 *   data    the library's data changed (Locations, Tags, Albums, decorations)
 *   peers   a partner's link, state or progress changed (Peers, device states)
 *   acks    a moment after changes, when partners have acknowledged them (Peers' lag)
 *
 * No `vscode` import: test/unit/views-state.test.ts drives it with a fake
 * EngineClient.
 */
import type { Disposable, EngineClient } from '../engine-client';
import type { BackfillStatus, InviteInfo, LibraryStatus, NetworkStatus, StatusReport } from './engine-types';
import { pickLibrary } from './model';

export type Topic = 'status' | 'data' | 'peers' | 'acks';

/** Runs `fn` once after `ms` of quiet, but at least every `maxMs` while calls keep coming. */
export class Coalescer {
  private timer: NodeJS.Timeout | null = null;
  private first = 0;
  constructor(
    private readonly fn: () => void,
    private readonly ms: number,
    private readonly maxMs = ms * 4,
  ) {}
  trigger(): void {
    const now = Date.now();
    if (this.timer === null) this.first = now;
    else clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.ms, this.first + this.maxMs - now));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.fn();
    }, wait);
  }
  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

export interface StateOptions {
  /** Quiet time before a data refresh (ms). */
  dataDelayMs?: number;
  /** Quiet time before a status re-read (ms). */
  statusDelayMs?: number;
  /** Time after changes before Peers reads the partners' acknowledgements (ms). */
  ackDelayMs?: number;
}

export class LibraryState implements Disposable {
  report: StatusReport | null = null;
  /** Why the last status read failed (null: it did not). */
  loadError: string | null = null;
  /** The library the user last created or joined here; the views show it while it exists. */
  preferred: string | null = null;
  private readonly listeners = new Set<(topic: Topic) => void>();
  private readonly inviteListeners = new Set<(info: InviteInfo) => void>();
  private readonly progressListeners = new Set<(library: string, p: BackfillStatus | null, state: string | null) => void>();
  private readonly subs: Disposable[] = [];
  private readonly dataSoon: Coalescer;
  private readonly peersSoon: Coalescer;
  private readonly statusSoon: Coalescer;
  /** Partners acknowledge changes a moment after they were sent, with no event of their own: Peers' lag is read again then. */
  private readonly peersAfterAcks: Coalescer;
  private reading: Promise<void> | null = null;
  private again = false;
  private disposed = false;

  constructor(
    readonly client: EngineClient,
    opts: StateOptions = {},
  ) {
    // Data refreshes re-read every expanded node: during a backfill, at most one every 2 s.
    this.dataSoon = new Coalescer(() => this.emit('data'), opts.dataDelayMs ?? 300, opts.dataDelayMs ? opts.dataDelayMs * 4 : 2000);
    this.peersSoon = new Coalescer(() => this.emit('peers'), opts.dataDelayMs ?? 250);
    this.statusSoon = new Coalescer(() => void this.refresh(), opts.statusDelayMs ?? 400);
    this.peersAfterAcks = new Coalescer(() => this.emit('acks'), opts.ackDelayMs ?? 1500, (opts.ackDelayMs ?? 1500) * 2);
    this.subs.push(client.onEvent((name, data) => this.onEvent(name, data)));
    this.subs.push(
      client.onConnection(() => {
        void this.refresh().then(() => {
          this.emit('data');
          this.emit('peers');
        });
      }),
    );
  }

  /** The library the views show (null: none, or the engine is not reachable). */
  get library(): LibraryStatus | null {
    return pickLibrary(this.report, this.preferred);
  }

  get network(): NetworkStatus | null {
    return this.report?.service.network ?? null;
  }

  get paused(): boolean {
    return this.network?.state === 'suspended';
  }

  /** Subscribes to topics; the listener runs after each coalesced change. */
  onChange(listener: (topic: Topic) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  onInvite(listener: (info: InviteInfo) => void): Disposable {
    this.inviteListeners.add(listener);
    return { dispose: () => this.inviteListeners.delete(listener) };
  }

  /** Backfill progress (p) and sync state (state) of a library, as the events bring them. */
  onProgress(listener: (library: string, p: BackfillStatus | null, state: string | null) => void): Disposable {
    this.progressListeners.add(listener);
    return { dispose: () => this.progressListeners.delete(listener) };
  }

  /** Calls a method on the library the views show (adds `library` unless given). */
  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const lib = this.library;
    return this.client.call<T>(method, lib && !('library' in params) ? { library: lib.library, ...params } : params);
  }

  /** Reads the status again (calls that overlap share one read, plus one after it). */
  refresh(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        try {
          this.report = await this.client.call<StatusReport>('status', { digest: false });
          this.loadError = null;
        } catch (e) {
          this.report = null;
          this.loadError = e instanceof Error ? e.message : String(e);
        }
      } while (this.again && !this.disposed);
    })().finally(() => {
      this.reading = null;
      if (!this.disposed) this.emit('status');
    });
    return this.reading;
  }

  /** Everything again: status, then every view. */
  async refreshAll(): Promise<void> {
    await this.refresh();
    this.emit('data');
    this.emit('peers');
  }

  private libStatus(library: string): LibraryStatus | undefined {
    return this.report?.libraries.find((l) => l.library === library);
  }

  private onEvent(name: string, data: unknown): void {
    const d = (data ?? {}) as Record<string, unknown>;
    switch (name) {
      case 'changed':
        if (this.isShown(d.library)) {
          this.dataSoon.trigger();
          this.statusSoon.trigger(); // log size, counts
          this.peersAfterAcks.trigger(); // lag
        }
        break;
      case 'activity':
        if (this.isShown(d.library)) this.peersAfterAcks.trigger();
        break;
      case 'indexing':
        if (d.done && this.isShown(d.library)) this.dataSoon.trigger();
        break;
      case 'state': {
        const lib = this.libStatus(String(d.library));
        if (lib && typeof d.state === 'string') {
          lib.state = d.state as LibraryStatus['state'];
          this.emit('status');
        }
        for (const l of this.progressListeners) l(String(d.library), null, typeof d.state === 'string' ? d.state : null);
        this.statusSoon.trigger();
        this.peersSoon.trigger();
        break;
      }
      case 'progress': {
        const lib = this.libStatus(String(d.library));
        const p = d.progress as BackfillStatus | undefined;
        if (lib && p) {
          lib.backfill = p;
          this.emit('status');
        }
        for (const l of this.progressListeners) l(String(d.library), p ?? null, null);
        this.peersSoon.trigger();
        break;
      }
      case 'peer':
        this.statusSoon.trigger();
        this.peersSoon.trigger();
        if (this.isShown(d.library)) this.dataSoon.trigger(); // devices' online state in Locations
        break;
      case 'libraries':
        void this.refreshAll();
        break;
      case 'network':
        if (this.report) {
          this.report.service.network = data as NetworkStatus;
          this.emit('status');
        }
        this.statusSoon.trigger();
        this.peersSoon.trigger();
        break;
      case 'invite':
        for (const l of this.inviteListeners) l(data as InviteInfo);
        break;
      default:
        break;
    }
  }

  private isShown(library: unknown): boolean {
    const lib = this.library;
    return lib === null || typeof library !== 'string' || library === lib.library;
  }

  private emit(topic: Topic): void {
    for (const l of [...this.listeners]) {
      try {
        l(topic);
      } catch {
        // a listener's failure is its own; the others still hear of the change
      }
    }
  }

  dispose(): void {
    this.disposed = true;
    this.dataSoon.dispose();
    this.peersSoon.dispose();
    this.statusSoon.dispose();
    this.peersAfterAcks.dispose();
    for (const s of this.subs) s.dispose();
    this.listeners.clear();
    this.inviteListeners.clear();
    this.progressListeners.clear();
  }
}
