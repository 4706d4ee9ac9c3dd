/**
 * bench:store — the durable store and the engine's write paths at library
 * scale, each figure beside its baseline measured in the same run.
 * Last line: one JSON object. BENCH_N scales the library (default 1,000,000).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { idFromString, idToString } from '../src/core/ids';
import { Library } from '../src/engine/library';
import { EntryTree } from './entries';
import { rawInsert, timedBatches } from './raw-insert';
import { registry } from '../src/engine/registry';
import { ENGINE_NODE_FLAGS } from '../src/worker/limits';
import type { StoreEvent } from '../src/store';
import type { AdaptiveFlush } from '../src/store/journal';

const N = Number(process.env.BENCH_N ?? 1_000_000);
const BATCH = 1000;
const APPLY_WINDOW = 4;
const COMMIT_SECONDS = Number(process.env.BENCH_COMMIT_SECONDS ?? 2);

const root = process.env.BENCH_ROOT ?? mkdtempSync(path.join(os.tmpdir(), 'lls-bench-store-'));
const say = (s: string) => process.stdout.write(s + (process.env.BENCH_RSS ? `  [phase peak rss ${Math.round(PhasePeaks.hwmMB())} MB]` : '') + '\n');

/**
 * Peak memory per phase. Linux lets a process reset its RSS high-water mark
 * (VmHWM, which getrusage's maxRSS follows) through /proc/self/clear_refs, so
 * each phase's peak is measured on its own; the run's peak is the largest of
 * them, i.e. still the peak over the whole run. Elsewhere: maxRSS only.
 */
class PhasePeaks {
  readonly peaks: Record<string, number> = {};
  private current: string | null = null;
  private readonly resettable: boolean;
  constructor() {
    let ok = false;
    this.peaks.load = PhasePeaks.hwmMB(); // loading the code, before the first reset
    try {
      writeFileSync('/proc/self/clear_refs', '5');
      ok = true;
    } catch {
      /* not Linux, or not allowed */
    }
    this.resettable = ok;
  }
  /** Peak RSS (MB) since the last reset. */
  static hwmMB(): number {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) return Number(m[1]) / 1024;
    } catch {
      /* fall through */
    }
    return process.resourceUsage().maxRSS / 1024;
  }
  /** Ends the current phase (records its peak) and starts `name`. */
  phase(name: string | null): void {
    if (this.current !== null) this.peaks[this.current] = Math.max(this.peaks[this.current] ?? 0, PhasePeaks.hwmMB());
    this.current = name;
    if (name !== null && this.resettable) writeFileSync('/proc/self/clear_refs', '5');
    profile?.mark(name ?? 'end');
  }
  get max(): number {
    return Math.max(0, ...Object.values(this.peaks));
  }
}

/**
 * BENCH_PROFILE=1: where the memory goes. A separate process samples this
 * one's RSS every millisecond (so the sampling costs this process no
 * memory); phases, store events and a breakdown (V8 heap, array buffers,
 * sql.js's WebAssembly memory, database size) are logged against it.
 */
