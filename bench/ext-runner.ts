/**
 * bench:ext, the part that runs inside VS Code's extension host (as the
 * workbench's test runner, like the extension tests): see bench/ext.ts.
 *
 * 1. Activation: the extension's own account of its activate() call (from
 *    its exports) plus loading its bundle afresh here (read, compile,
 *    evaluate: what VS Code does before calling activate), so activateMs
 *    covers everything VS Code waits for.
 * 2. Baseline: the extension host's event-loop delay while this window owns
 *    an idle engine (after VS Code's start-up activations settled, before
 *    any other process starts), over 8 s.
 * 3. Starts `leaderless serve` on the data directory bench/ext.ts filled,
 *    invites, runs the Join Library command with the code and measures,
 *    until the library is 'ready' with every entry: the backfill time and
 *    the extension host's event-loop delay (perf_hooks histogram, 5 ms
 *    resolution) meanwhile.
 * 4. Same run, same serving peer: a fresh `leaderless serve` joins with a
 *    second invite, the CLI-to-CLI backfill this one is compared with.
 *
 * Results go to $LLS_BENCH_RESULTS as JSON; failures too.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { Session } from 'node:inspector';
import * as vscode from 'vscode';
import { ControlClient } from '../src/service/control-client';
import { controlEndpoint } from '../src/service/control-endpoint';
import type { StatusReport } from '../src/service/status';
import type { ExtensionExports } from '../src/vscode/extension';
import { CliProcess, runCli } from '../test/support/cli-process';

const EXTENSION_ID = 'leaderless.leaderless-sync';

interface Config {
  repo: string;
  bootstrap: string;
  serverDir: string;
  n: number;
  results: string;
}

function config(): Config {
  const need = (name: string) => {
    const v = process.env[name];
    if (!v) throw new Error(`bench:ext runner: ${name} is not set (run it through npm run bench:ext)`);
    return v;
  };
  return {
    repo: need('LEADERLESS_TEST_REPO'),
    bootstrap: need('LEADERLESS_TEST_BOOTSTRAP'),
    serverDir: need('LLS_BENCH_SERVER_DIR'),
    n: Number(need('LLS_BENCH_N')),
    results: need('LLS_BENCH_RESULTS'),
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, everyMs: number, check: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The engine of this window, through the extension's own client (the views use the same path). */
const engine = async <T>(method: string, params?: Record<string, unknown>): Promise<T> => vscode.commands.executeCommand<T>('leaderlessSync.internal.call', method, params);

/** Event-loop delay of one phase (bench/ext.ts prints it). */
export interface Histogram {
  /** Longest garbage-collection pause of this thread's heap in the phase (the extension host's: VS Code's objects and every extension's). */
  gcMaxMs: number;
  maxMs: number;
  p99Ms: number;
  p50Ms: number;
  meanMs: number;
  samples: number;
}

/** Event-loop delay of this thread while `fn` runs. */
async function measureDelay<T>(fn: () => Promise<T>): Promise<{ result: T; delay: Histogram }> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const t0 = performance.now();
  let last = t0;
  const stalls: string[] = [];
  let gcMaxMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMaxMs = Math.max(gcMaxMs, e.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  const tick = setInterval(() => {
    const t = performance.now();
    if (t - last > 40) stalls.push(`${Math.round(last - t0)}+${Math.round(t - last)}`);
    last = t;
  }, 5);
  try {
    const result = await fn();
    h.disable();
    clearInterval(tick);
    gc.disconnect();
    if (process.env.LLS_BENCH_STALLS) console.log(`stalls (ms into the phase + gap): ${stalls.join(' ')}`);
    const ms = (ns: number) => Math.round((ns / 1e6) * 100) / 100;
    return { result, delay: { gcMaxMs: Math.round(gcMaxMs * 100) / 100, maxMs: ms(h.max), p99Ms: ms(h.percentile(99)), p50Ms: ms(h.percentile(50)), meanMs: ms(h.mean), samples: h.count } };
  } finally {
    h.disable();
    clearInterval(tick);
    gc.disconnect();
  }
}

