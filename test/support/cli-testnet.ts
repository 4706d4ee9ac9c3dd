/**
 * Mocha hooks for tests that run `leaderless` CLI processes against a local
 * testnet (loopback HyperDHT; never the public bootstrap nodes): bundles the
 * CLI and starts the testnet before the suite, kills the processes a test
 * started after it, and tears the testnet down after the suite.
 */
import { ControlClient } from '../../src/service/control-client';
import { controlEndpoint } from '../../src/service/control-endpoint';
import type { LibraryStatus, StatusReport } from '../../src/service/status';
import assert from 'node:assert/strict';
import { bundleCli, CliProcess, runCli } from './cli-process';
import { createTestnet, type Testnet } from './testnet';
import { cleanupTempDirs } from './tmp';

export interface CliTestnet {
  /** The bundled CLI (set once the suite's `before` ran). */
  cli: string;
  /** `--bootstrap` for the testnet: host:port,… */
  bootstrap: string;
  testnet: Testnet;
  /** Processes a test started: killed (SIGKILL if still running) after each test. */
  readonly procs: CliProcess[];
}

/** Call inside a `describe`: registers the hooks and returns the state they fill in. */
export function cliTestnet(): CliTestnet {
  const t = { procs: [] as CliProcess[] } as CliTestnet;
  before(async () => {
    [t.cli, t.testnet] = await Promise.all([bundleCli(), createTestnet(3)]);
    t.bootstrap = t.testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',');
  });
  afterEach(async () => {
    for (const p of t.procs.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.kill('SIGKILL');
      await p.exited;
    }
  });
  after(async () => {
    await t.testnet?.destroy();
    cleanupTempDirs();
  });
  return t;
}

/** `leaderless ARGS --bootstrap <testnet>`, which must exit 0: its stdout. */
export async function cliOk(net: CliTestnet, ...args: string[]): Promise<string> {
  const r = await runCli(net.cli, [...args, '--bootstrap', net.bootstrap]);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** `leaderless serve` on `dataDir` and the testnet, once it says it is serving (killed after the test). */
export async function serveOn(net: CliTestnet, dataDir: string): Promise<CliProcess> {
  const p = new CliProcess(net.cli, ['serve', '--data-dir', dataDir, '--bootstrap', net.bootstrap]);
  net.procs.push(p);
  await p.waitForStderr(/serving /);
  return p;
}

/** One control call to the engine serving `dataDir` (a `serve` process), on a connection of its own. */
export async function controlCall<T>(dataDir: string, method: string, params: Record<string, unknown> = {}): Promise<T> {
  const c = await ControlClient.connect(controlEndpoint(dataDir));
  try {
    return await c.call<T>(method, params);
  } finally {
    await c.close();
  }
}

/** The status of the (only) library `dataDir`'s engine serves. */
export async function libraryStatus(dataDir: string, digest = false): Promise<LibraryStatus> {
  return (await controlCall<StatusReport>(dataDir, 'status', { digest })).libraries[0];
}
