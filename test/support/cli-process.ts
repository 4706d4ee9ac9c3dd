/**
 * Running the `leaderless` CLI as shipped, in child processes: bundled
 * with esbuild like esbuild.mjs does (native addons external, resolved from
 * this repository's node_modules through NODE_PATH), started with an
 * environment that can reach neither the user's data nor the public DHT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { bundleEntries } from './bundle';

export async function bundleCli(): Promise<string> {
  return path.join(await bundleEntries({ cli: path.join(__dirname, '../../src/cli/main.ts') }, 'lls-cli-bundle-'), 'cli.js');
}

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, NODE_PATH: path.join(__dirname, '../../node_modules') };
  delete e.LEADERLESS_DATA_DIR;
  delete e.LEADERLESS_BOOTSTRAP;
  delete e.LEADERLESS_DEBUG;
  return e;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  /** Written to the command's stdin, which is then closed (default: no stdin at all, as from /dev/null). */
  input?: string;
}

/** Runs one command to completion (in `cwd`, default this process's). */
export function runCli(cli: string, args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  return new CliProcess(cli, args, opts).exited;
}

/** A running CLI process (e.g. `serve`) whose output can be waited on. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<CliResult>;
  private readonly watchers = new Set<() => void>();

  constructor(cli: string, args: readonly string[], opts: CliOptions = {}) {
    this.child = spawn(process.execPath, [cli, ...args], { env: env(), cwd: opts.cwd, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (opts.input !== undefined) this.child.stdin!.end(opts.input);
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => ((this.stdout += d), this.notify()));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => ((this.stderr += d), this.notify()));
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.notify();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves when stderr matches `re`; rejects if the process exits first or `timeoutMs` passes. */
  async waitForStderr(re: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.stderr)) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`exited before ${re}:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${this.stderr}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.watchers.add(() => (clearTimeout(t), r()));
      });
      this.watchers.clear();
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  private notify(): void {
    for (const w of this.watchers) w();
  }
}