/** Loads the extension bundle afresh (a copy, so Node compiles it again): what VS Code does before activate(). */
function bundleLoadMs(repo: string): number {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lls-bench-load-'));
  try {
    const copy = path.join(dir, 'extension.js');
    copyFileSync(path.join(repo, 'dist/extension.js'), copy);
    const t0 = performance.now();
    require(copy); // eslint-disable-line @typescript-eslint/no-require-imports
    return performance.now() - t0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function libraryStatus(call: (m: string, p: Record<string, unknown>) => Promise<StatusReport>, library: string) {
  const s = await call('status', { library, digest: false });
  return s.libraries[0];
}

async function cliBackfill(cfg: Config, cli: string, library: string): Promise<{ ms: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lls-bench-cli-fresh-'));
  const args = (more: string[]) => ['--data-dir', dir, '--bootstrap', cfg.bootstrap, ...more];
  const fresh = new CliProcess(cli, args(['serve']));
  try {
    await fresh.waitForStderr(/serving .*control socket/, 60_000);
    await fresh.waitForStderr(/announced on the DHT/, 60_000);
    const invite = await runCli(cli, ['--data-dir', cfg.serverDir, 'invite', '--no-wait', '--json']);
    if (invite.code !== 0) throw new Error(`invite for the CLI baseline failed: ${invite.stderr}`);
    const code = (JSON.parse(invite.stdout.trim().split('\n')[0]) as { code: string }).code;
    const t0 = performance.now();
    const join = await runCli(cli, args(['join', code, '--no-wait', '--json']));
    if (join.code !== 0) throw new Error(`CLI join failed: ${join.stderr}`);
    const client = await ControlClient.connect(controlEndpoint(dir));
    try {
      await until('the fresh CLI peer to be ready with every entry', 600_000, 200, async () => {
        const lib = await libraryStatus((m, p) => client.call<StatusReport>(m, p), library);
        return lib.state === 'ready' && (lib.counts.entry ?? 0) >= cfg.n;
      });
    } finally {
      client.close();
    }
    return { ms: performance.now() - t0 };
  } finally {
    fresh.kill('SIGTERM');
    await fresh.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Waits until no extension has been activated for 10 s (at most 90 s);
 * returns how long that took. (VS Code activates some built-ins — JSON,
 * Emmet, configuration editing — in a late start-up phase, seconds after
 * the others, compiling their bundles on this thread for ~100 ms.)
 */
async function settle(): Promise<number> {
  const t0 = performance.now();
  const active = () => vscode.extensions.all.filter((e) => e.isActive).length;
  let last = active();
  let since = performance.now();
  while (performance.now() - since < 10_000 && performance.now() - t0 < 90_000) {
    await sleep(250);
    const now = active();
    if (now !== last) {
      last = now;
      since = performance.now();
    }
  }
  return performance.now() - t0;
}

/** With LLS_BENCH_PROFILE=file.cpuprofile: a CPU profile of this thread (the extension host's) until the returned stop(). */
async function profile(file: string | undefined): Promise<() => Promise<void>> {
  if (!file) return async () => undefined;
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res)))); // eslint-disable-line @typescript-eslint/no-explicit-any
  await post('Profiler.enable');
  await post('Profiler.start');
  return async () => {
    const { profile: p } = await post('Profiler.stop');
    writeFileSync(file, JSON.stringify(p));
    session.disconnect();
  };
}

export async function run(): Promise<void> {
  const out: Record<string, unknown> = {};
  let cfg: Config | null = null;
  const server: CliProcess[] = [];
  try {
    cfg = config();
    const c = cfg;
    const cli = path.join(c.repo, 'dist/cli.js');

    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    if (!ext) throw new Error(`${EXTENSION_ID} is not installed in this window`);
    const api = (await ext.activate()) as Partial<ExtensionExports> | undefined;
    if (!api?.activation) throw new Error('the extension does not report its activation timings (exports.activation)');
    out.bundleLoadMs = bundleLoadMs(c.repo);
    out.activateCallMs = api.activation.activateMs;
    out.activateMs = (out.bundleLoadMs as number) + api.activation.activateMs;

    const state = () => vscode.commands.executeCommand<{ connection: string }>('leaderlessSync.internal.state');
    await until('this window to own the engine', 60_000, 100, async () => (await state()).connection === 'owner');

    // VS Code goes on activating built-in extensions for a while after start-up (JSON, Emmet, … compile
    // their bundles on this thread); measure once that has settled, as a user's backfill would be.
    out.settleMs = Math.round(await settle());

    // Baseline: the same window, its engine idle and no other process starting, over a stretch of the
    // same order as the backfill.
    const stopProfile = await profile(process.env.LLS_BENCH_PROFILE); // idle and backfill, one profile
    const idle = await measureDelay(() => sleep(Number(process.env.LLS_BENCH_IDLE_MS ?? 8000)));
    out.idleDelay = idle.delay;

    // The serving peer: its own process (a child of this extension host), on the run's testnet.
    const serve = new CliProcess(cli, ['--data-dir', c.serverDir, '--bootstrap', c.bootstrap, 'serve']);
    server.push(serve);
    await serve.waitForStderr(/serving .*control socket/, 120_000);
    await serve.waitForStderr(/announced on the DHT/, 60_000);
    const invite = await runCli(cli, ['--data-dir', c.serverDir, 'invite', '--no-wait', '--json']);
    if (invite.code !== 0) throw new Error(`invite failed: ${invite.stderr}`);
    const code = (JSON.parse(invite.stdout.trim().split('\n')[0]) as { code: string }).code;

    let library = '';
    const busy = await measureDelay(async () => {
      const t0 = performance.now();
      const joined = await vscode.commands.executeCommand<{ library: string } | undefined>('leaderlessSync.joinLibrary', code);
      if (!joined) throw new Error(`Join Library failed: ${JSON.stringify(await state())}`);
      library = joined.library;
      const pairedMs = performance.now() - t0;
      const readyMs = await until('the joined library to be ready with every entry', 600_000, 250, async () => {
        const lib = await libraryStatus(engine, library);
        return lib.state === 'ready' && (lib.counts.entry ?? 0) >= c.n ? performance.now() - t0 : null;
      });
      return { pairedMs, readyMs };
    });
    await stopProfile();
    out.pairedMs = Math.round(busy.result.pairedMs);
    out.backfillMs = Math.round(busy.result.readyMs);
    out.backfillDelay = busy.delay;

    const base = await cliBackfill(c, cli, library);
    out.cliBackfillMs = Math.round(base.ms);
    out.ok = true;
  } catch (e) {
    out.ok = false;
    out.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
  } finally {
    for (const p of server) {
      p.kill('SIGTERM');
      await p.exited;
    }
    if (cfg) writeFileSync(cfg.results, JSON.stringify(out));
  }
  if (!out.ok) throw new Error(String(out.error));
}
