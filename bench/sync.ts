/**
 * bench:sync — peer sync in real time, in one process, over the in-memory
 * transport (src/engine/memory-transport.ts), each figure beside its
 * baseline measured in the same run. Last line: one JSON object.
 *
 * - Backfill: a serving peer holds BENCH_N entries (default 1,000,000); a
 *   fresh peer syncs everything from it with PeerSync (real scheduler,
 *   default options but the page size) into its durable library. Timed from
 *   the fresh peer's `sync.start()` until it is 'ready' holding all N
 *   entries (then checked: same digest as the server); compared with plain
 *   sql.js inserts of the same rows, one transaction per page
 *   (bench/raw-insert.ts, in a separate process as in bench:store).
 *   `backfillRowsPerSec`: the serving peer runs on a worker thread of its
 *   own with the engine's memory limits, linked by a MessagePort (as it runs
 *   on a machine of its own); the same run with both peers on one thread
 *   over the in-memory hub is printed beside it (there the server's reads
 *   and encoding take turns with the fresh peer's writes).
 *   The serving peer relays a third device's tree (bench/entries.ts), as a
 *   desktop relays a laptop's: its rows are applied with `applyState`, as
 *   they would have arrived, and the serving peer's watermarks vouch for
 *   them (without that the fresh peer could not advance its own). This is
 *   the fast way to fill it, and the realistic one for a relay.
 * - Live: 5 peers, all partners of each other, synced and ready; one commits
 *   small changes one at a time, a few ms apart (a tag create, a note
 *   update, a device-owned location put, in turn); latency is from just
 *   before the commit call to each other peer's 'applied' event with it,
 *   over all (commit, receiver) pairs. Beside it: the sender's own durable
 *   commit and one transport hop, the two parts of the floor.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ApplyReport } from '../src/engine/apply';
import type { Hlc } from '../src/core/hlc';
import { newId, type Id } from '../src/core/ids';
import { Library } from '../src/engine/library';
import { checkSignature } from '../src/engine/apply';
import { changeSigningBytes } from '../src/engine/records';
import { registry } from '../src/engine/registry';
import { deviceKeyPair, sign } from '../src/core/signing';
import type { SharedChange } from '../src/models/model';
import { MemoryHub } from '../src/engine/memory-transport';
import { DEFAULT_SYNC_OPTIONS, PeerSync } from '../src/sync/peer-sync';
import type { Link, Transport } from '../src/engine/transport';
import { ENGINE_NODE_FLAGS, ENGINE_RESOURCE_LIMITS } from '../src/worker/limits';
import { isMainThread, MessageChannel, parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';
import { PortTransport } from './port-transport';
import { EntryTree, fillRelayedTree } from './entries';
import { decodeAnchors, encodeAnchors, type Anchor } from '../src/engine/membership';
import { rawInsert } from './raw-insert';

const N = Number(process.env.BENCH_N ?? 1_000_000);
/** Catch-up page size (rows per state request). */
const PAGE_SIZE = Number(process.env.BENCH_PAGE ?? DEFAULT_SYNC_OPTIONS.pageSize);
/** Pages the serving peer is filled with (as bench:store applies them). */
const PEERS = 5;
const LIVE_COMMITS = Number(process.env.BENCH_LIVE_COMMITS ?? 500);
const LIVE_WARMUP = 60;
const LIVE_SPACING_MS = 4;

const TARGET_BACKFILL_VS_RAW = 0.6;
const TARGET_P50_MS = 5;
const TARGET_P99_MS = 50;

const root = process.env.BENCH_ROOT ?? mkdtempSync(path.join(os.tmpdir(), 'lls-bench-sync-'));
const say = (s: string) => process.stdout.write(s + '\n');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const ms2 = (x: number) => x.toFixed(2);

/** Nearest-rank percentile of an ascending list. */
function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const stampKey = (h: Hlc) => `${h.ms}.${h.counter}`;

async function until(what: string, timeoutMs: number, done: () => boolean): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

// ---------------------------------------------------------------- backfill

interface BackfillResult {
  rowsPerSec: number;
  ms: number;
  rssMB: number;
}

/** A serving peer holding the third device's tree, as bench:store fills it, vouching for all of it. */
async function servingPeer(dir: string, libraryId: Id, secret: Uint8Array): Promise<{ server: Library; fillMs: number }> {
  const server = await Library.create({ dataDir: dir, name: 'bench', libraryId, secret, deviceName: 'server' });
  await server.ready();
  const t0 = performance.now();
  await fillRelayedTree(server, new EntryTree(N));
  return { server, fillMs: performance.now() - t0 };
}

