/**
 * Feeds the status webview, free of `vscode` (unit-tested with a fake
 * EngineClient and fake timers). It listens to the engine's events and
 * connection, asks `status` / `peers` / `activity` again only for what an
 * event made stale, and hands one merged snapshot (status-model.ts) to
 * `onSnapshot` — at most every `minIntervalMs` (4 per second), never on a
 * timer of its own: no event, no call.
 *
 * While no panel is open (`setActive(false)`) nothing is asked; progress
 * events are still recorded so the rate and ETA are known the moment the
 * panel opens mid-backfill.
 *
 * Calls cost the engine: `status` counts every model's rows, so while a
 * backfill streams 'changed' and 'progress' events it is asked at most every
 * 2 s (`statusBusyIntervalMs`), `peers` and `activity` every second
 * (`slowIntervalMs`); the state, progress and network events patch the
 * snapshot from their own data in between.
 */
import type { Disposable, EngineClient, EngineConnectionState } from '../engine-client';
import {
  buildSnapshot,
  failure,
  pickLibrary,
  RateMeter,
  UNKNOWN_METHOD,
  type ActivityInput,
  type BackfillInput,
  type Fetched,
  type NetworkInput,
  type PeerInput,
  type StatusInput,
  type StatusSnapshot,
} from './status-model';

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface StatusSourceOptions {
  timers?: Timers;
  /** Least time between two snapshots, ms (default 250: ≤ 4 per second). */
  minIntervalMs?: number;
  /** Least time between two calls of a method made stale by a busy event ('changed', 'progress'), ms. */
  slowIntervalMs?: number;
  /** The same for `status` (it counts every model's rows), ms. */
  statusBusyIntervalMs?: number;
  /** Reports a failed call that is not an expected absence (engine down, unknown method). */
  onError?: (method: string, e: unknown) => void;
}

type Method = 'status' | 'peers' | 'activity';
const METHODS: readonly Method[] = ['status', 'peers', 'activity'];

export class StatusSource implements Disposable {
  private readonly timers: Timers;
  private readonly minInterval: number;
  private readonly slowInterval: number;
  private readonly statusBusyInterval: number;
  private readonly subs: Disposable[] = [];
  /** Per stale method: the least interval since its last call before calling it again. */
  private readonly dirty = new Map<Method, number>();
  private readonly lastCall = new Map<Method, number>();
  private readonly meters = new Map<string, RateMeter>();
  private readonly deviceNames = new Map<string, string | null>();
  private status: Fetched<StatusInput> = null;
  private peers: Fetched<PeerInput[]> = null;
  private activity: Fetched<ActivityInput> = null;
  /** Event data newer than the last `status` answer, with the event counter when it came. */
  private liveState: { library: string; state: string; seq: number } | null = null;
  private liveProgress: { library: string; progress: BackfillInput; seq: number } | null = null;
  private liveNetwork: { network: NetworkInput; seq: number } | null = null;
  private seq = 0;
  private preferred: string | null = null;
  /** The library `peers` and `activity` were last asked about. */
  private answeredFor: string | null = null;
  private active = false;
  private renderPending = false;
  private running = false;
  private timer: unknown = null;
  private timerAt = Infinity;
  private lastEmit = -Infinity;
  private disposed = false;
  private current: StatusSnapshot | null = null;

  constructor(
    private readonly client: EngineClient,
    private readonly onSnapshot: (s: StatusSnapshot) => void,
    options: StatusSourceOptions = {},
  ) {
    this.timers = options.timers ?? realTimers;
    this.minInterval = options.minIntervalMs ?? 250;
    this.slowInterval = options.slowIntervalMs ?? 1000;
    this.statusBusyInterval = options.statusBusyIntervalMs ?? 2000;
    this.onError = options.onError ?? (() => {});
    this.subs.push(client.onEvent((name, data) => this.event(name, data)));
    this.subs.push(client.onConnection((state) => this.connection(state)));
  }

  private readonly onError: (method: string, e: unknown) => void;

  /** The latest snapshot (built now if none was emitted yet). */
  get snapshot(): StatusSnapshot {
    return this.current ?? this.build();
  }

  /** A panel shows the snapshots (true) or none does (false: nothing is asked). */
  setActive(active: boolean): void {
    if (this.active === active) return;
    this.active = active;
    if (active) {
      this.markAll();
      this.renderPending = true;
      this.schedule();
    } else this.cancel();
  }