class Profile {
  private readonly marks: { t: number; what: string; detail?: string }[] = [];
  private readonly sampler = spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('fs'); const f = '/proc/' + process.argv[1] + '/status'; const t = [], r = []; let done = false;
       const tick = () => { if (done) return; try { const m = /VmRSS:\\s+(\\d+)/.exec(fs.readFileSync(f, 'utf8')); t.push(performance.timeOrigin + performance.now()); r.push(Number(m[1])); } catch { done = true; } setTimeout(tick, 1); };
       tick(); process.stdin.resume(); process.stdin.on('end', () => { done = true; process.stdout.write(JSON.stringify({ t, r })); });`,
      String(process.pid),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  private readonly samples: Promise<{ t: number[]; r: number[] }>;
  wasm: { buffer: ArrayBuffer } | null = null;
  dbBytes: () => number = () => 0;

  constructor(readonly label: string) {
    let out = '';
    this.sampler.stdout!.on('data', (d) => (out += d));
    this.samples = new Promise((res) => this.sampler.on('close', () => res(out ? JSON.parse(out) : { t: [], r: [] })));
    // Find sql.js's WebAssembly memory, to report its size.
    type Instantiated = { instance: { exports: Record<string, unknown> } };
    const WA = (globalThis as unknown as { WebAssembly: { instantiate: (...a: unknown[]) => Promise<Instantiated>; Memory: Function } }).WebAssembly;
    const inst = WA.instantiate;
    WA.instantiate = async (...a: unknown[]) => {
      const r = await inst(...a);
      for (const v of Object.values(r.instance.exports)) if (v instanceof WA.Memory) this.wasm = v as { buffer: ArrayBuffer };
      return r;
    };
  }

  now(): number {
    return performance.timeOrigin + performance.now();
  }

  breakdown(): string {
    const m = process.memoryUsage();
    const mb = (x: number) => (x / 1048576).toFixed(0);
    return `rss ${mb(m.rss)} heapUsed ${mb(m.heapUsed)} heapTotal ${mb(m.heapTotal)} external ${mb(m.external)} arrayBuffers ${mb(m.arrayBuffers)} wasm ${mb(this.wasm?.buffer.byteLength ?? 0)} db ${mb(this.dbBytes())}`;
  }

  mark(what: string, detail?: string, t = this.now()): void {
    this.marks.push({ t, what, detail: detail ?? this.breakdown() });
  }

  /** Stops sampling; prints the marks with the peak RSS between each and the next. */
  async report(): Promise<void> {
    this.sampler.stdin!.end();
    const { t, r } = await this.samples;
    const marks = [...this.marks].sort((a, b) => a.t - b.t);
    const t0 = marks.length ? marks[0].t : 0;
    const lines = [`profile (${this.label}): ${t.length} RSS samples; peak RSS from each mark to the next`];
    for (let i = 0; i < marks.length; i++) {
      const from = marks[i].t;
      const to = i + 1 < marks.length ? marks[i + 1].t : Infinity;
      let peak = 0;
      let at = from;
      for (let j = 0; j < t.length; j++) if (t[j] >= from && t[j] < to && r[j] > peak) (peak = r[j]), (at = t[j]);
      lines.push(
        `  +${((from - t0) / 1000).toFixed(3)}s ${marks[i].what.padEnd(24)} peak ${(peak / 1024).toFixed(0).padStart(4)} MB at +${((at - t0) / 1000).toFixed(3)}s | ${marks[i].detail}`,
      );
    }
    process.stderr.write(lines.join('\n') + '\n');
  }
}

const profile =
  process.env.BENCH_PROFILE && !process.argv.includes('--baseline') ? new Profile(process.argv.includes('--open') ? 'reopen process' : 'engine process') : null;

/** Store events, stamped, in the profile. */
const profileStoreEvent = (e: StoreEvent): void => {
  if (!profile) return;
  if (e.type === 'snapshot') {
    const end = profile.now();
    profile.mark('snapshot start', `${(e.bytes / 1048576).toFixed(0)} MB, export ${e.exportMs.toFixed(0)} ms of ${e.ms.toFixed(0)} ms`, end - e.ms);
    profile.mark('snapshot end');
  } else if (e.type === 'open') {
    profile.mark('store open', `${e.ms.toFixed(0)} ms, replayed ${e.replayedRecords}; ${profile.breakdown()}`);
  }
};

const tagData = (i: number) => ({ name: `tag ${i}`, color: 'red', icon: null, description: null, namespace: null });

async function commitLoop(lib: Library, concurrency: number): Promise<number> {
  await commitFor(lib, concurrency, 0.5); // warm-up: JIT and caches, not measured
  return commitFor(lib, concurrency, COMMIT_SECONDS);
}

async function commitFor(lib: Library, concurrency: number, seconds: number): Promise<number> {
  let n = 0;
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const worker = async () => {
    while (performance.now() < deadline) {
      await lib.commitShared([{ model: 'tag', op: 'create', data: tagData(n) }]);
      n++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return n / ((performance.now() - t0) / 1000);
}

function nativeCommits(): number {
  // Loaded here only: the engine's process must not carry the native library.
  const Database = require('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(path.join(root, 'native.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const tag = registry.sharedModel('tag');
  for (const s of tag.schema) db.exec(s);
  db.exec('CREATE TABLE peer_log (origin BLOB NOT NULL, seq INTEGER NOT NULL, hlc BLOB NOT NULL, model TEXT NOT NULL, uuid BLOB NOT NULL, op INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (origin, seq)) WITHOUT ROWID');
  const insTag = db.prepare(
    'INSERT INTO tag (uuid, hlc, created_hlc, live, name, name_hlc, color, color_hlc, icon, icon_hlc, description, description_hlc, namespace, namespace_hlc) VALUES (?, ?, ?, 1, ?, ?, ?, ?, NULL, ?, NULL, ?, NULL, ?)',
  );
  const insLog = db.prepare('INSERT INTO peer_log (origin, seq, hlc, model, uuid, op, data) VALUES (?, ?, ?, ?, ?, 0, ?)');
  const origin = Buffer.alloc(16, 1);
  const tx = db.transaction((i: number) => {
    const uuid = Buffer.alloc(16);
    uuid.writeUInt32BE(i);
    const hlc = Buffer.alloc(24);
    hlc.writeUInt32BE(i, 4);
    insTag.run(uuid, hlc, hlc, `tag ${i}`, hlc, 'red', hlc, hlc, hlc, hlc);
    insLog.run(origin, i + 1, hlc, 'tag', uuid, tag.codec.encode(tagData(i)));
  });
  let n = 0;
  const t0 = performance.now();
  const deadline = t0 + COMMIT_SECONDS * 1000;
  while (performance.now() < deadline) tx(n++);
  const rate = n / ((performance.now() - t0) / 1000);
  db.close();
  return rate;
}

/** Runs this script in a child process (baselines, reopening) so its memory and JIT state stay out of the engine's figures. */
function childRun(args: string[]): string {
  const out = execFileSync(process.execPath, [...process.execArgv, __filename, ...args], {
    env: { ...process.env, BENCH_ROOT: root },
    encoding: 'utf8',
  });
  return out.trim().split('\n').pop()!;
}

function baseline(phase: 'raw' | 'native'): number {
  return Number(JSON.parse(childRun(['--baseline', phase])).rate);
}

async function openPhase(dataDir: string, id: string): Promise<void> {
  let store: unknown = null;
  let closeSnapshot: unknown = null;
  const peaks = new PhasePeaks();
  peaks.phase('open');
  const t0 = performance.now();
  const lib = await Library.open({
    dataDir,
    libraryId: idFromString(id),
    now: () => Date.now() + 10 * 365 * 86400_000,
    onStoreEvent: (e) => {
      if (e.type === 'open') store = e;
      if (e.type === 'snapshot') closeSnapshot = e;
      profileStoreEvent(e);
    },
  });
  const ms = performance.now() - t0;
  if (profile) profile.dbBytes = () => dbBytes(lib);
  peaks.phase('count');
  const entries = lib.counts().entry;
  // The replayed journal tail makes close() take a snapshot: part of reopening's peak.
  peaks.phase('close');
  await lib.close();
  if (profile) profile.dbBytes = () => 0;
  peaks.phase(null);
  await profile?.report();
  const rss = Object.fromEntries(Object.entries(peaks.peaks).map(([k, v]) => [k, Math.round(v)]));
  process.stdout.write(JSON.stringify({ ms, entries, store, closeSnapshot, rssMB: Math.round(peaks.max), rssPhasesMB: rss }) + '\n');
}

function dbBytes(lib: Library): number {
  return lib.store.read((r) => Number(r.value('PRAGMA page_count')) * Number(r.value('PRAGMA page_size')));
}

async function main(): Promise<void> {
  const peaks = new PhasePeaks();
  peaks.phase('startup');
  const tree = new EntryTree(N);
  say(`bench:store — ${N.toLocaleString()} entries, batches of ${BATCH}, ${os.cpus().length} cores, Node ${process.version}`);
  const flags = process.execArgv.join(' ');
  say(`engine process flags: ${flags || '(none)'}; the engine worker uses the same limits (src/worker/limits.ts)`);
  if (!ENGINE_NODE_FLAGS.every((f) => process.execArgv.includes(f))) say(`warning: run with ${ENGINE_NODE_FLAGS.join(' ')} (npm run bench:store does) for figures comparable to the engine worker`);

  const rawInsertRowsPerSec = baseline('raw');
  say(`raw sql.js prepared inserts (baseline, separate process) ${Math.round(rawInsertRowsPerSec).toLocaleString()} rows/s`);

  const dataDir = path.join(root, 'lib');
  const snapshots: Extract<StoreEvent, { type: 'snapshot' }>[] = [];
  const lib = await Library.create({
    dataDir,
    name: 'bench',
    now: () => Date.now() + 10 * 365 * 86400_000,
    onStoreEvent: (e) => {
      if (e.type === 'snapshot') snapshots.push(e);
      profileStoreEvent(e);
    },
  });
  if (profile) profile.dbBytes = () => dbBytes(lib);
  peaks.phase('apply');
  const { device, location } = tree.parents();
  await lib.applyState('device', [device]);
  await lib.applyState('location', [location]);
  // As a backfill does: the next page is applied while the previous one's
  // fdatasync is in flight (at most APPLY_WINDOW pages not yet durable).
  let genMs = 0;
  const t0 = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (const batch of timedBatches(tree, BATCH, (ms) => (genMs += ms))) {
    // Yield between pages, as a page arriving from the network would, so each commit's fdatasync starts at once.
    if (inFlight.length >= APPLY_WINDOW) await inFlight.shift();
    else await new Promise(setImmediate);
    inFlight.push(
      lib.applyState('entry', batch).then((r) => {
        if (r.applied !== batch.length) throw new Error(`applied ${r.applied} of ${batch.length}`);
      }),
    );
  }
  await Promise.all(inFlight);
  const ms = performance.now() - t0 - genMs;
  const applyRowsPerSec = N / (ms / 1000);
  say(`apply remote entry state (durable, all bookkeeping) ${Math.round(applyRowsPerSec).toLocaleString()} rows/s  = ${(applyRowsPerSec / rawInsertRowsPerSec).toFixed(2)} × raw (target ≥ 0.75)`);
  if (lib.counts().entry !== N) throw new Error(`expected ${N} entries, have ${lib.counts().entry}`);

  peaks.phase('commit');
  const flushes = (lib.store.journalForTesting.io.fdatasync as AdaptiveFlush).counts;
  const flushesBefore = { ...flushes };
  const commitsPerSec = await commitLoop(lib, 1);
  const nativeCommitsPerSec = baseline('native');
  say(`durable 1-row shared commits, one at a time ${Math.round(commitsPerSec).toLocaleString()}/s (target ≥ 2500); better-sqlite3 WAL synchronous=FULL ${Math.round(nativeCommitsPerSec).toLocaleString()}/s`);
  peaks.phase('group commit');
  const groupCommitsPerSec = await commitLoop(lib, 64);
  say(`durable 1-row shared commits, 64 concurrent (group commit) ${Math.round(groupCommitsPerSec).toLocaleString()}/s (target ≥ 8000)`);
  say(`  journal flushes while committing: ${flushes.blocking - flushesBefore.blocking} on the engine thread (the disk is fast), ${flushes.background - flushesBefore.background} on the thread pool`);

  // Reopen from snapshot + journal, in a fresh process as after a restart:
  // snapshot now, then leave a journal tail behind.
  peaks.phase('snapshot');
  await lib.store.snapshot();
  peaks.phase('journal tail');
  for (let i = 0; i < 200; i++) await lib.commitShared([{ model: 'tag', op: 'create', data: tagData(i) }]);
  const id = idToString(lib.id);
  await lib.store.closeWithoutSnapshot(); // as after a crash: the journal tail is replayed on open
  if (profile) profile.dbBytes = () => 0;
  peaks.phase(null);
  await profile?.report();
  const opened = JSON.parse(childRun(['--open', dataDir, id]));
  if (opened.entries !== N) throw new Error(`reopened with ${opened.entries} entries`);
  const openMs = opened.ms as number;
  if (process.env.BENCH_RSS) say(`open detail ${JSON.stringify(opened)}`);
  say(`open ${N.toLocaleString()}-entry library from snapshot + journal ${openMs.toFixed(0)} ms (target ≤ 500), fresh process (RSS ${opened.rssMB} MB)`);

  const engineRssMB = peaks.max;
  const peakRssMB = Math.max(engineRssMB, opened.rssMB);
  const phaseList = (p: Record<string, number>) => Object.entries(p).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ');
  say(`peak RSS ${peakRssMB.toFixed(0)} MB (target ≤ 400): building, committing and snapshotting ${engineRssMB.toFixed(0)} MB, reopening ${opened.rssMB} MB`);
  say(`  peak RSS by phase (MB): engine ${phaseList(peaks.peaks)}; reopen ${phaseList(opened.rssPhasesMB)} (close takes a snapshot)`);
  const live = snapshots.filter((e) => e.live).length;
  const describe = (e: Extract<StoreEvent, { type: 'snapshot' }>) =>
    `${(e.bytes / 1048576).toFixed(0)} MB ${e.live ? 'from the file' : `exported in ${e.exportMs.toFixed(0)} ms, moved in ${e.moveMs.toFixed(0)} ms`}, ${e.ms.toFixed(0)} ms`;
  say(
    `snapshots: ${snapshots.length} in the engine process, ${live} written straight from the database file, ${snapshots.length - live} exported (a copy): ${snapshots.map(describe).join('; ')}` +
      (opened.closeSnapshot ? `; reopened process on close: ${describe(opened.closeSnapshot)}` : ''),
  );
  rmSync(root, { recursive: true, force: true });
  const round = (x: number) => Math.round(x);
  process.stdout.write(
    JSON.stringify({
      entries: N,
      commitsPerSec: round(commitsPerSec),
      nativeCommitsPerSec: round(nativeCommitsPerSec),
      groupCommitsPerSec: round(groupCommitsPerSec),
      applyRowsPerSec: round(applyRowsPerSec),
      rawInsertRowsPerSec: round(rawInsertRowsPerSec),
      applyVsRaw: Number((applyRowsPerSec / rawInsertRowsPerSec).toFixed(3)),
      openMs: round(openMs),
      peakRssMB: round(peakRssMB),
      snapshotPeakRssMB: round(peaks.peaks.snapshot),
      snapshots: snapshots.length,
      liveSnapshots: live,
      applyPeakRssMB: round(peaks.peaks.apply),
      reopenPeakRssMB: round(opened.rssMB),
    }) + '\n',
  );
}

const phase = process.argv.indexOf('--baseline');
const open = process.argv.indexOf('--open');
if (open >= 0) {
  void openPhase(process.argv[open + 1], process.argv[open + 2]);
} else if (phase >= 0) {
  const which = process.argv[phase + 1];
  (which === 'raw' ? rawInsert(new EntryTree(N), BATCH) : Promise.resolve(nativeCommits())).then((rate) => process.stdout.write(JSON.stringify({ rate }) + '\n'));
} else {
  main().catch((e) => {
    rmSync(root, { recursive: true, force: true });
    console.error(e);
    process.exit(1);
  });
}