/**
 * Times a fresh peer's backfill from `serverId` over `transport`, from its
 * sync.start() until it is ready, then checks it holds every row (digest
 * equal to `serverDigest()`).
 */
async function timeBackfill(
  dir: string,
  libraryId: Id,
  secret: Uint8Array,
  serverId: Id,
  anchors: Anchor[],
  transport: (freshId: Id) => Transport,
  serverDigest: () => Promise<string>,
  beforeStart: (freshId: Id) => Promise<void>,
): Promise<BackfillResult> {
  const fresh = await Library.create({ dataDir: dir, name: 'bench', libraryId, secret, deviceName: 'fresh' });
  await fresh.ready();
  // As pairing does: the joiner pins the library's anchors from its inviter (the server founded its membership).
  await fresh.pinAnchors(anchors);
  await fresh.addPartner(serverId, 'server');
  await beforeStart(fresh.deviceId);
  const freshSync = new PeerSync(fresh, transport(fresh.deviceId), { pageSize: PAGE_SIZE });
  const errors: Error[] = [];
  freshSync.on('error', (e) => errors.push(e.error));
  const timeoutMs = Math.max(120_000, N / 2);
  const ready = new Promise<void>((resolve, reject) => {
    freshSync.on('state', (s) => s === 'ready' && resolve());
    freshSync.on('error', (e) => reject(new Error(`backfill failed: ${e.error.message}`)));
    setTimeout(() => reject(new Error(`backfill not done after ${timeoutMs / 1000} s (state ${freshSync.state})`)), timeoutMs).unref();
  });
  const profile = process.env.BENCH_PROFILE ? await startProfile() : null;
  const start = performance.now();
  freshSync.start();
  await ready;
  const ms = performance.now() - start;
  if (profile) await profile(process.env.BENCH_PROFILE!);
  const rssMB = process.resourceUsage().maxRSS / 1024; // before the checks below, which read every row at once
  if (errors.length) throw new Error(`backfill failed: ${errors.map((e) => e.message).join('; ')}`);
  const entries = fresh.counts().entry;
  if (entries !== N) throw new Error(`the fresh peer is ready with ${entries} of ${N} entries`);
  if (fresh.parkedCount() !== 0) throw new Error(`the fresh peer has ${fresh.parkedCount()} parked records`);
  if (fresh.digest() !== (await serverDigest())) throw new Error('the fresh peer is ready but its rows differ from the serving peer’s');
  await freshSync.stop();
  await fresh.close();
  return { rowsPerSec: N / (ms / 1000), ms, rssMB };
}

/** Both peers on this thread, over the in-memory hub: the serving peer's reads and encoding compete with the fresh peer's writes. */
async function backfillSameThread(libraryId: Id, secret: Uint8Array): Promise<BackfillResult> {
  const hub = new MemoryHub();
  const { server, fillMs } = await servingPeer(path.join(root, 'server-1'), libraryId, secret);
  say(`serving peer filled with ${N.toLocaleString('en-US')} entries of a third device in ${(fillMs / 1000).toFixed(1)} s (not timed)`);
  let serverSync: PeerSync | null = null;
  const result = await timeBackfill(path.join(root, 'fresh-1'), libraryId, secret, server.deviceId, server.anchors(), (freshId) => hub.transport(freshId), async () => server.digest(), async (freshId) => {
    await server.addPartner(freshId, 'fresh');
    serverSync = new PeerSync(server, hub.transport(server.deviceId), { pageSize: PAGE_SIZE });
    serverSync.start();
  });
  await serverSync!.stop();
  await server.close();
  return result;
}

type ServerMessage = { type: 'filled'; device: Id; anchors: string; fillMs: number } | { type: 'digest'; digest: string } | { type: 'stopped' };

/**
 * The serving peer on a worker thread of its own (as on a machine of its
 * own, with the engine's memory limits), over a MessagePort: what a device
 * backfilling from another one sees.
 */
