/**
 * bench:net — the `leaderless` CLI peer over Hyperswarm, end to end: real
 * `leaderless serve` processes on a local testnet (created by this process,
 * fresh for every run), driven only through the CLI and the control
 * socket, each figure beside its baseline measured in the same run. Last
 * line: one JSON object.
 *
 * - Baselines (bench/net-raw.ts, two plain Hyperswarm processes on the same
 *   testnet, no engine): stream throughput (64 KiB chunks, BENCH_RAW_MB,
 *   default 256 MB) and a 64-byte echo round trip spaced like the live
 *   changes.
 * - Backfill: this process fills a serving peer's data directory with
 *   BENCH_N entries (default 1,000,000) of a third device it relays
 *   (bench/entries.ts, as bench:sync does; not timed), then starts
 *   `leaderless serve` on it and another on an empty data directory, waits
 *   until both are announced on the DHT, runs `leaderless invite --no-wait
 *   --json` on the server and `leaderless join CODE --no-wait` on the fresh
 *   one. Timed from spawning the join command until the fresh service
 *   reports state 'ready' (its 'state' event on the control socket) holding
 *   all N entries; then both digests must be equal. Beside it: where the
 *   time went (pairing, first rows, last row, ready), CPU time of each
 *   service, and the bytes the loopback interface carried meanwhile
 *   (/proc/net/dev, so UDP/IP headers and acks included; the raw run gives
 *   the overhead on a plain stream).
 * - Live: 5 services paired into one library through invites (one inviter,
 *   4 joins); one of them gets a change through its control socket (a note
 *   set or a new tag on an item, in turn), and each of the other 4 is
 *   watched through its own control-socket subscription: latency is from
 *   just before the control call on the sender to the moment the change
 *   became readable on the receiver, as its 'changed' event stamps it
 *   (`at`, the same system clock as this process's), confirmed by reading
 *   the change back from that receiver (an event that is not the change is
 *   counted as spurious and not used). Beside it, the same until the event
 *   arrived in this process, which adds this process's own reception delay
 *   on the shared cores. The next change goes out only after every
 *   receiver has it (plus a short gap), so changes never queue.
 * - Faults, BENCH_FAULT_ROUNDS rounds (default 5), a different peer each:
 *   SIGKILL it; dead-link detection is until all 4 others have reported it
 *   offline ('peer' event, up: false). Then restart it on the same data
 *   directory; reconnect is from its spawn until all 4 others report it
 *   online ('peer', up: true). Median and max over the rounds (one slow
 *   partner makes a slow round: each partner's time is printed too).
 * - Diagnostic, not a target: the live test again with one receiver (the
 *   other 3 stopped), to tell the cost of one hop from that of the fan-out
 *   on these cores.
 *
 * BENCH_LIVE_CHANGES (400), BENCH_RAW_MB and BENCH_FAULT_ROUNDS size the
 * parts; BENCH_LOGS=DIR keeps every child's stderr (the services' logs);
 * BENCH_SERVE_NODE_FLAGS passes node flags to the services (e.g.
 * "--cpu-prof --cpu-prof-dir=DIR"; a SIGKILLed one writes no profile).
 *
 * Every child process and temp directory is removed at the end, also on
 * failure or Ctrl-C, and the process exits by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Library } from '../src/engine/library';
import { loadOrCreateDeviceKeyPair } from '../src/net/keys';
import { DEVICE_KEY_FILE } from '../src/service/engine-service';
import { ControlClient } from '../src/service/control-client';
import { controlEndpoint } from '../src/service/control-endpoint';
import type { InviteInfo } from '../src/service/pairing-desk';
import type { LibraryStatus, StatusReport } from '../src/service/status';
import { createTestnet, type Testnet } from '../test/support/testnet';
import { EntryTree, fillRelayedTree } from './entries';
import { LtHash, lthashBackend } from '../src/core/lthash';
import { encodeHlcTime } from '../src/core/hlc';
import { registry } from '../src/engine/registry';
import { checkSeal, makeSeal, stateOfRows } from '../src/engine/owner-seals';


const N = Number(process.env.BENCH_N ?? 1_000_000);
const RAW_BYTES = Number(process.env.BENCH_RAW_MB ?? 256) * 1e6;
const RAW_CHUNK = 64 * 1024;
const PING_COUNT = 600;
const PEERS = 5;
const LIVE_CHANGES = Number(process.env.BENCH_LIVE_CHANGES ?? 400);
const LIVE_WARMUP = 40;
/** Pause between one change reaching every receiver and the next change. */
const LIVE_GAP_MS = 10;
const FAULT_ROUNDS = Number(process.env.BENCH_FAULT_ROUNDS ?? 5);
/** Extra node flags for the `leaderless serve` processes (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to see where their time goes). */
const SERVE_NODE_FLAGS = (process.env.BENCH_SERVE_NODE_FLAGS ?? '').split(' ').filter(Boolean);
/** Workspace the live changes are made on (items need no local copy). */
const WK = 'github.com/acme/app';

const TARGET_BACKFILL_S = 20;
const TARGET_P50_MS = 5;
const TARGET_P99_MS = 50;
const TARGET_DETECT_MS = 5000;
const TARGET_RECONNECT_MS = 5000;

const CLI = path.join(__dirname, 'net-cli.js');
const RAW = path.join(__dirname, 'net-raw.js');
const root = mkdtempSync(path.join(os.tmpdir(), 'lls-bench-net-'));

const say = (s: string) => process.stdout.write(s + '\n');
const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const ms2 = (x: number) => x.toFixed(2);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
const median = (xs: readonly number[]) => percentile([...xs].sort((a, b) => a - b), 0.5);

async function until<T>(what: string, timeoutMs: number, check: () => T | undefined | null | false | Promise<T | undefined | null | false>, everyMs = 100): Promise<T> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------- child processes

/** Every child this process started and that has not exited yet. */
const children = new Set<Child>();

