/**
 * The status webview's view model and its feed, without VS Code: rate and
 * ETA from progress samples, snapshots from absent or partial answers
 * (engine down, methods an older engine does not know), and the event-driven
 * refresh (no polling, ≤ 4 snapshots per second).
 */
import assert from 'node:assert/strict';
import type { Disposable, EngineClient, EngineConnectionState } from '../../src/vscode/engine-client';
import { buildSnapshot, RateMeter, type SnapshotInputs, type StatusInput } from '../../src/vscode/status/status-model';
import { StatusSource, type Timers } from '../../src/vscode/status/status-source';

const LIB = '11111111-1111-4111-8111-111111111111';
const DEV = '22222222-2222-4222-8222-222222222222';
const PEER = '33333333-3333-4333-8333-333333333333';

function statusInput(over: Partial<StatusInput['libraries'][number]> = {}): StatusInput {
  return {
    service: { running: true, pid: 1, publicKey: 'ab'.repeat(32), network: { state: 'up', announced: true, error: null, bootstrap: ['127.0.0.1:49737'] }, problems: [] },
    libraries: [
      {
        library: LIB,
        name: 'Home',
        device: DEV,
        state: 'ready',
        backfilled: true,
        backfill: null,
        partners: [{ device: PEER, name: 'laptop', publicKey: null, online: true, ready: true, lastSeen: 1000 }],
        logSize: 7,
        parked: 0,
        counts: { entries: 3 },
        ...over,
      },
    ],
  };
}

function inputs(over: Partial<SnapshotInputs> = {}): SnapshotInputs {
  return {
    now: 10_000,
    connection: 'owner',
    connectionError: null,
    preferred: null,
    status: { ok: true, value: statusInput() },
    peers: null,
    activity: null,
    rate: { rate: null, etaSeconds: null },
    ...over,
  };
}

const unknown = (method: string) => ({ ok: false as const, code: 'ERR_UNKNOWN_METHOD', message: `Unknown method "${method}"` });