async function backfillAcrossThreads(libraryId: Id, secret: Uint8Array): Promise<BackfillResult> {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(__filename, {
    workerData: { role: 'serve', dir: path.join(root, 'server-2'), libraryId, secret, port: port2 },
    transferList: [port2],
    resourceLimits: ENGINE_RESOURCE_LIMITS,
  });
  const next = <T extends ServerMessage['type']>(type: T) =>
    new Promise<Extract<ServerMessage, { type: T }>>((resolve, reject) => {
      const onMessage = (m: ServerMessage) => {
        if (m.type !== type) return;
        worker.off('message', onMessage);
        resolve(m as Extract<ServerMessage, { type: T }>);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  const filled = await next('filled');
  say(`serving peer (own thread) filled with ${N.toLocaleString('en-US')} entries of a third device in ${(filled.fillMs / 1000).toFixed(1)} s (not timed)`);
  const transport = new PortTransport(port1, filled.device);
  const result = await timeBackfill(
    path.join(root, 'fresh-2'),
    libraryId,
    secret,
    filled.device,
    decodeAnchors(filled.anchors),
    () => transport,
    async () => {
      const d = next('digest');
      worker.postMessage({ type: 'digest' });
      return (await d).digest;
    },
    async (freshId) => worker.postMessage({ type: 'start', fresh: freshId }),
  );
  const stopped = next('stopped');
  worker.postMessage({ type: 'stop' });
  await stopped;
  await worker.terminate();
  return result;
}

/** The worker side of backfillAcrossThreads. */
async function serve(data: { dir: string; libraryId: Id; secret: Uint8Array; port: MessagePort }): Promise<void> {
  const { server, fillMs } = await servingPeer(data.dir, data.libraryId, data.secret);
  let sync: PeerSync | null = null;
  parentPort!.on('message', async (m: { type: 'start'; fresh: Id } | { type: 'digest' } | { type: 'stop' }) => {
    if (m.type === 'start') {
      await server.addPartner(m.fresh, 'fresh');
      sync = new PeerSync(server, new PortTransport(data.port, m.fresh), { pageSize: PAGE_SIZE });
      sync.start();
    } else if (m.type === 'digest') parentPort!.postMessage({ type: 'digest', digest: server.digest() } satisfies ServerMessage);
    else {
      await sync?.stop();
      await server.close();
      parentPort!.postMessage({ type: 'stopped' } satisfies ServerMessage);
    }
  });
  parentPort!.postMessage({ type: 'filled', device: server.deviceId, anchors: encodeAnchors(server.anchors()), fillMs } satisfies ServerMessage);
}

/** BENCH_PROFILE=file.cpuprofile: a CPU profile and an allocation sample of the backfill alone (open them in Chrome DevTools). */
async function startProfile(): Promise<(file: string) => Promise<void>> {
  const { Session } = await import('node:inspector');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<unknown>((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
  await post('Profiler.enable');
  await post('Profiler.start');
  await post('HeapProfiler.enable');
  await post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return async (file) => {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    writeFileSync(file, JSON.stringify(profile));
    const heap = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
    writeFileSync(file.replace(/\.cpuprofile$/, '') + '.heapprofile', JSON.stringify(heap.profile));
    session.disconnect();
    say(`CPU profile of the backfill: ${file}; sampled allocations beside it (.heapprofile)`);
  };
}

// ---------------------------------------------------------------- live changes

const KINDS = ['tag create', 'note update', 'location put'] as const;
type Kind = (typeof KINDS)[number];

interface LiveResult {
  latencies: number[];
  byKind: Record<Kind, number[]>;
  commitMs: number[];
  hopMs: number[];
  commits: number;
  /** Sends (live changes, acks, Hellos) that waited for this device's journal to be durable: how many, and the wait in all. */
  held: { count: number; ms: number };
}

async function live(libraryId: Id, secret: Uint8Array): Promise<LiveResult> {
  const hub = new MemoryHub();
  const libs: Library[] = [];
  for (let i = 0; i < PEERS; i++) {
    const lib = await Library.create({ dataDir: path.join(root, `live-${i}`), name: 'bench', libraryId, secret, deviceName: `peer ${i}` });
    await lib.ready();
    libs.push(lib);
  }
  for (const a of libs) for (const b of libs) if (a !== b) await a.addPartner(b.deviceId);
  const syncs = libs.map((lib) => new PeerSync(lib, hub.transport(lib.deviceId)));
  const errors: Error[] = [];
  for (const s of syncs) {
    s.on('error', (e) => errors.push(e.error));
    s.start();
  }
  await until('5 peers to be ready', 30_000, () => syncs.every((s) => s.state === 'ready' && s.readyPeers().length === PEERS - 1));

  const [sender, ...receivers] = libs;
  // What each receiver applied from the sender, by stamp: when.
  const arrivals = new Map<string, number[]>();
  for (const r of receivers) {
    r.on('applied', (report: ApplyReport) => {
      const at = performance.now();
      const note = (h: Hlc) => {
        const key = stampKey(h);
        const list = arrivals.get(key);
        if (list) list.push(at);
        else arrivals.set(key, [at]);
      };
      for (const ch of report.shared) note(ch.hlc);
      for (const recs of report.state.values()) for (const rec of recs) note(rec.hlc);
    });
  }

  const wk = 'github.com/acme/app';
  const [loc] = await sender.commitDeviceOwned('location', [{ data: locationData(sender.deviceId, 0) }]);
  const [meta] = await sender.commitShared([{ model: 'user_metadata', op: 'create', data: { workspace_key: wk, path: 'src/main.ts', note: 'start' } }]);
  // One change per commit, in turn (see KINDS).
  const commit = (i: number): Promise<Hlc> => {
    switch (i % 3) {
      case 0:
        return sender.commitShared([{ model: 'tag', op: 'create', data: { name: `tag ${i}`, color: 'red', icon: null, description: null, namespace: null } }]).then((c) => c[0].hlc);
      case 1:
        return sender.commitShared([{ model: 'user_metadata', op: 'update', uuid: meta.uuid, data: { note: `note ${i}` } }]).then((c) => c[0].hlc);
      default:
        return sender.commitDeviceOwned('location', [{ uuid: loc.uuid, data: locationData(sender.deviceId, i) }]).then((r) => r[0].hlc);
    }
  };

  const sent = new Map<string, { before: number; kind: Kind }>();
  const commitMs: number[] = [];
  const total = LIVE_WARMUP + LIVE_COMMITS;
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + i * LIVE_SPACING_MS;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const before = performance.now();
    const hlc = await commit(i);
    if (i >= LIVE_WARMUP) {
      // The first commits warm up the JIT and the paths: not measured.
      sent.set(stampKey(hlc), { before, kind: KINDS[i % 3] });
      commitMs.push(performance.now() - before);
    }
  }
  const expected = (PEERS - 1) * LIVE_COMMITS;
  let have = 0;
  try {
    await until('every receiver to apply every commit', 30_000, () => {
      have = 0;
      for (const k of sent.keys()) have += arrivals.get(k)?.length ?? 0;
      return have >= expected;
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}: ${have} of ${expected} arrived; errors: ${errors.map((x) => x.message).join('; ')}`);
  }
  if (errors.length) throw new Error(`live sync errors: ${errors.map((e) => e.message).join('; ')}`);
  const latencies: number[] = [];
  const byKind: Record<Kind, number[]> = { 'tag create': [], 'note update': [], 'location put': [] };
  for (const [k, { before, kind }] of sent) {
    for (const at of arrivals.get(k)!) {
      latencies.push(at - before);
      byKind[kind].push(at - before);
    }
  }
  await until('the 5 peers to converge', 5000, () => new Set(libs.map((lib) => lib.digest())).size === 1);

  const held = { count: 0, ms: 0 };
  for (const s of syncs) {
    held.count += s.held.count;
    held.ms += s.held.ms;
  }
  for (const s of syncs) await s.stop();
  for (const lib of libs) await lib.close();
  return { latencies, byKind, commitMs, hopMs: await transportHop(), commits: LIVE_COMMITS, held };
}

function locationData(device: Id, i: number) {
  return { device, volume: null, path: '/home/me/src/app', name: 'app', workspace_key: 'github.com/acme/app', entry_count: i, total_bytes: i * 100 };
}

/** Baseline: one frame's trip over the in-memory transport (send to 'frame'), spaced like the commits. */
async function transportHop(): Promise<number[]> {
  const hub = new MemoryHub();
  const [a, b] = [newId(), newId()];
  const ta = hub.transport(a);
  const tb = hub.transport(b);
  const links: Link[] = [];
  ta.on('link', (l) => links.push(l));
  const got: number[] = [];
  tb.on('link', (l) => l.on('frame', () => got.push(performance.now())));
  ta.setPartners([b]);
  tb.setPartners([a]);
  await until('a link', 1000, () => links.length === 1);
  const frame = randomBytes(200);
  const sentAt: number[] = [];
  for (let i = 0; i < LIVE_WARMUP + LIVE_COMMITS; i++) {
    await sleep(LIVE_SPACING_MS);
    sentAt.push(performance.now());
    links[0].send(frame);
  }
  await until('every frame', 5000, () => got.length === sentAt.length);
  await ta.close();
  await tb.close();
  return got.slice(LIVE_WARMUP).map((t, i) => t - sentAt[LIVE_WARMUP + i]);
}

// ---------------------------------------------------------------- main

function baselineRaw(): number {
  const out = execFileSync(process.execPath, [...process.execArgv, __filename, '--baseline', 'raw'], { env: { ...process.env, BENCH_ROOT: root }, encoding: 'utf8' });
  return Number(JSON.parse(out.trim().split('\n').pop()!).rate);
}

// ---------------------------------------------------------------- signed shared changes

interface SignatureResult {
  changes: number;
  signUs: number;
  verifyUs: number;
  applyUs: number;
}

/**
 * What signatures cost on shared changes: signing and verifying one change
 * (the real bytes: changeSigningBytes), beside applying one from a peer
 * (durable, in batches of 500; verification included), in the same run.
 */
async function signatures(libraryId: Id, secret: Uint8Array): Promise<SignatureResult> {
  const M = 5000;
  const key = deviceKeyPair();
  const writer = await Library.create({ dataDir: path.join(root, 'sig-writer'), name: 'bench', libraryId, secret, keyPair: key });
  const changes: SharedChange[] = [];
  for (let i = 0; i < M; i += 500) {
    const batch = Array.from({ length: 500 }, (_, j) => ({ model: 'tag', op: 'create' as const, data: { name: `tag ${i + j}`, color: 'red', icon: null, description: null, namespace: null } }));
    changes.push(...(await writer.commitShared(batch)));
  }
  const tag = registry.sharedModel('tag');
  const bytes = changes.map((ch) => changeSigningBytes(libraryId, tag, ch));
  let t = performance.now();
  for (const b of bytes) sign(key, b);
  const signUs = ((performance.now() - t) * 1000) / M;
  t = performance.now();
  for (const ch of changes) checkSignature(libraryId, tag, ch);
  const verifyUs = ((performance.now() - t) * 1000) / M;
  const reader = await Library.create({ dataDir: path.join(root, 'sig-reader'), name: 'bench', libraryId, secret });
  t = performance.now();
  for (let i = 0; i < M; i += 500) {
    const r = await reader.applyShared(changes.slice(i, i + 500));
    if (r.rejected.length) throw new Error(`signed changes refused: ${r.rejected[0].error.message}`);
  }
  const applyUs = ((performance.now() - t) * 1000) / M;
  await writer.close();
  await reader.close();
  return { changes: M, signUs, verifyUs, applyUs };
}

async function main(): Promise<void> {
  say(`bench:sync — ${N.toLocaleString('en-US')} entries, pages of ${PAGE_SIZE}, ${PEERS} live peers, ${os.cpus().length} cores, Node ${process.version}`);
  if (!ENGINE_NODE_FLAGS.every((f) => process.execArgv.includes(f))) say(`warning: run with ${ENGINE_NODE_FLAGS.join(' ')} (npm run bench:sync does) for figures comparable to the engine worker`);
  const libraryId = newId();
  const secret = randomBytes(32);

  const l = await live(libraryId, secret);
  const lat = [...l.latencies].sort((x, y) => x - y);
  const commit = [...l.commitMs].sort((x, y) => x - y);
  const hop = [...l.hopMs].sort((x, y) => x - y);
  const liveP50Ms = percentile(lat, 0.5);
  const liveP99Ms = percentile(lat, 0.99);
  say(
    `live change, commit to applied on each of ${PEERS - 1} peers (${l.commits} commits ${LIVE_SPACING_MS} ms apart, ${lat.length} samples): ` +
      `P50 ${ms2(liveP50Ms)} ms (target ≤ ${TARGET_P50_MS}), P99 ${ms2(liveP99Ms)} ms (target ≤ ${TARGET_P99_MS}), max ${ms2(lat[lat.length - 1])} ms`,
  );
  const kinds = KINDS.map((k) => {
    const xs = [...l.byKind[k]].sort((x, y) => x - y);
    return `${k} P50 ${ms2(percentile(xs, 0.5))} / P99 ${ms2(percentile(xs, 0.99))} ms`;
  });
  say(`  by change: ${kinds.join(', ')}`);
  say(
    `  floor: the sender's durable commit P50 ${ms2(percentile(commit, 0.5))} ms / P99 ${ms2(percentile(commit, 0.99))} ms, ` +
      `plus one transport hop P50 ${ms2(percentile(hop, 0.5))} ms / P99 ${ms2(percentile(hop, 0.99))} ms, plus the receiver's durable apply`,
  );

  say(
    `  held back until durable (nothing leaves a device before its journal has it): ${l.held.count} messages (live changes, acks, handshakes, pages) waited, ` +
      `${ms2(l.held.count ? l.held.ms / l.held.count : 0)} ms each on average (${ms2(l.held.ms)} ms in all)`,
  );

  const sig = await signatures(libraryId, secret);
  say(
    `signed shared changes (${fmt(sig.changes)} tag creates): sign ${sig.signUs.toFixed(1)} µs, verify ${sig.verifyUs.toFixed(1)} µs per change; ` +
      `applying one from a peer (durable, batches of 500, verification included) ${sig.applyUs.toFixed(1)} µs: verification is ${((100 * sig.verifyUs) / sig.applyUs).toFixed(0)}% of it`,
  );

  const rawInsertRowsPerSec = baselineRaw();
  say(`raw sql.js prepared inserts of the same rows (baseline, separate process) ${fmt(rawInsertRowsPerSec)} rows/s`);
  const b = await backfillAcrossThreads(libraryId, secret);
  const backfillVsRaw = b.rowsPerSec / rawInsertRowsPerSec;
  say(
    `backfill of a fresh peer from a serving peer on its own thread, durable ${fmt(b.rowsPerSec)} rows/s (${(b.ms / 1000).toFixed(1)} s) ` +
      `= ${backfillVsRaw.toFixed(2)} × raw (target ≥ ${TARGET_BACKFILL_VS_RAW}); peak RSS ${fmt(b.rssMB)} MB (both peers)`,
  );
  const same = await backfillSameThread(libraryId, secret);
  const sameVsRaw = same.rowsPerSec / rawInsertRowsPerSec;
  say(
    `  the same with both peers on one thread over the in-memory hub (the server's reads and encoding compete): ` +
      `${fmt(same.rowsPerSec)} rows/s (${(same.ms / 1000).toFixed(1)} s) = ${sameVsRaw.toFixed(2)} × raw`,
  );
  const peakRssMB = b.rssMB;

  rmSync(root, { recursive: true, force: true });
  const r3 = (x: number) => Number(x.toFixed(3));
  process.stdout.write(
    JSON.stringify({
      entries: N,
      pageSize: PAGE_SIZE,
      backfillRowsPerSec: Math.round(b.rowsPerSec),
      backfillMs: Math.round(b.ms),
      rawInsertRowsPerSec: Math.round(rawInsertRowsPerSec),
      backfillVsRaw: r3(backfillVsRaw),
      backfillSameThreadRowsPerSec: Math.round(same.rowsPerSec),
      backfillSameThreadVsRaw: r3(sameVsRaw),
      liveP50Ms: r3(liveP50Ms),
      liveP99Ms: r3(liveP99Ms),
      liveMaxMs: r3(lat[lat.length - 1]),
      liveSamples: lat.length,
      commitP50Ms: r3(percentile(commit, 0.5)),
      hopP50Ms: r3(percentile(hop, 0.5)),
      hopP99Ms: r3(percentile(hop, 0.99)),
      peakRssMB: Math.round(peakRssMB),
      liveHeldSends: l.held.count,
      liveHeldMeanMs: r3(l.held.count ? l.held.ms / l.held.count : 0),
      signUs: r3(sig.signUs),
      verifyUs: r3(sig.verifyUs),
      applySignedChangeUs: r3(sig.applyUs),
    }) + '\n',
  );
}

if (!isMainThread && workerData?.role === 'serve') {
  serve(workerData).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else if (process.argv.includes('--baseline')) {
  void rawInsert(new EntryTree(N), PAGE_SIZE).then((rate) => process.stdout.write(JSON.stringify({ rate }) + '\n'));
} else {
  main().catch((e) => {
    rmSync(root, { recursive: true, force: true });
    console.error(e);
    process.exit(1);
  });
}