function childEnv(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  delete e.LEADERLESS_DATA_DIR;
  delete e.LEADERLESS_BOOTSTRAP;
  delete e.LEADERLESS_DEBUG;
  delete e.LEADERLESS_LOG;
  return e;
}

interface Matcher {
  re: RegExp;
  resolve: (at: number) => void;
  reject: (e: Error) => void;
}

class Child {
  readonly proc: ChildProcess;
  readonly spawnedAt = now();
  out = '';
  err = '';
  exitedAt = 0;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly matchers = new Set<Matcher>();

  constructor(
    readonly name: string,
    file: string,
    args: readonly string[],
    nodeFlags: readonly string[] = [],
  ) {
    this.proc = spawn(process.execPath, [...nodeFlags, file, ...args], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(this);
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.err += d;
      const at = now();
      for (const m of this.matchers) if (m.re.test(this.err)) (this.matchers.delete(m), m.resolve(at));
    });
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.exitedAt) return;
        this.exitedAt = now();
        children.delete(this);
        if (process.env.BENCH_LOGS) writeFileSync(path.join(process.env.BENCH_LOGS, `${this.name.replace(/\W+/g, '-')}-${this.proc.pid}.log`), this.err);
        for (const m of this.matchers) m.reject(new Error(`${this.name} exited (${code ?? signal}) before printing ${m.re}:\n${this.tail()}`));
        this.matchers.clear();
        resolve({ code, signal });
      };
      this.proc.on('close', done);
      this.proc.on('error', (e) => ((this.err += `\nspawn error: ${e.message}`), done(null, null)));
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get alive(): boolean {
    return this.exitedAt === 0;
  }

  /** Resolves with the time the stderr chunk that made it match `re` arrived. */
  stderrMatch(re: RegExp, timeoutMs: number): Promise<number> {
    if (re.test(this.err)) return Promise.resolve(now());
    if (!this.alive) return Promise.reject(new Error(`${this.name} has exited:\n${this.tail()}`));
    return new Promise((resolve, reject) => {
      const m: Matcher = {
        re,
        resolve: (at) => (clearTimeout(t), resolve(at)),
        reject: (e) => (clearTimeout(t), reject(e)),
      };
      const t = setTimeout(() => (this.matchers.delete(m), reject(new Error(`${this.name}: timed out waiting for ${re}:\n${this.tail()}`))), timeoutMs);
      this.matchers.add(m);
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.kill('SIGTERM');
    const t = setTimeout(() => this.kill('SIGKILL'), graceMs);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }

  tail(lines = 25): string {
    return this.err.trimEnd().split('\n').slice(-lines).join('\n');
  }
}

interface CliRun {
  code: number | null;
  out: string;
  err: string;
  ms: number;
  startedAt: number;
  endedAt: number;
}

let bootstrapArg = '';

/** Runs one `leaderless` command to completion; throws unless it exits 0. */
async function cli(args: readonly string[], timeoutMs = 60_000): Promise<CliRun> {
  const c = new Child(`leaderless ${args[0]}`, CLI, [...args, '--bootstrap', bootstrapArg]);
  const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await c.exited;
  clearTimeout(t);
  if (code !== 0) throw new Error(`leaderless ${args.join(' ')} exited ${code ?? signal}:\n${c.err}`);
  return { code, out: c.out, err: c.err, ms: c.exitedAt - c.spawnedAt, startedAt: c.spawnedAt, endedAt: c.exitedAt };
}

interface TimedEvent {
  t: number;
  name: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One `leaderless serve` on a data directory, its control connection and the events it pushed (with arrival times). */
class Peer {
  child: Child | null = null;
  ctl: ControlClient | null = null;
  readonly events: TimedEvent[] = [];
  private readonly listeners = new Set<(e: TimedEvent) => void>();
  device = '';

  constructor(
    readonly name: string,
    readonly dir: string,
  ) {}

  /** Starts the service; resolves once its control socket answers and events are subscribed. */
  async start(): Promise<{ spawnedAt: number; servingAt: number }> {
    const child = new Child(this.name, CLI, ['serve', '--data-dir', this.dir, '--bootstrap', bootstrapArg], SERVE_NODE_FLAGS);
    this.child = child;
    const servingAt = await child.stderrMatch(/serving .*control socket/, 60_000);
    const ctl = await ControlClient.connect(controlEndpoint(this.dir));
    this.ctl = ctl;
    ctl.on('event', (name, data) => {
      const e = { t: now(), name, data };
      this.events.push(e);
      for (const l of this.listeners) l(e);
    });
    ctl.on('close', () => {
      if (this.ctl === ctl) this.ctl = null;
    });
    await ctl.call('subscribe', { events: ['state', 'progress', 'peer', 'changed', 'libraries', 'network'] });
    return { spawnedAt: child.spawnedAt, servingAt };
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    if (!this.ctl) return Promise.reject(new Error(`${this.name}: no control connection`));
    return this.ctl.call<T>(method, params);
  }

  async status(digest = false): Promise<StatusReport> {
    return this.call<StatusReport>('status', { digest });
  }

  async library(digest = false): Promise<LibraryStatus> {
    const s = await this.status(digest);
    if (s.libraries.length !== 1) throw new Error(`${this.name}: ${s.libraries.length} libraries`);
    return s.libraries[0];
  }

  onEvent(fn: (e: TimedEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The first event from index `from` on that satisfies `pred` (waits for it). */
  next(pred: (e: TimedEvent) => boolean, timeoutMs: number, from = 0, what = 'an event'): Promise<TimedEvent> {
    for (let i = from; i < this.events.length; i++) if (pred(this.events[i])) return Promise.resolve(this.events[i]);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => (off(), reject(new Error(`${this.name}: timed out after ${timeoutMs / 1000} s waiting for ${what}:\n${this.child?.tail() ?? ''}`))), timeoutMs);
      const off = this.onEvent((e) => {
        if (!pred(e)) return;
        clearTimeout(t);
        off();
        resolve(e);
      });
    });
  }

  async announced(timeoutMs = 30_000): Promise<void> {
    await until(`${this.name} to be announced on the DHT`, timeoutMs, async () => (await this.status()).service.network.announced, 50);
  }

  /** SIGKILL; resolves once it has exited. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c) return;
    c.kill('SIGKILL');
    await c.exited;
    await this.ctl?.close().catch(() => undefined);
    this.ctl = null;
  }

  async stop(): Promise<void> {
    await this.ctl?.close().catch(() => undefined);
    this.ctl = null;
    const r = await this.child?.stop();
    if (r && r.code !== 0) say(`  note: ${this.name} stopped with ${r.code ?? r.signal}`);
  }
}

// ---------------------------------------------------------------- machine counters

/** Bytes the loopback interface has received so far (every packet on lo is sent and received once). */
function loopbackBytes(): number {
  const line = readFileSync('/proc/net/dev', 'utf8')
    .split('\n')
    .find((l) => l.trim().startsWith('lo:'));
  return line ? Number(line.trim().split(/\s+/)[1]) : NaN;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux
/** CPU time (user + system, ms) a process has used so far. */
function cpuMs(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return NaN;
  }
}

/** Peak resident memory (MB) of a process so far. */
function peakRssMB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------- baselines

interface RawResult {
  MBps: number;
  ms: number;
  loopbackBytes: number;
  retries: number;
  pingP50Ms: number;
  pingP99Ms: number;
}

async function rawPair(serverArgs: string[], clientArgs: string[], timeoutMs: number): Promise<[Record<string, number>, Record<string, number>]> {
  const topic = randomBytes(32).toString('hex');
  const b = bootstrapArg.split(',')[0];
  const server = new Child(`net-raw ${serverArgs[0]}`, RAW, [serverArgs[0], b, topic, ...serverArgs.slice(1)]);
  await sleep(300); // let the server announce first (the client also looks again every second)
  const client = new Child(`net-raw ${clientArgs[0]}`, RAW, [clientArgs[0], b, topic, ...clientArgs.slice(1)]);
  const t = setTimeout(() => (server.kill('SIGKILL'), client.kill('SIGKILL')), timeoutMs);
  const [s, c] = await Promise.all([server.exited, client.exited]);
  clearTimeout(t);
  if (s.code !== 0 || c.code !== 0) throw new Error(`net-raw failed (${s.code ?? s.signal}, ${c.code ?? c.signal}):\n${server.err}\n${client.err}`);
  const last = (x: Child) => JSON.parse(x.out.trim().split('\n').pop()!) as Record<string, number>;
  return [last(server), last(client)];
}

async function baselines(): Promise<RawResult> {
  const lo0 = loopbackBytes();
  const [recv, send] = await rawPair(['receive', String(RAW_BYTES)], ['send', String(RAW_BYTES), String(RAW_CHUNK)], 120_000);
  const lo = loopbackBytes() - lo0;
  const [, ping] = await rawPair(['echo', String(PING_COUNT)], ['ping', String(PING_COUNT), '64', String(LIVE_GAP_MS)], 60_000);
  return { MBps: recv.MBps, ms: recv.ms, loopbackBytes: lo, retries: recv.retries + send.retries, pingP50Ms: ping.rttP50Ms, pingP99Ms: ping.rttP99Ms };
}

// ---------------------------------------------------------------- backfill

interface BackfillResult {
  ms: number;
  rowsPerSec: number;
  fillMs: number;
  serverOpenMs: number;
  joinCliMs: number;
  /** The fresh service's link to the server up (its 'peer' event). */
  linkMs: number;
  /** Connections the fresh service's firewall refused meanwhile (the server dialling before the library existed here). */
  refused: number;
  digestCheckMs: number;
  firstRowsMs: number;
  allRowsMs: number;
  loopbackBytes: number;
  serverCpuMs: number;
  freshCpuMs: number;
  freshPeakRssMB: number;
  serverPeakRssMB: number;
  progressEvents: number;
}

/**
 * What verifying a backfill costs the receiver, measured here on rows like
 * the backfilled ones: each row's LtHash (its row version hashed and added,
 * as every apply does for its owner's state), and checking one seal.
 */
function verificationCost(rows = 100_000): { hashUsPerRow: number; sealCheckUs: number } {
  const tree = new EntryTree(rows);
  const entry = registry.deviceOwnedModel('entry');
  const records = [...tree.batches(rows)][0];
  const sum = new LtHash();
  for (const r of records.slice(0, 1000)) sum.add(entry.versionOf(r)); // warm
  const t0 = performance.now();
  for (const r of records) sum.add(entry.versionOf(r));
  const hashUsPerRow = ((performance.now() - t0) * 1000) / rows;
  const state = stateOfRows([{ model: entry, records }])!;
  const library = randomBytes(16);
  const seal = makeSeal(library, tree.key, tree.device, encodeHlcTime({ ms: Date.now(), counter: 0 }), state);
  const checks = 200;
  const t1 = performance.now();
  for (let i = 0; i < checks; i++) checkSeal(library, seal);
  return { hashUsPerRow, sealCheckUs: ((performance.now() - t1) * 1000) / checks };
}

async function backfill(): Promise<BackfillResult> {
  const server = new Peer('server', path.join(root, 'bf-server'));
  const fresh = new Peer('fresh', path.join(root, 'bf-fresh'));
  try {
    const f0 = now();
    // The key `serve` will run with: this device's id is derived from it.
    const lib = await Library.create({ dataDir: server.dir, name: 'bench backfill', deviceName: 'server', keyPair: loadOrCreateDeviceKeyPair(path.join(server.dir, DEVICE_KEY_FILE)) });
    await lib.ready();
    await fillRelayedTree(lib, new EntryTree(N));
    await lib.close();
    const fillMs = now() - f0;
    say(`serving peer's data directory filled with ${fmt(N)} entries of a third device in ${(fillMs / 1000).toFixed(1)} s (by this process, not timed)`);

    const [s, fr] = await Promise.all([server.start(), fresh.start()]);
    const serverOpenMs = s.servingAt - s.spawnedAt;
    await Promise.all([server.announced(), fresh.announced()]);
    say(`  leaderless serve up: server (opens ${fmt(N)} entries) ${fmt(serverOpenMs)} ms, fresh ${fmt(fr.servingAt - fr.spawnedAt)} ms; both announced on the DHT`);

    const invite = JSON.parse((await cli(['invite', '--no-wait', '--json', '--data-dir', server.dir])).out.trim().split('\n')[0]) as InviteInfo;
    const from = fresh.events.length;
    const lo0 = loopbackBytes();
    const cpu0 = [cpuMs(server.child!.pid), cpuMs(fresh.child!.pid)];
    const t0 = now();
    const join = cli(['join', invite.code, '--no-wait', '--json', '--data-dir', fresh.dir]);
    join.catch(() => undefined); // awaited below; a failure shows there
    const mine = (e: TimedEvent) => e.data?.library === invite.library;
    const timeoutMs = 60_000 + N / 10;
    let ready = await fresh.next((e) => e.name === 'state' && mine(e) && e.data.state === 'ready', timeoutMs, from, "state 'ready'");
    let readyAt = ready.t;
    let st = await fresh.library();
    if ((st.counts.entry ?? 0) !== N) {
      say(`  note: the fresh peer reported 'ready' holding ${st.counts.entry ?? 0} of ${N} entries; waiting for all of them`);
      const at = await until(`the fresh peer to hold all ${N} entries`, timeoutMs, async () => {
        const t = now();
        st = await fresh.library();
        return st.state === 'ready' && st.counts.entry === N && t;
      });
      readyAt = at;
      ready = { ...ready, t: at };
    }
    const ms = readyAt - t0;
    const lo = loopbackBytes() - lo0;
    const serverCpuMs = cpuMs(server.child!.pid) - cpu0[0];
    const freshCpuMs = cpuMs(fresh.child!.pid) - cpu0[1];
    const j = await join;
    // Its sync goes 'backfilling' once the link to the server is up (before: no link, 'offline' or 'paused').
    const linked = fresh.events.slice(from).find((e) => e.name === 'state' && mine(e) && ['backfilling', 'catching-up', 'ready'].includes(e.data.state));
    // The fresh service's firewall refusing the server (it dialled before the joined library existed here).
    const refused = (fresh.child!.err.match(/refused a connection from/g) ?? []).length;
    const progress = fresh.events.slice(from).filter((e) => e.name === 'progress' && mine(e));
    const first = progress.find((e) => e.data.progress.received > 0);
    const all = progress.find((e) => e.data.progress.received >= N);
    const result: BackfillResult = {
      ms,
      rowsPerSec: N / (ms / 1000),
      fillMs,
      serverOpenMs,
      joinCliMs: j.endedAt - t0,
      linkMs: linked ? linked.t - t0 : NaN,
      refused,
      firstRowsMs: first ? first.t - t0 : NaN,
      allRowsMs: all ? all.t - t0 : NaN,
      loopbackBytes: lo,
      serverCpuMs,
      freshCpuMs,
      freshPeakRssMB: peakRssMB(fresh.child!.pid),
      serverPeakRssMB: peakRssMB(server.child!.pid),
      progressEvents: progress.length,
      digestCheckMs: NaN,
    };

    // The check: every row, and the same rows as the server.
    const d0 = now();
    const [a, b] = await Promise.all([server.library(true), fresh.library(true)]);
    result.digestCheckMs = now() - d0;
    if (b.counts.entry !== N) throw new Error(`the fresh peer holds ${b.counts.entry} of ${N} entries`);
    if (b.parked !== 0) throw new Error(`the fresh peer has ${b.parked} parked records`);
    if (!a.digest || a.digest !== b.digest) throw new Error(`digests differ: server ${a.digest}, fresh ${b.digest}`);
    return result;
  } finally {
    await Promise.all([server.stop(), fresh.stop()]);
    rmSync(server.dir, { recursive: true, force: true });
    rmSync(fresh.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- live

/** A receiver's 'changed' event: when it arrived here (t) and when the receiver says the change became readable (at), both on this process's clock. */
interface Arrival {
  t: number;
  at: number;
}

interface LiveResult {
  /** Change made (control call sent) → readable on a receiver, as the receiver stamped it. */
  latencies: number[];
  /** The same until its event arrived in this process (adds this process's own reception delay). */
  observed: number[];
  byKind: { note: number[]; tag: number[] };
  /** Latencies of the first, second, … receiver to have each change. */
  byRank: number[][];
  /** CPU time (user + system) per change of each service and of this process (its reads included). */
  cpuPerChangeMs: { sender: number; receivers: number[]; bench: number };
  callMs: number[];
  controlPingMs: number[];
  spurious: number;
  pairMs: number[];
  meshMs: number;
}

interface Mesh {
  peers: Peer[];
  pairMs: number[];
  meshMs: number;
}

/** True once every peer is 'ready' with all its partners online and caught up. */
async function meshReady(peers: readonly Peer[]): Promise<boolean> {
  const libs = await Promise.all(peers.map((p) => p.library().catch(() => null)));
  return libs.every((l) => l !== null && l.state === 'ready' && l.partners.length === peers.length - 1 && l.partners.every((x) => x.online && x.ready));
}

async function pairMesh(): Promise<Mesh> {
  const peers = Array.from({ length: PEERS }, (_, i) => new Peer(`peer ${i}`, path.join(root, `live-${i}`)));
  await Promise.all(peers.map((p) => p.start()));
  await cli(['init', '--name', 'bench live', '--json', '--data-dir', peers[0].dir]);
  await Promise.all(peers.map((p) => p.announced()));
  const pairMs: number[] = [];
  const t0 = now();
  for (const p of peers.slice(1)) {
    const invite = JSON.parse((await cli(['invite', '--no-wait', '--json', '--data-dir', peers[0].dir])).out.trim().split('\n')[0]) as InviteInfo;
    const j = await cli(['join', invite.code, '--no-wait', '--json', '--data-dir', p.dir]);
    pairMs.push(j.ms);
  }
  await until('the 5 peers to be paired, online and ready with each other', 120_000, () => meshReady(peers), 200);
  const meshMs = now() - t0;
  for (const p of peers) p.device = (await p.library()).device;
  return { peers, pairMs, meshMs };
}

async function live(mesh: Mesh, peers: readonly Peer[] = mesh.peers, changes = LIVE_CHANGES, label = 'live'): Promise<LiveResult> {
  const [sender, ...receivers] = peers;

  // Floor, part 1: a control-socket round trip (ping), spaced like the changes.
  const controlPingMs: number[] = [];
  for (let i = 0; i < 200; i++) {
    await sleep(2);
    const t = now();
    await sender.call('ping');
    if (i >= 20) controlPingMs.push(now() - t);
  }

  interface Pending {
    i: number;
    sentAt: number;
    verify: (r: Peer) => Promise<boolean>;
    /** 'changed' events of each receiver since the change was sent (arrival times), not yet checked. */
    candidates: Map<Peer, Arrival[]>;
    arrived: Map<Peer, Arrival>;
  }
  let pending: Pending | null = null;
  let spurious = 0;
  let checking = false;
  let wake: (() => void) | null = null;

  // Once every receiver has signalled, read the change back from each: its first event that is
  // followed by the change being there counts. (Reading back only then keeps the reads out of the
  // receivers' way while the change is still on its way to some of them.)
  const check = async (): Promise<void> => {
    const p = pending;
    if (!p || checking) return;
    const waiting = receivers.filter((r) => !p.arrived.has(r));
    if (!waiting.every((r) => p.candidates.get(r)!.length > 0)) return;
    checking = true;
    try {
      await Promise.all(
        waiting.map(async (r) => {
          const t = p.candidates.get(r)!.shift()!;
          if (await p.verify(r)) p.arrived.set(r, t);
          else spurious++;
        }),
      );
    } finally {
      checking = false;
    }
    if (p.arrived.size === receivers.length) wake?.();
    else await check(); // more events may have come meanwhile
  };
  for (const r of receivers) {
    r.onEvent((e) => {
      if (e.name !== 'changed' || !pending || pending.arrived.has(r)) return;
      // The receiver stamps the event when the change became readable there; this process's clock
      // is the same system clock (performance.timeOrigin), so both are on the bench's timeline.
      const at = typeof e.data?.at === 'number' ? e.data.at - performance.timeOrigin : e.t;
      pending.candidates.get(r)!.push({ t: e.t, at });
      void check().catch(() => undefined);
    });
  }

  let cpu0: number[] = [];
  let benchCpu0 = process.cpuUsage();
  const latencies: number[] = [];
  const observed: number[] = [];
  const byKind = { note: [] as number[], tag: [] as number[] };
  const byRank: number[][] = receivers.map(() => []);
  const callMs: number[] = [];
  for (let i = 0; i < LIVE_WARMUP + changes; i++) {
    if (i === LIVE_WARMUP) {
      cpu0 = peers.map((p) => cpuMs(p.child!.pid));
      benchCpu0 = process.cpuUsage();
    }
    await sleep(LIVE_GAP_MS);
    const kind = i % 2 === 0 ? 'note' : 'tag';
    const text = `${label} ${i}`; // new every time: a change that changes nothing sends nothing
    const file = `src/${label}/file${i}.ts`;
    const verify =
      kind === 'note'
        ? async (r: Peer) => (await r.call<{ note: string | null }>('note', { workspace: WK, path: 'src/main.ts' })).note === text
        : async (r: Peer) => (await r.call<{ name: string }[]>('tagsOf', { workspace: WK, path: file })).some((t) => t.name === text);
    const p: Pending = { i, sentAt: now(), verify, candidates: new Map(receivers.map((r) => [r, []])), arrived: new Map() };
    pending = p;
    let timer: NodeJS.Timeout | undefined;
    const all = new Promise<boolean>((resolve) => {
      wake = () => resolve(true);
      timer = setTimeout(() => resolve(false), 10_000);
    });
    if (kind === 'note') await sender.call('setNote', { workspace: WK, path: 'src/main.ts', text });
    else await sender.call('tag', { workspace: WK, path: file, tag: text });
    const called = now();
    const ok = await all;
    clearTimeout(timer);
    if (!ok) {
      const missing = receivers.filter((r) => !p.arrived.has(r)).map((r) => r.name);
      throw new Error(`change ${i} (${kind}) did not reach ${missing.join(', ')} within 10 s`);
    }
    pending = null;
    wake = null;
    if (i < LIVE_WARMUP) continue; // the first changes warm up the JIT and the paths
    callMs.push(called - p.sentAt);
    const times = [...p.arrived.values()].map((a) => a.at - p.sentAt);
    latencies.push(...times);
    observed.push(...[...p.arrived.values()].map((a) => a.t - p.sentAt));
    byKind[kind].push(...times);
    times.sort((a, b) => a - b).forEach((t, k) => byRank[k].push(t));
  }
  const cpu = peers.map((p, k) => (cpuMs(p.child!.pid) - cpu0[k]) / changes);
  const bench = process.cpuUsage(benchCpu0);
  const cpuPerChangeMs = { sender: cpu[0], receivers: cpu.slice(1), bench: (bench.user + bench.system) / 1000 / changes };
  return { latencies, observed, byKind, byRank, cpuPerChangeMs, callMs, controlPingMs, spurious, pairMs: mesh.pairMs, meshMs: mesh.meshMs };
}

// ---------------------------------------------------------------- faults

interface FaultRound {
  victim: string;
  detectMs: number;
  detectEachMs: number[];
  reconnectMs: number;
  reconnectEachMs: number[];
  servingMs: number;
}

async function faults(mesh: Mesh): Promise<FaultRound[]> {
  const rounds: FaultRound[] = [];
  const { peers } = mesh;
  for (let r = 0; r < FAULT_ROUNDS; r++) {
    const victim = peers[1 + (r % (peers.length - 1))];
    const others = peers.filter((p) => p !== victim);
    await until('the mesh to be whole before the round', 60_000, () => meshReady(peers), 100);
    await sleep(500);
    const about = (up: boolean) => (e: TimedEvent) => e.name === 'peer' && e.data.device === victim.device && e.data.up === up;

    const from = others.map((p) => p.events.length);
    const killedAt = now();
    victim.child!.kill('SIGKILL');
    const down = await Promise.all(others.map((p, k) => p.next(about(false), 60_000, from[k], `${victim.name} reported offline`)));
    await victim.kill(); // reaps it and drops its control connection
    const detectEachMs = down.map((e) => e.t - killedAt);

    const from2 = others.map((p) => p.events.length);
    const restart = victim.start();
    const spawnedAt = victim.child!.spawnedAt;
    const up = await Promise.all(others.map((p, k) => p.next(about(true), 120_000, from2[k], `${victim.name} reported online again`)));
    const { servingAt } = await restart;
    const reconnectEachMs = up.map((e) => e.t - spawnedAt);
    const round: FaultRound = {
      victim: victim.name,
      detectMs: Math.max(...detectEachMs),
      detectEachMs,
      reconnectMs: Math.max(...reconnectEachMs),
      reconnectEachMs,
      servingMs: servingAt - spawnedAt,
    };
    rounds.push(round);
    say(
      `  round ${r + 1}: SIGKILL ${victim.name} → offline on all 4 others after ${fmt(round.detectMs)} ms (each: ${detectEachMs.map(fmt).join(', ')}); ` +
        `restarted → serving after ${fmt(round.servingMs)} ms, online on all 4 after ${fmt(round.reconnectMs)} ms (each: ${reconnectEachMs.map(fmt).join(', ')})`,
    );
  }
  return rounds;
}

// ---------------------------------------------------------------- main

const r3 = (x: number) => Number(x.toFixed(3));
const figures: Record<string, unknown> = { entries: N };
let testnet: Testnet | null = null;
let cleaning: Promise<void> | null = null;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of [...children]) c.kill('SIGKILL');
    await Promise.all([...children].map((c) => c.exited));
    await testnet?.destroy().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  })();
  return cleaning;
}

async function main(): Promise<void> {
  say(`bench:net — leaderless serve processes over Hyperswarm on a local testnet: ${fmt(N)} entries backfilled, ${PEERS} live peers, ${FAULT_ROUNDS} fault rounds; ${os.cpus().length} cores, Node ${process.version}; load average ${os.loadavg()[0].toFixed(2)} before the run`);
  for (const f of [CLI, RAW]) if (!existsSync(f)) throw new Error(`${f} is missing: run "npm run bench:net" (it bundles it)`);
  // The shipped CLI finds sql-wasm.wasm beside its bundle.
  const wasm = path.resolve(__dirname, '../../node_modules/sql.js/dist/sql-wasm.wasm');
  if (!existsSync(path.join(__dirname, 'sql-wasm.wasm')) && existsSync(wasm)) copyFileSync(wasm, path.join(__dirname, 'sql-wasm.wasm'));
  testnet = await createTestnet(3);
  bootstrapArg = testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',');

  // Baselines.
  const raw = await baselines();
  const rawOverhead = raw.loopbackBytes / RAW_BYTES;
  say(
    `plain Hyperswarm stream between two processes (baseline): ${raw.MBps.toFixed(1)} MB/s (${fmt(RAW_BYTES / 1e6)} MB in 64 KiB chunks, ${fmt(raw.ms)} ms; ` +
      `loopback carried ${(raw.loopbackBytes / 1e6).toFixed(0)} MB = ${rawOverhead.toFixed(2)} × the payload${raw.retries ? `; ${raw.retries} half-open connection(s) retried` : ''})`,
  );
  say(`plain Hyperswarm 64-byte round trip, ${LIVE_GAP_MS} ms apart (baseline): P50 ${ms2(raw.pingP50Ms)} ms, P99 ${ms2(raw.pingP99Ms)} ms`);
  Object.assign(figures, { rawSwarmMBps: r3(raw.MBps), rawSwarmLoopbackPerByte: r3(rawOverhead), rawPingP50Ms: r3(raw.pingP50Ms), rawPingP99Ms: r3(raw.pingP99Ms) });

  // Backfill.
  const b = await backfill();
  const seconds = b.ms / 1000;
  const atTargetSize = N === 1_000_000;
  say(
    `backfill of ${fmt(N)} entries, leaderless serve → a fresh leaderless serve, join to 'ready' (digests equal): ${seconds.toFixed(2)} s = ${fmt(b.rowsPerSec)} rows/s ` +
      `(target ≤ ${TARGET_BACKFILL_S} s at 1M: ${atTargetSize ? verdict(seconds <= TARGET_BACKFILL_S) : 'n/a, BENCH_N is not 1M'})`,
  );
  const transferMs = b.allRowsMs - b.firstRowsMs;
  say(
    `  where it went: join command (node start, pairing, copy created) ${fmt(b.joinCliMs)} ms; link to the server up at ${fmt(b.linkMs)} ms` +
      `${b.refused ? ` (the fresh service refused ${b.refused} connection(s) from it first: it dialled before the library existed there)` : ''}; first rows at ${fmt(b.firstRowsMs)} ms; ` +
      `last row at ${fmt(b.allRowsMs)} ms (${fmt((N / transferMs) * 1000)} rows/s in between); ready at ${fmt(b.ms)} ms`,
  );
  const mbps = b.loopbackBytes / 1e6 / seconds;
  say(
    `  loopback carried ${(b.loopbackBytes / 1e6).toFixed(0)} MB meanwhile (${fmt(b.loopbackBytes / N)} B/entry, ${mbps.toFixed(1)} MB/s = ${((mbps / raw.MBps) * 100).toFixed(0)}% of the raw stream); ` +
      `CPU: server ${fmt(b.serverCpuMs)} ms, fresh ${fmt(b.freshCpuMs)} ms (${((b.serverCpuMs + b.freshCpuMs) / b.ms).toFixed(2)} of 2 cores); ` +
      `peak RSS server ${fmt(b.serverPeakRssMB)} MB, fresh ${fmt(b.freshPeakRssMB)} MB; ${b.progressEvents} progress events`,
  );
  say(`  the check afterwards ('status' with the digest on both, at once) took ${fmt(b.digestCheckMs)} ms (not timed)`);
  const v = verificationCost();
  const hashMs = (v.hashUsPerRow * N) / 1000;
  say(
    `  verification in it (measured in this process on the same rows): the LtHash of every row received, ${v.hashUsPerRow.toFixed(2)} µs/row (${lthashBackend}) = ` +
      `${fmt(hashMs)} ms for ${fmt(N)} rows, ${((100 * hashMs) / b.freshCpuMs).toFixed(0)}% of the fresh service's CPU and ${((100 * hashMs) / b.ms).toFixed(0)}% of the backfill's time; ` +
      `and one seal check per seal, ${fmt(v.sealCheckUs)} µs (a backfill's pages carry the same seal: checked once)`,
  );
  Object.assign(figures, {
    backfillSeconds1M: r3(seconds),
    backfillRowsPerSec: Math.round(b.rowsPerSec),
    backfillMs: Math.round(b.ms),
    backfillJoinCliMs: Math.round(b.joinCliMs),
    backfillLinkMs: Math.round(b.linkMs),
    backfillRefusedConnections: b.refused,
    backfillFirstRowsMs: Math.round(b.firstRowsMs),
    backfillAllRowsMs: Math.round(b.allRowsMs),
    backfillLoopbackBytes: b.loopbackBytes,
    backfillServerCpuMs: Math.round(b.serverCpuMs),
    backfillFreshCpuMs: Math.round(b.freshCpuMs),
    backfillFreshPeakRssMB: Math.round(b.freshPeakRssMB),
    backfillServerPeakRssMB: Math.round(b.serverPeakRssMB),
    serverOpenMs: Math.round(b.serverOpenMs),
    fillMs: Math.round(b.fillMs),
    digestCheckMs: Math.round(b.digestCheckMs),
    verifyHashUsPerRow: r3(v.hashUsPerRow),
    verifyHashMs: Math.round(hashMs),
    verifySealCheckUs: r3(v.sealCheckUs),
  });

  // Live changes.
  const mesh = await pairMesh();
  say(`${PEERS} peers paired through invites: join commands ${mesh.pairMs.map(fmt).join(', ')} ms; all online and ready with each other ${fmt(mesh.meshMs)} ms after the first invite`);
  const l = await live(mesh);
  const lat = [...l.latencies].sort((x, y) => x - y);
  const liveP50Ms = percentile(lat, 0.5);
  const liveP99Ms = percentile(lat, 0.99);
  say(
    `live change through peer 0's control socket → readable on each of ${PEERS - 1} peers (their 'changed' events, stamped by each receiver; ${LIVE_CHANGES} changes, ${lat.length} samples): ` +
      `P50 ${ms2(liveP50Ms)} ms (target ≤ ${TARGET_P50_MS}: ${verdict(liveP50Ms <= TARGET_P50_MS)}), P99 ${ms2(liveP99Ms)} ms (target ≤ ${TARGET_P99_MS}: ${verdict(liveP99Ms <= TARGET_P99_MS)}), max ${ms2(lat[lat.length - 1])} ms`,
  );
  const kinds = (['note', 'tag'] as const).map((k) => {
    const xs = [...l.byKind[k]].sort((x, y) => x - y);
    return `${k === 'note' ? 'note set' : 'new tag on an item'} P50 ${ms2(percentile(xs, 0.5))} / P99 ${ms2(percentile(xs, 0.99))} ms`;
  });
  const call = [...l.callMs].sort((x, y) => x - y);
  const cping = [...l.controlPingMs].sort((x, y) => x - y);
  const obs = [...l.observed].sort((x, y) => x - y);
  say(
    `  as seen by this process (the receivers' events arriving here, so adding its own reception delay on the shared cores): P50 ${ms2(percentile(obs, 0.5))} ms, P99 ${ms2(percentile(obs, 0.99))} ms`,
  );
  say(`  by change: ${kinds.join(', ')}; ${l.spurious} 'changed' event(s) that were not the change`);
  const ranks = l.byRank.map((xs) => ms2(median(xs)));
  say(`  P50 by order of arrival (first … last of the ${PEERS - 1} receivers): ${ranks.join(', ')} ms`);
  const c = l.cpuPerChangeMs;
  say(
    `  CPU per change (user + system, ticks of 10 ms averaged): sender ${ms2(c.sender)} ms, receivers ${c.receivers.map(ms2).join(', ')} ms, this process ${ms2(c.bench)} ms ` +
      `= ${ms2(c.sender + c.receivers.reduce((a, b) => a + b, 0) + c.bench)} ms of the ${os.cpus().length} cores per change`,
  );
  say(
    `  floor: the sender's control call (socket round trip + durable commit) P50 ${ms2(percentile(call, 0.5))} / P99 ${ms2(percentile(call, 0.99))} ms ` +
      `(a bare control ping P50 ${ms2(percentile(cping, 0.5))} ms), one Hyperswarm hop ≈ half the raw round trip (${ms2(raw.pingP50Ms / 2)} ms), plus the receiver's durable apply`,
  );
  Object.assign(figures, {
    liveP50Ms: r3(liveP50Ms),
    liveP99Ms: r3(liveP99Ms),
    liveMaxMs: r3(lat[lat.length - 1]),
    liveObservedP50Ms: r3(percentile(obs, 0.5)),
    liveObservedP99Ms: r3(percentile(obs, 0.99)),
    liveSamples: lat.length,
    liveSpuriousEvents: l.spurious,
    liveCallP50Ms: r3(percentile(call, 0.5)),
    controlPingP50Ms: r3(percentile(cping, 0.5)),
    pairJoinMs: l.pairMs.map(Math.round),
    meshMs: Math.round(l.meshMs),
  });

  // Faults.
  const rounds = await faults(mesh);
  const detect = rounds.map((r) => r.detectMs);
  const reconnect = rounds.map((r) => r.reconnectMs);
  const detectMed = median(detect);
  const reconnectMed = median(reconnect);
  const over = (xs: number[], t: number) => xs.filter((x) => x > t).length;
  say(
    `dead link, SIGKILL → offline on all 4 others: median ${fmt(detectMed)} ms over ${rounds.length} rounds (target ≤ ${TARGET_DETECT_MS}: ${verdict(detectMed <= TARGET_DETECT_MS)}), ` +
      `max ${fmt(Math.max(...detect))} ms (${over(detect, TARGET_DETECT_MS)} round(s) over the target)`,
  );
  say(
    `reconnect, restart (spawn) → online on all 4 others: median ${fmt(reconnectMed)} ms over ${rounds.length} rounds (target ≤ ${TARGET_RECONNECT_MS}: ${verdict(reconnectMed <= TARGET_RECONNECT_MS)}), ` +
      `max ${fmt(Math.max(...reconnect))} ms (${over(reconnect, TARGET_RECONNECT_MS)} round(s) over the target); of which process start to serving: median ${fmt(median(rounds.map((r) => r.servingMs)))} ms`,
  );
  const each = rounds.flatMap((r) => r.reconnectEachMs).sort((a, b) => a - b);
  say(
    `  each partner's reconnect over all rounds (${each.length}): P50 ${fmt(percentile(each, 0.5))} ms, ${each.filter((x) => x <= 2000).length} within 2 s, ` +
      `${each.filter((x) => x > TARGET_RECONNECT_MS).length} over ${fmt(TARGET_RECONNECT_MS)} ms, slowest ${each.slice(-3).map(fmt).join(', ')} ms`,
  );
  Object.assign(figures, {
    reconnectEachP50Ms: Math.round(percentile(each, 0.5)),
    deadLinkDetectMs: Math.round(detectMed),
    deadLinkDetectMaxMs: Math.round(Math.max(...detect)),
    deadLinkDetectRoundsMs: detect.map(Math.round),
    reconnectMs: Math.round(reconnectMed),
    reconnectMaxMs: Math.round(Math.max(...reconnect)),
    reconnectRoundsMs: reconnect.map(Math.round),
    reconnectServingMs: Math.round(median(rounds.map((r) => r.servingMs))),
  });

  // Diagnostic: the same with one receiver (the other 3 stopped), to tell the cost of a hop from that of the fan-out on these cores.
  await Promise.all(mesh.peers.slice(2).map((p) => p.stop()));
  await until('peers 0 and 1 to be ready with each other', 30_000, async () => {
    const libs = await Promise.all(mesh.peers.slice(0, 2).map((p) => p.library()));
    return libs.every((x) => x.state === 'ready' && x.partners.some((y) => y.online && y.ready));
  });
  const pair = await live(mesh, mesh.peers.slice(0, 2), Math.min(LIVE_CHANGES, 200), 'diagnostic');
  const pairLat = [...pair.latencies].sort((x, y) => x - y);
  say(
    `live change, diagnostic: the same with 1 receiver (3 peers stopped; ${pairLat.length} samples): P50 ${ms2(percentile(pairLat, 0.5))} ms, P99 ${ms2(percentile(pairLat, 0.99))} ms; ` +
      `CPU per change: sender ${ms2(pair.cpuPerChangeMs.sender)} ms, receiver ${ms2(pair.cpuPerChangeMs.receivers[0])} ms`,
  );
  Object.assign(figures, { liveOneReceiverP50Ms: r3(percentile(pairLat, 0.5)), liveOneReceiverP99Ms: r3(percentile(pairLat, 0.99)) });
  await Promise.all(mesh.peers.map((p) => p.stop()));
  figures.pass = {
    backfillSeconds1M: atTargetSize ? seconds <= TARGET_BACKFILL_S : null,
    liveP50Ms: liveP50Ms <= TARGET_P50_MS,
    liveP99Ms: liveP99Ms <= TARGET_P99_MS,
    deadLinkDetectMs: detectMed <= TARGET_DETECT_MS,
    reconnectMs: reconnectMed <= TARGET_RECONNECT_MS,
  };
}

const watchdog = setTimeout(
  () => {
    process.stderr.write('bench:net: still running after 15 minutes; stopping\n');
    void cleanup().then(() => process.exit(1));
  },
  15 * 60_000,
);
watchdog.unref();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`bench:net: ${sig}: stopping the child processes\n`);
    void cleanup().then(() => process.exit(130));
  });
}

/** Everything is stopped by now; should anything still hold the process (e.g. a library left open by a failure), end it. */
function exitSoon(): void {
  setTimeout(() => {
    process.stderr.write('bench:net: something kept the process running after the end; exiting\n');
    process.exit(process.exitCode ?? 0);
  }, 10_000).unref();
}

main().then(
  async () => {
    await cleanup();
    process.stdout.write(JSON.stringify(figures) + '\n');
    exitSoon();
  },
  async (e: Error) => {
    process.stderr.write(`bench:net failed: ${e.stack ?? e.message}\n`);
    await cleanup();
    process.stdout.write(JSON.stringify({ ...figures, error: e.message.split('\n')[0] }) + '\n');
    process.exitCode = 1;
    exitSoon();
  },
);