describe('status view model', () => {
  describe('RateMeter', () => {
    it('measures rows per second over the window and the time left at that rate', () => {
      const m = new RateMeter(10_000, 500);
      // 1000 rows/s for 5 s, 100k announced.
      for (let t = 0; t <= 5000; t += 250) m.add({ at: t, received: t, announced: 100_000, done: false });
      const e = m.estimate(5000);
      assert.equal(e.rate, 1000);
      assert.equal(e.etaSeconds, (100_000 - 5000) / 1000);
    });

    it('uses only the samples inside the sliding window', () => {
      const m = new RateMeter(2000, 500);
      // Slow at first (100 rows/s), then fast (2000 rows/s): the window sees only the fast part.
      for (let t = 0; t <= 10_000; t += 500) m.add({ at: t, received: t / 10, announced: 1e6, done: false });
      for (let t = 10_500; t <= 14_000; t += 500) m.add({ at: t, received: 1000 + (t - 10_000) * 2, announced: 1e6, done: false });
      const e = m.estimate(14_000);
      assert.equal(e.rate, 2000);
      assert.equal(e.etaSeconds, (1e6 - 9000) / 2000);
    });

    it('has no rate from a single sample or too short a span', () => {
      const m = new RateMeter(10_000, 500);
      assert.deepEqual(m.estimate(0), { rate: null, etaSeconds: null });
      m.add({ at: 0, received: 10, announced: 100, done: false });
      assert.deepEqual(m.estimate(0), { rate: null, etaSeconds: null });
      m.add({ at: 100, received: 20, announced: 100, done: false });
      assert.deepEqual(m.estimate(100), { rate: null, etaSeconds: null });
    });

    it('forgets a stalled backfill once its samples leave the window', () => {
      const m = new RateMeter(3000, 500);
      m.add({ at: 0, received: 0, announced: 100, done: false });
      m.add({ at: 1000, received: 50, announced: 100, done: false });
      assert.equal(m.estimate(1000).rate, 50);
      assert.deepEqual(m.estimate(10_000), { rate: null, etaSeconds: null });
    });

    it('reports no ETA when nothing arrives within the window (rate 0)', () => {
      const m = new RateMeter(10_000, 500);
      m.add({ at: 0, received: 50, announced: 100, done: false });
      m.add({ at: 2000, received: 50, announced: 100, done: false });
      assert.deepEqual(m.estimate(2000), { rate: 0, etaSeconds: null });
    });

    it('starts afresh on a new round (fewer rows received) and says 0 s left when done', () => {
      const m = new RateMeter(10_000, 500);
      m.add({ at: 0, received: 0, announced: 1000, done: false });
      m.add({ at: 1000, received: 1000, announced: 1000, done: true });
      assert.deepEqual(m.estimate(1000), { rate: 1000, etaSeconds: 0 });
      m.add({ at: 2000, received: 10, announced: 500, done: false });
      assert.deepEqual(m.estimate(2000), { rate: null, etaSeconds: null });
      m.add({ at: 3000, received: 110, announced: 500, done: false });
      assert.deepEqual(m.estimate(3000), { rate: 100, etaSeconds: 3.9 });
    });
  });

  describe('buildSnapshot', () => {
    it('says the engine is starting, with every section waiting, when nothing answered', () => {
      const s = buildSnapshot(inputs({ connection: 'starting', status: null }));
      assert.equal(s.engine.available, false);
      assert.equal(s.engine.message, 'Engine starting…');
      assert.equal(s.library, null);
      assert.equal(s.backfill, null);
      assert.deepEqual(s.libraries, []);
      assert.equal(s.states.filter((x) => x.current).length, 0);
      assert.equal(s.states.length, 7);
      assert.equal(s.peers.available, false);
      assert.equal(s.received.available, false);
      assert.equal(s.received.note, 'Waiting for the engine.');
      JSON.stringify(s);
    });

    it('shows a library whose journal failed as Failed, with the reason', () => {
      const status = statusInput();
      status.libraries = [{ ...status.libraries[0], state: 'failed', error: "this device's journal could not be written (ENOSPC: no space left on device)" }];
      const s = buildSnapshot(inputs({ status: { ok: true, value: status } }));
      assert.deepEqual(s.states.filter((x) => x.current).map((x) => x.state), ['failed']);
      assert.match(String(s.library?.error), /ENOSPC/);
    });

    it('gives the reason when the engine is not available', () => {
      const s = buildSnapshot(inputs({ connection: 'stopped', status: { ok: false, code: 'ERR_FAILED', message: 'The engine is not available yet' } }));
      assert.equal(s.engine.message, 'Engine not available: The engine is not available yet');
      const f = buildSnapshot(inputs({ connection: 'failed', connectionError: 'no udx-native prebuild for this platform', status: null }));
      assert.equal(f.engine.message, 'Engine not available: no udx-native prebuild for this platform');
    });

    it('says there is no library yet when the engine has none', () => {
      const s = buildSnapshot(inputs({ status: { ok: true, value: { ...statusInput(), libraries: [] } } }));
      assert.equal(s.engine.available, true);
      assert.equal(s.library, null);
      assert.equal(s.peers.note, 'No library yet.');
      assert.equal(s.errors.note, 'No library yet.');
      assert.equal(s.network?.state, 'up');
    });

    it('falls back to the partners of status and its log size when peers and activity are unknown methods', () => {
      const s = buildSnapshot(inputs({ peers: unknown('peers'), activity: unknown('activity') }));
      assert.equal(s.engine.available, true);
      assert.equal(s.peers.source, 'status');
      assert.equal(s.peers.available, true);
      assert.equal(s.peers.note, null);
      assert.deepEqual(
        s.peers.items.map((p) => [p.name, p.state, p.online, p.lag]),
        [['laptop', 'ready', true, null]],
      );
      assert.deepEqual(s.log, { size: 7, horizon: null, origins: [], prunedAt: null, prunedEntries: null, pruneAbsentAfterMs: null });
      for (const sec of [s.received, s.sent, s.refused, s.errors]) {
        assert.equal(sec.available, false);
        assert.match(sec.note ?? '', /^This engine does not report /);
      }
      assert.equal(s.states.find((x) => x.current)?.state, 'ready');
    });

    it('merges peers and activity, and prefers live event data to an older status answer', () => {
      const s = buildSnapshot(
        inputs({
          status: { ok: true, value: statusInput({ state: 'ready', backfill: { received: 10, announced: 10, serving: 0, done: true, models: {} } }) },
          peers: {
            ok: true,
            value: [{ device: PEER, name: null, publicKey: 'x', online: true, ready: false, state: 'backfilling', lastSeen: 5, backfill: { received: 25, announced: 100 }, lag: 3, paused: false } as never],
          },
          activity: {
            ok: true,
            value: {
              received: [{ at: 1, device: PEER, name: 'laptop', model: 'tag', count: 2 }],
              sent: [],
              refused: [{ at: 2, device: PEER, name: 'laptop', reason: 'clock ahead', skewMs: 400_000 }],
              errors: [{ at: 3, message: 'boom' }],
              log: { size: 9, horizon: 1234, origins: [{ device: PEER, name: null, pruned: 1234 }], prunedAt: 1_700_000_000_000, prunedEntries: 1234 },
            },
          },
          liveState: 'backfilling',
          liveProgress: { received: 50, announced: 200, serving: 1, done: false, models: { entry: { received: 50, announced: 200 } } },
          liveNetwork: { state: 'suspended', error: null },
          rate: { rate: 25, etaSeconds: 6 },
          deviceName: 'desk',
        }),
      );
      assert.equal(s.library?.deviceName, 'desk');
      assert.equal(s.library?.state, 'backfilling');
      assert.equal(s.states.find((x) => x.current)?.state, 'backfilling');
      assert.equal(s.network?.state, 'suspended');
      assert.deepEqual(
        { ...s.backfill, models: undefined },
        { received: 50, announced: 200, percent: 25, serving: 1, done: false, rate: 25, etaSeconds: 6, models: undefined },
      );
      assert.deepEqual(s.backfill?.models, [{ model: 'entry', received: 50, announced: 200 }]);
      assert.equal(s.peers.source, 'peers');
      assert.deepEqual(s.peers.items[0], {
        device: PEER,
        name: PEER.slice(0, 8),
        online: true,
        state: 'backfilling',
        lastSeen: 5,
        backfill: { received: 25, announced: 100, percent: 25 },
        lag: 3,
        holdsLogUntil: null,
        holdsLog: true,
        cutOffUntil: null,
        verified: null,
        paused: false,
      });
      assert.deepEqual(s.log, { size: 9, horizon: 1234, origins: [{ device: PEER, name: PEER.slice(0, 8), pruned: 1234 }], prunedAt: 1_700_000_000_000, prunedEntries: 1234, pruneAbsentAfterMs: null });
      assert.equal(s.received.items.length, 1);
      assert.equal(s.sent.available, true);
      assert.equal(s.sent.items.length, 0);
      assert.equal(s.refused.items[0]?.skewMs, 400_000);
      assert.equal(s.errors.items[0]?.message, 'boom');
    });

    it('shows per partner the log entries it holds back and until when, and the absence horizon (issue 11, defect 6)', () => {
      const DAY = 86_400_000;
      const now = 100 * DAY;
      const OLD = '44444444-4444-4444-8444-444444444444';
      const NEW = '55555555-5555-4555-8555-555555555555';
      const peer = (device: string, name: string, online: boolean, lastSeen: number, lag: number) => ({ device, name, publicKey: null, online, ready: online, state: online ? 'ready' : 'offline', lastSeen, backfill: null, lag, holdsLogUntil: lastSeen + 30 * DAY, paused: false });
      const s = buildSnapshot(
        inputs({
          now,
          status: { ok: true, value: statusInput({ pruneAbsentAfterMs: 30 * DAY, logSize: 40 }) },
          peers: { ok: true, value: [peer(PEER, 'desktop', true, now, 2), peer(NEW, 'laptop', false, now - 3 * DAY, 40), peer(OLD, 'old', false, now - 31 * DAY, 12)] },
        }),
      );
      assert.equal(s.log.pruneAbsentAfterMs, 30 * DAY);
      assert.deepEqual(
        s.peers.items.map((p) => [p.name, p.lag, p.holdsLogUntil, p.holdsLog]),
        [
          ['desktop', 2, now + 30 * DAY, true],
          ['laptop', 40, now + 27 * DAY, true],
          ['old', 12, now - DAY, false],
        ],
      );
      // From the partners of status when the engine has no peers method, too.
      const partners = [{ device: OLD, name: 'old', publicKey: null, online: false, ready: false, lastSeen: now - 31 * DAY, lag: 12, holdsLogUntil: now - DAY }];
      const fallback = buildSnapshot(inputs({ now, status: { ok: true, value: statusInput({ pruneAbsentAfterMs: 30 * DAY, partners }) }, peers: unknown('peers') }));
      assert.deepEqual(
        fallback.peers.items.map((p) => [p.lag, p.holdsLogUntil, p.holdsLog]),
        [[12, now - DAY, false]],
      );
      // No horizon: every partner holds the log back however long it is away.
      const never = buildSnapshot(inputs({ now, status: { ok: true, value: statusInput({ pruneAbsentAfterMs: null }) }, peers: { ok: true, value: [{ ...peer(OLD, 'old', false, 0, 5), holdsLogUntil: null }] } }));
      assert.equal(never.log.pruneAbsentAfterMs, 'none');
      assert.deepEqual([never.peers.items[0].holdsLogUntil, never.peers.items[0].holdsLog], [null, true]);
      // A partner cut off for sending bad records: until when (a time already past is no cut-off).
      const cut = buildSnapshot(inputs({ now, peers: { ok: true, value: [{ ...peer(OLD, 'old', false, 0, 5), cutOffUntil: now + 60_000 }, { ...peer(NEW, 'new', false, 0, 5), cutOffUntil: now - 1 }] } }));
      assert.deepEqual(cut.peers.items.map((p) => p.cutOffUntil), [now + 60_000, null]);
      // An engine that reports none of this: unknown, not guessed.
      const older = buildSnapshot(inputs({ now, peers: { ok: true, value: [{ device: OLD, name: 'old', online: false, lastSeen: 0 }] } }));
      assert.equal(older.log.pruneAbsentAfterMs, null);
      assert.deepEqual([older.peers.items[0].lag, older.peers.items[0].holdsLogUntil, older.peers.items[0].holdsLog], [null, null, null]);
    });

    it('shows per partner whether its files held here are exactly what it signed, from peers or from status', () => {
      const NEW = '55555555-5555-4555-8555-555555555555';
      const OLD = '44444444-4444-4444-8444-444444444444';
      const peer = (device: string, name: string, verified: unknown) => ({ device, name, publicKey: null, online: true, ready: true, state: 'ready', lastSeen: 5, backfill: null, lag: 0, holdsLogUntil: null, paused: false, verified: verified as never });
      const s = buildSnapshot(
        inputs({
          peers: {
            ok: true,
            value: [
              peer(PEER, 'good', { state: 'verified', since: 4_000, rows: 12, sealedRows: 12 }),
              peer(NEW, 'forged', { state: 'mismatch', since: 4_000, rows: 3, sealedRows: 4 }),
              peer(OLD, 'older', undefined),
            ],
          },
        }),
      );
      assert.deepEqual(
        s.peers.items.map((p) => [p.name, p.verified]),
        [
          ['good', { state: 'verified', since: 4_000, rows: 12, sealedRows: 12 }],
          // A since that is not of a verified state is no since.
          ['forged', { state: 'mismatch', since: null, rows: 3, sealedRows: 4 }],
          ['older', null],
        ],
      );
      const partners = [{ device: PEER, name: 'laptop', publicKey: null, online: false, ready: false, lastSeen: 1, verified: { state: 'behind', since: null, rows: 1, sealedRows: 5 } }];
      const fallback = buildSnapshot(inputs({ status: { ok: true, value: statusInput({ partners }) }, peers: unknown('peers') }));
      assert.deepEqual(fallback.peers.items[0].verified, { state: 'behind', since: null, rows: 1, sealedRows: 5 });
      const garbled = buildSnapshot(inputs({ peers: { ok: true, value: [peer(PEER, 'x', { state: 'verified', since: 'soon', rows: null })] } }));
      assert.deepEqual(garbled.peers.items[0].verified, { state: 'verified', since: null, rows: 0, sealedRows: null });
    });

    it('shows the preferred library when it exists, else the first', () => {
      const two: StatusInput = { ...statusInput(), libraries: [statusInput().libraries[0]!, { ...statusInput().libraries[0]!, library: 'L2', name: 'Work' }] };
      assert.equal(buildSnapshot(inputs({ status: { ok: true, value: two }, preferred: 'L2' })).library?.name, 'Work');
      assert.equal(buildSnapshot(inputs({ status: { ok: true, value: two }, preferred: 'gone' })).library?.name, 'Home');
      assert.equal(buildSnapshot(inputs({ status: { ok: true, value: two } })).libraries.length, 2);
    });

    it('reports a failing peers call beside the fallback list', () => {
      const s = buildSnapshot(inputs({ peers: { ok: false, code: 'ERR_FAILED', message: 'database closed' } }));
      assert.equal(s.peers.source, 'status');
      assert.equal(s.peers.note, 'Per-peer progress unavailable: database closed');
    });
  });
});

