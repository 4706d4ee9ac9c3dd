/**
 * A second device for two-device tests: the `leaderless` CLI as shipped
 * (dist/cli.js, built by the harness) with its own data directory, on the
 * run's local testnet. Processes are children of the extension host, so the
 * harness's process-group kill ends any a test leaves behind.
 */
import { mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import { CliProcess, type CliResult } from '../../support/cli-process';
import { testEnv } from './test-env';

export class CliPeer {
  readonly dataDir: string;
  private readonly running = new Set<CliProcess>();

  constructor(name = 'peer') {
    this.dataDir = mkdtempSync(path.join(testEnv.tmp, `cli-${name}-`));
  }

  private args(args: readonly string[]): string[] {
    return ['--data-dir', this.dataDir, '--bootstrap', testEnv.bootstrap, ...args];
  }

  /** Runs one command to completion, e.g. run(['init', '--name', 'Desk']), run(['tags', '--json']). */
  run(args: readonly string[], opts: { cwd?: string } = {}): Promise<CliResult> {
    return this.start(args, opts).exited;
  }

  /** Runs one command and parses its stdout as JSON; rejects on a non-zero exit. */
  async json<T = unknown>(args: readonly string[]): Promise<T> {
    const r = await this.run(args);
    if (r.code !== 0) throw new Error(`leaderless ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  /** Starts a long-running command (`serve`, `invite`, `join`) and returns it; stop() ends it. */
  start(args: readonly string[], opts: { cwd?: string } = {}): CliProcess {
    const p = new CliProcess(this.cli, this.args(args), opts);
    this.running.add(p);
    void p.exited.then(() => this.running.delete(p));
    return p;
  }

  /** `serve` in the foreground; resolves once it logged that it is up. */
  async serve(): Promise<CliProcess> {
    const p = this.start(['serve']);
    await p.waitForStderr(/serving .*control socket/, 30_000);
    return p;
  }

  /** SIGTERM to every process this peer started, and waits for them. */
  async stop(): Promise<void> {
    const all = [...this.running];
    for (const p of all) p.kill('SIGTERM');
    await Promise.all(all.map((p) => p.exited));
  }

  private get cli(): string {
    return path.join(testEnv.repo, 'dist/cli.js');
  }
}
