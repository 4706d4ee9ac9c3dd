/**
 * code-server 4.100.3 (installed by ../install.sh) as a disposable VS Code
 * server: its own process group, user data, extensions and config under one
 * temp directory, no gallery and no update checks, so a run touches nothing of
 * the machine's and nothing on the internet.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../../..');
export const codeServerVersion = '4.100.3';
export const codeServerEntry = path.join(
  repoRoot,
  `.vscode-test/code-server-${codeServerVersion}/node_modules/code-server/out/node/entry.js`,
);

export interface CodeServerDirs {
  /** Root of this run's temp files; the server's directories live below it. */
  root: string;
  userData: string;
  extensions: string;
  log: string;
}

export function codeServerDirs(root: string): CodeServerDirs {
  const dirs = {
    root,
    userData: path.join(root, 'user-data'),
    extensions: path.join(root, 'extensions'),
    log: path.join(root, 'code-server.log'),
  };
  mkdirSync(dirs.userData, { recursive: true });
  mkdirSync(dirs.extensions, { recursive: true });
  return dirs;
}

function serverEnv(dirs: CodeServerDirs, extra: Record<string, string>): NodeJS.ProcessEnv {
  if (!existsSync(codeServerEntry)) throw new Error(`code-server is not installed: run test/vscode/install.sh`);
  return {
    ...process.env,
    // Without it the server asks open-vsx.org for extension metadata.
    EXTENSIONS_GALLERY: '{}',
    // code-server writes a default config.yaml (with a password) under XDG_CONFIG_HOME.
    XDG_CONFIG_HOME: path.join(dirs.root, 'config'),
    XDG_DATA_HOME: path.join(dirs.root, 'data'),
    ...extra,
  };
}

/** `code-server --install-extension file.vsix` into the run's extensions directory. */
export function installExtension(dirs: CodeServerDirs, vsix: string): void {
  const r = spawnSync(
    process.execPath,
    [codeServerEntry, '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions, '--install-extension', vsix, '--force'],
    { env: serverEnv(dirs, {}), encoding: 'utf8', timeout: 120_000 },
  );
  if (r.status !== 0) throw new Error(`install-extension failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export class CodeServer {
  private exited = false;
  private stopping = false;
  /** Resolves if the server process ends by itself (not through stop()). */
  readonly crashed: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly dirs: CodeServerDirs,
  ) {
    this.crashed = new Promise((resolve) =>
      child.once('exit', () => {
        this.exited = true;
        if (!this.stopping) resolve();
      }),
    );
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The form of a server-side path that makes the workbench run it in the Node extension host. */
  remoteUri(absPath: string): string {
    return `vscode-remote://127.0.0.1:${this.port}${absPath}`;
  }

  /** Starts the server on a free port with `workspace` open; resolves once /healthz answers. */
  static async start(dirs: CodeServerDirs, workspace: string, env: Record<string, string>): Promise<CodeServer> {
    const port = await freePort();
    const out = createWriteStream(dirs.log);
    const child = spawn(
      process.execPath,
      [
        codeServerEntry,
        '--bind-addr', `127.0.0.1:${port}`,
        '--auth', 'none',
        '--user-data-dir', dirs.userData,
        '--extensions-dir', dirs.extensions,
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        '--ignore-last-opened',
        workspace,
      ],
      // Own process group, so stop() also ends the extension host and whatever it spawned.
      { env: serverEnv(dirs, env), detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    const server = new CodeServer(child, port, dirs);
    try {
      await server.waitHealthy(60_000);
    } catch (e) {
      await server.stop();
      throw e;
    }
    return server;
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`code-server exited at start:\n${this.logTail()}`);
      const ok = await new Promise<boolean>((resolve) => {
        const req = http.get(`${this.origin}/healthz`, (res) => (res.resume(), resolve(res.statusCode === 200)));
        req.on('error', () => resolve(false));
        req.setTimeout(2000, () => (req.destroy(), resolve(false)));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`code-server did not answer /healthz within ${timeoutMs} ms:\n${this.logTail()}`);
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.dirs.log, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** SIGTERM to the whole process group, SIGKILL after 3 s if anything is left. */
  async stop(): Promise<void> {
    this.stopping = true;
    const pgid = this.child.pid;
    if (pgid === undefined) return;
    const signal = (s: NodeJS.Signals | 0): boolean => {
      try {
        process.kill(-pgid, s);
        return true;
      } catch {
        return false; // the group is gone
      }
    };
    if (!signal('SIGTERM')) return;
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      if (!signal(0)) return;
    }
    signal('SIGKILL');
  }
}
