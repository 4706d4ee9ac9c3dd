/**
 * Child processes standing in for VS Code windows (window-child.ts, bundled
 * with the engine worker as shipped), for tests of the one-engine-per-machine
 * ownership and takeover.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { bundleEntries } from './bundle';

export interface WindowBundle {
  child: string;
  worker: string;
}

/** Bundles the window stand-in and the engine worker (native addons external, as esbuild.mjs does). */
export async function bundleWindow(): Promise<WindowBundle> {
  const root = path.join(__dirname, '../..');
  const out = await bundleEntries(
    { 'window-child': path.join(root, 'test/support/window-child.ts'), worker: path.join(root, 'src/worker/engine-worker.ts') },
    'lls-window-bundle-',
  );
  return { child: path.join(out, 'window-child.js'), worker: path.join(out, 'worker.js') };
}

export interface WindowMessage {
  type: 'state' | 'event' | 'answer' | 'log';
  state?: string;
  error?: unknown;
  at?: number;
  name?: string;
  data?: unknown;
  id?: number;
  result?: unknown;
  line?: string;
}

export class WindowProcess {
  readonly child: ChildProcess;
  readonly messages: WindowMessage[] = [];
  state = 'stopped';
  private nextId = 1;
  private readonly watchers = new Set<() => void>();
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(bundle: WindowBundle, dataDir: string) {
    this.child = spawn(process.execPath, [bundle.child, dataDir, bundle.worker], {
      env: { ...process.env, NODE_PATH: path.join(__dirname, '../../node_modules') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let buf = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const m = JSON.parse(buf.slice(0, nl)) as WindowMessage;
        buf = buf.slice(nl + 1);
        if (m.type === 'state') this.state = m.state!;
        this.messages.push(m);
        for (const w of [...this.watchers]) w();
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves with the first message (from the start) that `pred` accepts. */
  waitFor(pred: (m: WindowMessage) => boolean, timeoutMs = 15_000, what = 'a message'): Promise<WindowMessage> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = this.messages.find(pred);
        if (!m) return false;
        clearTimeout(timer);
        this.watchers.delete(check);
        resolve(m);
        return true;
      };
      const timer = setTimeout(() => {
        this.watchers.delete(check);
        reject(new Error(`window ${this.pid}: no ${what} within ${timeoutMs} ms (state ${this.state}); log:\n${this.logText()}`));
      }, timeoutMs);
      if (!check()) this.watchers.add(check);
    });
  }

  /** Waits until the window is connected (owner or client), from now on or already. */
  async connected(timeoutMs = 15_000): Promise<string> {
    await this.waitFor(() => this.state === 'owner' || this.state === 'client', timeoutMs, 'connection');
    return this.state;
  }

  async call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    this.child.stdin!.write(JSON.stringify({ op: 'call', id, method, params }) + '\n');
    const m = await this.waitFor((x) => x.type === 'answer' && x.id === id, 30_000, `answer to ${method}`);
    if (m.error) throw Object.assign(new Error((m.error as { message: string }).message), m.error);
    return m.result as T;
  }

  stop(): void {
    this.child.stdin!.write(JSON.stringify({ op: 'stop' }) + '\n');
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }

  logText(): string {
    return this.messages.filter((m) => m.type === 'log' || m.type === 'state').map((m) => (m.type === 'log' ? m.line : `[state ${m.state}]`)).join('\n') + this.stderr;
  }
}
