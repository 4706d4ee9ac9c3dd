/**
 * bench:store — the durable store and the engine's write paths at library
 * scale, each figure beside its baseline measured in the same run.
 * Last line: one JSON object. BENCH_N scales the library (default 1,000,000).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { idFromString, idToString } from '../src/engine/ids';
import { Library } from '../src/engine/library';
import { EntryTree } from './entries';
import { rawInsert, timedBatches } from './raw-insert';
import { registry } from '../src/engine/registry';
import { ENGINE_NODE_FLAGS } from '../src/worker/limits';

const N = Number(process.env.BENCH_N ?? 1_000_000);
const BATCH = 1000;
const APPLY_WINDOW = 4;
const COMMIT_SECONDS = Number(process.env.BENCH_COMMIT_SECONDS ?? 2);

const root = process.env.BENCH_ROOT ?? mkdtempSync(path.join(os.tmpdir(), 'lls-bench-store-'));
const say = (s: string) => process.stdout.write(s + (process.env.BENCH_RSS ? `  [max rss ${Math.round(process.resourceUsage().maxRSS / 1024)} MB]` : '') + '\n');
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
  const t0 = performance.now();
  const lib = await Library.open({
    dataDir,
    libraryId: idFromString(id),
    now: () => Date.now() + 10 * 365 * 86400_000,
    onStoreEvent: (e) => {
      if (e.type === 'open') store = e;
    },
  });
  const ms = performance.now() - t0;
  const entries = lib.counts().entry;
  await lib.close();
  process.stdout.write(JSON.stringify({ ms, entries, store, rssMB: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n');
}

async function main(): Promise<void> {
  const tree = new EntryTree(N);
  say(`bench:store — ${N.toLocaleString()} entries, batches of ${BATCH}, ${os.cpus().length} cores, Node ${process.version}`);
  const flags = process.execArgv.join(' ');
  say(`engine process flags: ${flags || '(none)'}; the engine worker uses the same limits (src/worker/limits.ts)`);
  if (!ENGINE_NODE_FLAGS.every((f) => process.execArgv.includes(f))) say(`warning: run with ${ENGINE_NODE_FLAGS.join(' ')} (npm run bench:store does) for figures comparable to the engine worker`);

  const rawInsertRowsPerSec = baseline('raw');
  say(`raw sql.js prepared inserts (baseline, separate process) ${Math.round(rawInsertRowsPerSec).toLocaleString()} rows/s`);

  const dataDir = path.join(root, 'lib');
  const lib = await Library.create({ dataDir, name: 'bench', now: () => Date.now() + 10 * 365 * 86400_000 });
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

  const commitsPerSec = await commitLoop(lib, 1);
  const nativeCommitsPerSec = baseline('native');
  say(`durable 1-row shared commits, one at a time ${Math.round(commitsPerSec).toLocaleString()}/s (target ≥ 2500); better-sqlite3 WAL synchronous=FULL ${Math.round(nativeCommitsPerSec).toLocaleString()}/s`);
  const groupCommitsPerSec = await commitLoop(lib, 64);
  say(`durable 1-row shared commits, 64 concurrent (group commit) ${Math.round(groupCommitsPerSec).toLocaleString()}/s (target ≥ 8000)`);

  // Reopen from snapshot + journal, in a fresh process as after a restart:
  // snapshot now, then leave a journal tail behind.
  await lib.store.snapshot();
  for (let i = 0; i < 200; i++) await lib.commitShared([{ model: 'tag', op: 'create', data: tagData(i) }]);
  const id = idToString(lib.id);
  await lib.store.closeWithoutSnapshot(); // as after a crash: the journal tail is replayed on open
  const opened = JSON.parse(childRun(['--open', dataDir, id]));
  if (opened.entries !== N) throw new Error(`reopened with ${opened.entries} entries`);
  const openMs = opened.ms as number;
  if (process.env.BENCH_RSS) say(`open detail ${JSON.stringify(opened)}`);
  say(`open ${N.toLocaleString()}-entry library from snapshot + journal ${openMs.toFixed(0)} ms (target ≤ 500), fresh process (RSS ${opened.rssMB} MB)`);

  const engineRssMB = process.resourceUsage().maxRSS / 1024;
  const peakRssMB = Math.max(engineRssMB, opened.rssMB);
  say(`peak RSS ${peakRssMB.toFixed(0)} MB (target ≤ 400): building, committing and snapshotting ${engineRssMB.toFixed(0)} MB, reopening ${opened.rssMB} MB`);
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
