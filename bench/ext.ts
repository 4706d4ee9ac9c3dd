/**
 * bench:ext — the extension inside a real VS Code (code-server 4.100.3 and
 * headless Chromium, the harness of the extension tests), on a local
 * testnet. Last line: one JSON object.
 *
 * - activateMs: loading the extension's bundle (read, compile, evaluate)
 *   plus its activate() call, in the extension host (target ≤ 250 ms).
 * - maxEventLoopDelayMs: the extension host's largest event-loop delay while
 *   its engine backfills BENCH_N entries (default 1,000,000) from a
 *   `leaderless serve` peer (target ≤ 50 ms); beside it the same window's
 *   delay with its engine idle, measured just before.
 * - backfillSeconds1M: Join Library → the library 'ready' with every entry;
 *   beside it a CLI peer's backfill from the same serving peer in the same
 *   run.
 *
 * This process fills the serving peer's data directory (not timed) and
 * starts the workbench session; bench/ext-runner.ts does the rest inside the
 * extension host. Everything started is stopped and removed on every way out.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Library } from '../src/engine/library';
import { loadOrCreateDeviceKeyPair } from '../src/net/keys';
import { DEVICE_KEY_FILE } from '../src/service/engine-service';
import { repoRoot } from '../test/vscode/harness/code-server';
import { runBounded, timeoutFromEnv } from '../test/vscode/harness/run-bounded';
import { startSession } from '../test/vscode/harness/session';
import { EntryTree, fillRelayedTree } from './entries';
import type { Histogram as Delay } from './ext-runner';

const N = Number(process.env.BENCH_N ?? 1_000_000);
const TARGET_ACTIVATE_MS = 250;
const TARGET_DELAY_MS = 50;
/** Bundled by the npm script: the extension host loads JavaScript. */
const RUNNER = path.join(repoRoot, 'dist/bench/ext-runner.js');

interface RunnerResults {
  ok: boolean;
  error?: string;
  activateMs: number;
  bundleLoadMs: number;
  activateCallMs: number;
  pairedMs: number;
  backfillMs: number;
  cliBackfillMs: number;
  idleDelay: Delay;
  backfillDelay: Delay;
}

const say = (s: string) => process.stdout.write(s + '\n');
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
const delay = (d: Delay) => `max ${d.maxMs} ms, P99 ${d.p99Ms} ms, P50 ${d.p50Ms} ms (${fmt(d.samples)} samples; longest GC pause of the host's heap ${d.gcMaxMs} ms)`;

runBounded('bench:ext', timeoutFromEnv(1800), async ({ defer }) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'lls-bench-ext-'));
  defer(() => rmSync(root, { recursive: true, force: true }));
  if (!existsSync(RUNNER)) throw new Error(`${RUNNER} is missing: run through npm run bench:ext`);
  say(`bench:ext — the extension in code-server ${'4.100.3'} + headless Chromium on a local testnet: ${fmt(N)} entries backfilled from a leaderless serve peer; ${os.cpus().length} cores, Node ${process.version}`);

  const serverDir = path.join(root, 'server');
  const f0 = performance.now();
  // The key `serve` will run with: this device's id is derived from it.
  const lib = await Library.create({ dataDir: serverDir, name: 'bench ext', deviceName: 'server', keyPair: loadOrCreateDeviceKeyPair(path.join(serverDir, DEVICE_KEY_FILE)) });
  await lib.ready();
  await fillRelayedTree(lib, new EntryTree(N));
  await lib.close();
  say(`serving peer's data directory filled with ${fmt(N)} entries in ${((performance.now() - f0) / 1000).toFixed(1)} s (not timed)`);

  const results = path.join(root, 'results.json');
  const session = await startSession(
    { defer },
    {
      name: 'bench:ext',
      extensionTestsPath: RUNNER,
      env: { LLS_BENCH_SERVER_DIR: serverDir, LLS_BENCH_N: String(N), LLS_BENCH_RESULTS: results },
      onLog: (level, text) => {
        if (level === 'error' || /^stalls /.test(text)) process.stderr.write(text + '\n');
      },
    },
  );
  const exit = await session.workbench.exitCode;
  if (!existsSync(results)) throw new Error(`the runner wrote no results (exit ${exit}); code-server log:\n${session.server.logTail(30)}`);
  const r = JSON.parse(readFileSync(results, 'utf8')) as RunnerResults;
  if (!r.ok) throw new Error(`the runner failed: ${r.error}`);

  const maxDelay = r.backfillDelay.maxMs;
  say(
    `activation in the extension host: ${r.activateMs.toFixed(1)} ms (target ≤ ${TARGET_ACTIVATE_MS}: ${verdict(r.activateMs <= TARGET_ACTIVATE_MS)}) = ` +
      `loading the bundle ${r.bundleLoadMs.toFixed(1)} ms + activate() ${r.activateCallMs.toFixed(1)} ms`,
  );
  say(`extension host event-loop delay, engine idle (baseline, same window just before): ${delay(r.idleDelay)}`);
  say(
    `extension host event-loop delay while its engine backfills ${fmt(N)} entries: ${delay(r.backfillDelay)} (target max ≤ ${TARGET_DELAY_MS}: ${verdict(maxDelay <= TARGET_DELAY_MS)})`,
  );
  say(
    `backfill of ${fmt(N)} entries, Join Library → 'ready' with every entry: ${(r.backfillMs / 1000).toFixed(1)} s (paired after ${fmt(r.pairedMs)} ms); ` +
      `a CLI peer from the same serving peer, same run (baseline): ${(r.cliBackfillMs / 1000).toFixed(1)} s`,
  );
  say(
    JSON.stringify({
      entries: N,
      activateMs: Math.round(r.activateMs * 10) / 10,
      bundleLoadMs: Math.round(r.bundleLoadMs * 10) / 10,
      activateCallMs: Math.round(r.activateCallMs * 10) / 10,
      maxEventLoopDelayMs: maxDelay,
      eventLoopDelayP99Ms: r.backfillDelay.p99Ms,
      idleMaxEventLoopDelayMs: r.idleDelay.maxMs,
      gcMaxMs: r.backfillDelay.gcMaxMs,
      idleGcMaxMs: r.idleDelay.gcMaxMs,
      backfillSeconds1M: Math.round(r.backfillMs / 100) / 10,
      cliBackfillSeconds: Math.round(r.cliBackfillMs / 100) / 10,
      pass: { activateMs: r.activateMs <= TARGET_ACTIVATE_MS, maxEventLoopDelayMs: maxDelay <= TARGET_DELAY_MS },
    }),
  );
  return 0;
});