  /** Asks everything again now (subject to the rate limit), e.g. when a panel is shown again. */
  refresh(): void {
    this.markAll();
    this.renderPending = true;
    this.schedule();
  }

  /** Shows this library (id); null: the first one. */
  select(library: string | null): void {
    if (this.preferred === library) return;
    this.preferred = library;
    this.peers = null;
    this.activity = null;
    this.mark('peers', 0);
    this.mark('activity', 0);
    this.renderPending = true;
    this.schedule();
  }

  dispose(): void {
    this.disposed = true;
    this.cancel();
    for (const s of this.subs.splice(0)) s.dispose();
  }

  private get selected(): string | null {
    const libs = this.status?.ok && Array.isArray(this.status.value.libraries) ? this.status.value.libraries : [];
    return pickLibrary(libs, this.preferred);
  }

  private meter(library: string): RateMeter {
    let m = this.meters.get(library);
    if (!m) this.meters.set(library, (m = new RateMeter()));
    return m;
  }

  private event(name: string, data: unknown): void {
    if (this.disposed) return;
    this.seq++;
    const d = (data ?? {}) as Record<string, unknown>;
    const library = typeof d.library === 'string' ? d.library : null;
    const mine = library !== null && library === this.selected;
    switch (name) {
      case 'progress': {
        const p = d.progress as BackfillInput | undefined;
        if (!library || !p || typeof p.received !== 'number' || typeof p.announced !== 'number') return;
        this.meter(library).add({ at: this.timers.now(), received: p.received, announced: p.announced, done: p.done === true });
        if (!mine) return;
        this.liveProgress = { library, progress: p, seq: this.seq };
        this.mark('peers', this.slowInterval);
        this.renderPending = true;
        break;
      }
      case 'state':
        if (!library || typeof d.state !== 'string') return;
        if (d.state === 'backfilling' || d.state === 'catching-up') {
          // A new round: its rate starts afresh.
          const m = this.meters.get(library);
          if (m?.last?.done) m.reset();
        }
        if (!mine) {
          this.mark('status', this.minInterval);
          break;
        }
        this.liveState = { library, state: d.state, seq: this.seq };
        this.mark('peers', this.minInterval);
        this.renderPending = true;
        break;
      case 'peer':
        this.mark('status', this.minInterval);
        this.mark('peers', this.minInterval);
        break;
      case 'changed':
        if (library && !mine) return;
        this.mark('status', this.statusBusyInterval);
        this.mark('activity', this.slowInterval);
        break;
      case 'activity':
        if (library && !mine) return;
        this.mark('activity', this.minInterval);
        break;
      case 'network':
        if (typeof d.state !== 'string') return;
        this.liveNetwork = { network: d as unknown as NetworkInput, seq: this.seq };
        this.renderPending = true;
        break;
      case 'libraries':
        this.mark('status', 0);
        break;
      default:
        return;
    }
    this.schedule();
  }

  private connection(_state: EngineConnectionState): void {
    if (this.disposed) return;
    // Another engine (a takeover) or none: everything known may be stale.
    this.seq++;
    this.liveState = this.liveProgress = this.liveNetwork = null;
    this.deviceNames.clear();
    this.status = this.peers = this.activity = null;
    this.markAll();
    this.renderPending = true;
    this.schedule();
  }

  private markAll(): void {
    for (const m of METHODS) this.mark(m, 0);
  }

  private mark(m: Method, interval: number): void {
    const was = this.dirty.get(m);
    this.dirty.set(m, was === undefined ? interval : Math.min(was, interval));
  }

  private cancel(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (!this.active || this.disposed || this.running) return;
    const earliest = this.lastEmit + this.minInterval;
    let next = Infinity;
    if (this.renderPending) next = earliest;
    for (const [m, interval] of this.dirty) next = Math.min(next, Math.max(earliest, (this.lastCall.get(m) ?? -Infinity) + interval));
    if (next === Infinity) return;
    // A timer set for a later call must not hold back an earlier render.
    if (this.timer !== null) {
      if (this.timerAt <= next) return;
      this.cancel();
    }
    this.timerAt = next;
    this.timer = this.timers.setTimeout(() => void this.pump(), Math.max(0, next - this.timers.now()));
  }

