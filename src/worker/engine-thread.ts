/**
 * One engine worker thread as the extension host sees it: started with its
 * EngineWorkerData, it settles `outcome` once (ready, busy or failed), passes
 * its log lines on, and reports an exit it was not asked for (a crash).
 *
 * A worker that dies without closing its service leaves the data
 * directory's and its libraries' LOCK files naming this (live) process, so
 * neither this window nor another could start the engine again. After a
 * crash or a forced stop they are removed: nothing else in this process
 * takes those locks.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { LOCK_FILE, parseLock } from '../store/lock';
import { ENGINE_RESOURCE_LIMITS } from './limits';
import type { EngineWorkerData, HostToWorker, WorkerToHost } from './worker-protocol';

export type ThreadOutcome =
  | { kind: 'ready'; endpoint: string; publicKey: string }
  | { kind: 'busy'; pid: number; message: string }
  | { kind: 'failed'; code: string; message: string };

/** Threads of this process that reported ready and have not exited (tests may run several hosts in one process). */
let ownedThreads = 0;

/** How long a stop waits for the worker to close its service before terminating it. */
const DEFAULT_STOP_TIMEOUT_MS = 5000;

export class EngineThread {
  readonly outcome: Promise<ThreadOutcome>;
  private readonly worker: Worker;
  private exited = false;
  private stopRequested = false;
  private stopped = false;
  /** It reported ready: it holds the data directory's locks until it stops. */
  private owned = false;
  private readonly exitWaiters: (() => void)[] = [];
  private readonly stoppedWaiters: (() => void)[] = [];
  private crashListener: ((why: string) => void) | null = null;

  constructor(
    workerFile: string,
    data: EngineWorkerData,
    log: (line: string) => void,
  ) {
    this.worker = new Worker(workerFile, { workerData: data, resourceLimits: ENGINE_RESOURCE_LIMITS });
    let settle!: (o: ThreadOutcome) => void;
    this.outcome = new Promise((resolve) => (settle = resolve));
    let errorText: string | null = null;
    this.worker.on('message', (m: WorkerToHost) => {
      switch (m.type) {
        case 'log':
          log(m.line);
          break;
        case 'ready':
          this.owned = true;
          ownedThreads++;
          settle({ kind: 'ready', endpoint: m.endpoint, publicKey: m.publicKey });
          break;
        case 'busy':
          settle({ kind: 'busy', pid: m.pid, message: m.message });
          break;
        case 'failed':
          settle({ kind: 'failed', code: m.code, message: m.message });
          break;
        case 'stopped':
          this.stopped = true;
          for (const w of this.stoppedWaiters.splice(0)) w();
          break;
      }
    });
    this.worker.on('error', (e) => {
      errorText = e.message;
      log(`engine worker error: ${e.stack ?? e.message}`);
    });
    this.worker.on('exit', (code) => {
      this.exited = true;
      const why = errorText ?? `the engine worker exited (code ${code})`;
      settle({ kind: 'failed', code: 'ERR_WORKER_EXIT', message: why });
      if (this.owned) ownedThreads--;
      // Died holding its locks (a crash, even while starting, or a forced stop)? Unless another thread of this process owns them.
      if (!this.stopped && (this.owned || ownedThreads === 0)) releaseOwnLocks(data.dataDir);
      for (const w of this.exitWaiters.splice(0)) w();
      for (const w of this.stoppedWaiters.splice(0)) w();
      if (!this.stopRequested) this.crashListener?.(why);
    });
  }

  /** Called once if the worker exits without being asked to stop. */
  onCrash(listener: (why: string) => void): void {
    this.crashListener = listener;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Asks the worker to close its service (releasing the locks), then ends it; terminates it if that takes longer than `timeoutMs`. */
  async stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<void> {
    this.stopRequested = true;
    if (this.exited) return;
    if (!this.stopped) {
      const done = new Promise<void>((resolve) => this.stoppedWaiters.push(resolve));
      this.worker.postMessage({ type: 'stop' } satisfies HostToWorker);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    }
    await this.terminate();
  }

  /** Ends the worker now (after 'busy' or 'failed' it holds nothing). */
  async terminate(): Promise<void> {
    this.stopRequested = true;
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    await this.worker.terminate();
    await exited;
  }
}

/**
 * Removes the LOCK files of `dataDir` and of its libraries that name this
 * process on this host: left by this process's engine worker after it died.
 */
export function releaseOwnLocks(dataDir: string): string[] {
  const removed: string[] = [];
  const candidates = [path.join(dataDir, LOCK_FILE)];
  try {
    const libs = path.join(dataDir, 'libraries');
    for (const n of fs.readdirSync(libs)) candidates.push(path.join(libs, n, LOCK_FILE));
  } catch {
    /* no libraries yet */
  }
  for (const file of candidates) {
    let raw: Buffer;
    try {
      raw = fs.readFileSync(file);
    } catch {
      continue;
    }
    const info = parseLock(raw);
    if (!info || info.pid !== process.pid || info.host !== os.hostname()) continue;
    try {
      fs.unlinkSync(file);
      removed.push(file);
    } catch {
      /* gone already */
    }
  }
  return removed;
}
