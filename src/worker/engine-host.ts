/**
 * Starts the engine worker thread and talks to it: `request(method, params)`
 * resolves with the worker's answer. The extension host uses this so that no
 * sql.js work ever runs on its own event loop.
 */
import { Worker } from 'node:worker_threads';
import { ENGINE_RESOURCE_LIMITS } from './limits';

export class EngineWorkerError extends Error {
  constructor(
    message: string,
    readonly remoteName: string,
  ) {
    super(message);
    this.name = 'EngineWorkerError';
  }
}

export class EngineHost {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited: Error | null = null;

  constructor(workerFile: string, dataDir: string) {
    this.worker = new Worker(workerFile, { workerData: { dataDir }, resourceLimits: ENGINE_RESOURCE_LIMITS });
    this.worker.on('message', (m: { id: number; result?: unknown; error?: { name: string; message: string } }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new EngineWorkerError(m.error.message, m.error.name));
      else p.resolve(m.result);
    });
    const fail = (e: Error) => {
      this.exited = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`engine worker exited (code ${code})`)));
  }

  request<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, method, params });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    try {
      await this.request('close');
    } finally {
      await this.worker.terminate();
    }
  }
}