  private async pump(): Promise<void> {
    this.timer = null;
    if (!this.active || this.disposed) return;
    this.running = true;
    try {
      const now = this.timers.now();
      const due = METHODS.filter((m) => {
        const interval = this.dirty.get(m);
        return interval !== undefined && (this.lastCall.get(m) ?? -Infinity) + interval <= now;
      });
      if (due.length > 0) {
        // Before the first answer, say at once that the engine is being asked.
        if (!this.current) this.emit();
        await this.fetch(due);
      }
      if (this.disposed) return;
      this.emit();
    } finally {
      this.running = false;
    }
    this.schedule();
  }

  private async fetch(due: Method[]): Promise<void> {
    for (const m of due) {
      this.dirty.delete(m);
      this.lastCall.set(m, this.timers.now());
    }
    if (due.includes('status')) {
      const seq = this.seq;
      this.status = await this.call<StatusInput>('status', { digest: false });
      if (this.status?.ok) {
        // The answer is newer than the events that came before it was asked.
        if (this.liveState && this.liveState.seq <= seq) this.liveState = null;
        if (this.liveProgress && this.liveProgress.seq <= seq) this.liveProgress = null;
        if (this.liveNetwork && this.liveNetwork.seq <= seq) this.liveNetwork = null;
      }
    }
    const library = this.selected;
    if (!this.status?.ok) {
      // No engine: the other calls would fail the same way; ask again when it is back.
      if (due.includes('peers')) this.peers = null;
      if (due.includes('activity')) this.activity = null;
      return;
    }
    if (!library) {
      this.peers = this.activity = null;
      this.answeredFor = null;
      return;
    }
    if (this.answeredFor !== library) {
      // A library appeared, or another one is shown: what peers/activity said was about another (or none).
      this.answeredFor = library;
      this.peers = this.activity = null;
    }
    const params = { library };
    const calls: Promise<void>[] = [];
    if (this.peers === null && !due.includes('peers')) due.push('peers');
    if (this.activity === null && !due.includes('activity')) due.push('activity');
    if (due.includes('peers')) calls.push(this.call<PeerInput[]>('peers', params).then((r) => void (this.peers = r)));
    if (due.includes('activity')) calls.push(this.call<ActivityInput>('activity', { ...params, limit: 50 }).then((r) => void (this.activity = r)));
    const lib = this.status.value.libraries.find((l) => l.library === library);
    if (lib && !lib.deviceName && !this.deviceNames.has(library)) {
      this.deviceNames.set(library, null);
      calls.push(
        this.call<{ device: string; name: string | null; self?: boolean }[]>('devices', params).then((r) => {
          const self = r?.ok && Array.isArray(r.value) ? r.value.find((d) => d.self || d.device === lib.device) : undefined;
          this.deviceNames.set(library, self?.name ?? null);
        }),
      );
    }
    await Promise.all(calls);
  }

  private async call<T>(method: string, params: Record<string, unknown>): Promise<Fetched<T>> {
    try {
      return { ok: true, value: await this.client.call<T>(method, params) };
    } catch (e) {
      const f = failure(e);
      const engineDown = this.client.connection === 'starting' || this.client.connection === 'failed' || this.client.connection === 'stopped';
      if (f.code !== UNKNOWN_METHOD && !engineDown) this.onError(method, e);
      return f;
    }
  }

  private build(): StatusSnapshot {
    const now = this.timers.now();
    const library = this.selected;
    return buildSnapshot({
      now,
      connection: this.client.connection,
      connectionError: this.client.connectionError,
      preferred: this.preferred,
      status: this.status,
      peers: this.peers,
      activity: this.activity,
      liveState: this.liveState && this.liveState.library === library ? this.liveState.state : null,
      liveProgress: this.liveProgress && this.liveProgress.library === library ? this.liveProgress.progress : null,
      liveNetwork: this.liveNetwork?.network ?? null,
      rate: library ? this.meter(library).estimate(now) : { rate: null, etaSeconds: null },
      deviceName: library ? (this.deviceNames.get(library) ?? null) : null,
    });
  }

  private emit(): void {
    this.renderPending = false;
    this.lastEmit = this.timers.now();
    this.current = this.build();
    this.onSnapshot(this.current);
  }
}