// ---- the feed ----

class FakeTimers implements Timers {
  t = 0;
  private queue: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.queue.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.queue = this.queue.filter((q) => q.id !== h);
  }
  get pending(): number {
    return this.queue.length;
  }
  /** Runs every timer due up to now + ms, letting the promises they start settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      this.queue.sort((a, b) => a.at - b.at);
      const next = this.queue[0];
      if (!next || next.at > end) break;
      this.queue.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}

class FakeClient implements EngineClient {
  connection: EngineConnectionState = 'owner';
  connectionError: string | null = null;
  calls: string[] = [];
  handlers: Record<string, (params?: Record<string, unknown>) => unknown> = {};
  private events = new Set<(name: string, data: unknown) => void>();
  private conns = new Set<(s: EngineConnectionState) => void>();
  onConnection(l: (s: EngineConnectionState) => void): Disposable {
    this.conns.add(l);
    return { dispose: () => this.conns.delete(l) };
  }
  onEvent(l: (name: string, data: unknown) => void): Disposable {
    this.events.add(l);
    return { dispose: () => this.events.delete(l) };
  }
  async call<T>(method: string, params?: Record<string, unknown>): Promise<T> {
    this.calls.push(method);
    const h = this.handlers[method];
    if (!h) throw Object.assign(new Error(`Unknown method "${method}"`), { code: 'ERR_UNKNOWN_METHOD' });
    return h(params) as T;
  }
  emit(name: string, data: unknown): void {
    for (const l of this.events) l(name, data);
  }
  setConnection(s: EngineConnectionState, error: string | null = null): void {
    this.connection = s;
    this.connectionError = error;
    for (const l of this.conns) l(s);
  }
}

describe('status feed (StatusSource)', () => {
  it('asks nothing until a panel is active, then status first and the rest with the library', async () => {
    const timers = new FakeTimers();
    const client = new FakeClient();
    client.handlers.status = () => statusInput();
    const params: Record<string, unknown>[] = [];
    client.handlers.peers = (p) => (params.push(p ?? {}), []);
    const snaps: unknown[] = [];
    const src = new StatusSource(client, (s) => snaps.push(s), { timers });
    client.emit('changed', { library: LIB });
    await timers.advance(5000);
    assert.deepEqual(client.calls, []);
    assert.equal(timers.pending, 0);
    src.setActive(true);
    await timers.advance(10);
    assert.deepEqual(client.calls.slice(0, 1), ['status']);
    assert.deepEqual(new Set(client.calls), new Set(['status', 'peers', 'activity', 'devices']));
    assert.equal(params[0]?.library, LIB);
    const last = src.snapshot;
    assert.equal(last.engine.available, true);
    assert.equal(last.peers.source, 'peers');
    assert.match(last.received.note ?? '', /does not report/);
    // Idle: no timers left, no polling.
    assert.equal(timers.pending, 0);
    src.dispose();
  });

  it('shows a calm unavailable state while every call rejects, and refreshes when the connection changes', async () => {
    const timers = new FakeTimers();
    const client = new FakeClient();
    client.connection = 'stopped';
    client.handlers.status = () => {
      throw new Error('The engine is not available yet');
    };
    const errors: string[] = [];
    const src = new StatusSource(client, () => {}, { timers, onError: (m) => errors.push(m) });
    src.setActive(true);
    await timers.advance(10);
    assert.equal(src.snapshot.engine.available, false);
    assert.equal(src.snapshot.engine.message, 'Engine not available: The engine is not available yet');
    assert.deepEqual(client.calls, ['status']);
    assert.deepEqual(errors, []);
    client.handlers.status = () => statusInput();
    client.setConnection('owner');
    await timers.advance(300);
    assert.equal(src.snapshot.engine.available, true);
    assert.equal(src.snapshot.library?.name, 'Home');
    src.dispose();
  });

  it('coalesces a burst of events into at most 4 snapshots per second, and asks status at most every 2 s and peers every second', async () => {
    const timers = new FakeTimers();
    const client = new FakeClient();
    let progress: StatusInput['libraries'][number]['backfill'] = null;
    client.handlers.status = () => statusInput({ state: 'backfilling', backfill: progress });
    client.handlers.peers = () => [];
    client.handlers.activity = () => ({ received: [], sent: [], refused: [], errors: [], log: { size: 0, horizon: null } });
    client.handlers.devices = () => [{ device: DEV, name: 'desk', self: true }];
    const at: number[] = [];
    const src = new StatusSource(client, () => at.push(timers.now()), { timers });
    src.setActive(true);
    await timers.advance(10);
    assert.equal(src.snapshot.library?.deviceName, 'desk');
    client.calls = [];
    at.length = 0;
    // 3 s of a backfill: a progress and a changed event every 10 ms.
    for (let t = 0; t < 3000; t += 10) {
      progress = { received: t * 100, announced: 1_000_000, serving: 1, done: false, models: {} };
      client.emit('progress', { library: LIB, progress });
      client.emit('changed', { library: LIB });
      await timers.advance(10);
    }
    await timers.advance(1000);
    for (let i = 1; i < at.length; i++) assert.ok(at[i]! - at[i - 1]! >= 250, `snapshots ${at[i - 1]} and ${at[i]} closer than 250 ms`);
    // 4 a second while events keep coming (3 s of them): not fewer, because a later timer held one back.
    assert.ok(at.length >= 12, `only ${at.length} snapshots in 3 s of events: ${at.join(",")}`);
    const statusCalls = client.calls.filter((c) => c === 'status').length;
    assert.ok(statusCalls >= 1 && statusCalls <= 3, `${statusCalls} status calls in ~4 s (at most one per 2 s while busy)`);
    const peersCalls = client.calls.filter((c) => c === 'peers').length;
    assert.ok(peersCalls >= 2 && peersCalls <= 5, `${peersCalls} peers calls in ~4 s (at most one a second while busy)`);
    // devices is asked once per library, not on every refresh.
    assert.equal(client.calls.filter((c) => c === 'devices').length, 0);
    const b = src.snapshot.backfill;
    assert.ok(b);
    assert.equal(b.rate, 10_000 * 10); // 100 rows per ms
    assert.ok(b.etaSeconds !== null && b.etaSeconds > 0);
    assert.equal(timers.pending, 0);
    src.dispose();
  });

  it('asks peers and activity as soon as a library appears (a libraries event)', async () => {
    const timers = new FakeTimers();
    const client = new FakeClient();
    let libs: StatusInput['libraries'] = [];
    client.handlers.status = () => ({ ...statusInput(), libraries: libs });
    client.handlers.peers = () => [];
    client.handlers.activity = () => ({ received: [], sent: [], refused: [], errors: [], log: { size: 0, horizon: null } });
    const src = new StatusSource(client, () => {}, { timers });
    src.setActive(true);
    await timers.advance(10);
    assert.deepEqual(client.calls, ['status']);
    assert.equal(src.snapshot.peers.note, 'No library yet.');
    libs = statusInput().libraries;
    client.emit('libraries', { libraries: [{ id: LIB, name: 'Home' }] });
    await timers.advance(300);
    assert.deepEqual(client.calls.slice(1, 2), ['status']);
    assert.deepEqual(new Set(client.calls.slice(2)), new Set(['peers', 'activity', 'devices']));
    assert.equal(src.snapshot.peers.source, 'peers');
    assert.equal(src.snapshot.received.available, true);
    src.dispose();
  });

  it('ignores events of other libraries for the live state, and stops asking when inactive', async () => {
    const timers = new FakeTimers();
    const client = new FakeClient();
    client.handlers.status = () => statusInput();
    const src = new StatusSource(client, () => {}, { timers });
    src.setActive(true);
    await timers.advance(10);
    client.emit('state', { library: 'other', state: 'paused' });
    await timers.advance(300);
    assert.equal(src.snapshot.library?.state, 'ready');
    client.emit('state', { library: LIB, state: 'paused' });
    await timers.advance(300);
    assert.equal(src.snapshot.library?.state, 'paused');
    src.setActive(false);
    client.calls = [];
    client.emit('peer', { library: LIB, device: PEER, name: 'laptop', up: false });
    await timers.advance(2000);
    assert.deepEqual(client.calls, []);
    src.dispose();
  });
});
