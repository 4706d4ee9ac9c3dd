/**
 * One engine per machine, shared by every VS Code window (vscode-free, so
 * it is tested with plain Node processes standing in for windows).
 *
 * Each window runs one EngineOwnership on the same data directory:
 *
 * - If a service already answers on the directory's control endpoint, the
 *   window is a 'client' of it.
 * - Otherwise it starts an engine worker thread (EngineThread). The worker
 *   that gets the data directory's lock serves the control endpoint and its
 *   window is the 'owner'; a worker that finds the lock held reports 'busy',
 *   and its window connects as a client once the owner listens.
 * - Owner or client, the window talks to the engine through a ControlClient
 *   on that endpoint, subscribed to every event: one code path for calls and
 *   events in every window.
 * - When the connection closes (the owner window closed or crashed), every
 *   window tries again at once: one becomes the owner, the others its
 *   clients. A worker crash in the owner window is retried with backoff.
 * - `call` waits (bounded) while the engine is starting or another window is
 *   taking over, and retries once when the connection broke under it, so a
 *   write made during a takeover is not lost.
 * - A window only talks to a socket this user made, in a folder only this
 *   user can write to (service/endpoint-trust.ts); anything else leaves it
 *   'failed' with the reason (and retrying slowly), without starting an
 *   engine of its own.
 */
import { TypedEmitter } from '../engine/events';
import { ControlClient } from '../service/control-client';
import { controlEndpoint } from '../service/control-endpoint';
import { ControlError, errorMessage, UnsafeEndpointError } from '../service/errors';
import { EngineThread } from './engine-thread';
import type { EngineWorkerData } from './worker-protocol';

/** The same values as the extension's EngineConnectionState. */
export type OwnershipState = 'starting' | 'owner' | 'client' | 'failed' | 'stopped';

export interface OwnershipEvents {
  connection: (state: OwnershipState) => void;
  /** A service event (after a takeover, from the new owner). */
  event: (name: string, data: unknown) => void;
}

/** What one attempt to own the engine starts its worker with. */
export interface OwnerConfig {
  data: Omit<EngineWorkerData, 'dataDir'>;
  /** Called when this attempt made the window the owner (e.g. to store a newly made device key). */
  onOwner?: () => void | Promise<void>;
}

export interface EngineOwnershipOptions {
  dataDir: string;
  /** The bundled worker (dist/worker.js). */
  workerFile: string;
  /** Read before each attempt to own the engine (settings may have changed). */
  config: () => OwnerConfig | Promise<OwnerConfig>;
  log?: (line: string) => void;
  /** How long a call waits for the engine (default 10 s). */
  callTimeoutMs?: number;
  /** How long the worker may take to close its service on stop (default 5 s). */
  stopTimeoutMs?: number;
}

const DEFAULT_CALL_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 1000;
/** After 'busy': how long to keep trying to reach the owner, which may still be opening its libraries. */
const BUSY_CONNECT_WINDOW_MS = 1500;
const POLL_MS = 100;
const MAX_RETRY_MS = 30_000;

export class EngineOwnership extends TypedEmitter<OwnershipEvents> {
  private stateValue: OwnershipState = 'stopped';
  private errorValue: string | null = null;
  private client: ControlClient | null = null;
  private thread: EngineThread | null = null;
  /** The running attempt to reach the engine (one at a time). */
  private establishing: Promise<void> | null = null;
  private wanted = false;
  /** Bumped by stop(): an attempt that sees another value gives up. */
  private epoch = 0;
  private readonly waiters = new Set<() => void>();
  /** Worker crashes in a row (for the backoff); reset when one ran for a minute. */
  private crashes = 0;
  private crashBackoffUntil = 0;
  private ownedSince = 0;
  private stopping: Promise<void> | null = null;
  /** Waits in progress (retry delays); stop() cuts them short. */
  private readonly pauses = new Set<() => void>();
  /** Failed attempts in a row (for the backoff). */
  private failures = 0;
  readonly endpoint: string;
  private readonly log: (line: string) => void;

  constructor(private readonly options: EngineOwnershipOptions) {
    super();
    this.endpoint = controlEndpoint(options.dataDir);
    this.log = options.log ?? (() => undefined);
  }

  get state(): OwnershipState {
    return this.stateValue;
  }

  /** Why the engine is 'failed' (or what went wrong last while it recovers), else null. */
  get error(): string | null {
    return this.errorValue;
  }

  /** Starts reaching the engine (returns at once; `state` says how far it got). */
  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.setState('starting', null);
    this.establish(0);
  }

  /** Disconnects; if this window owns the engine, closes it (another window takes over). A second call joins the first. */
  stop(): Promise<void> {
    if (!this.wanted && this.stopping) return this.stopping;
    this.wanted = false;
    this.epoch++;
    const client = this.client;
    const thread = this.thread;
    this.client = null;
    this.thread = null;
    this.setState('stopped', null);
    for (const wake of [...this.pauses]) wake();
    this.stopping = (async () => {
      await client?.close().catch(() => undefined);
      if (thread) {
        this.log('stopping the engine (another window takes over)');
        await thread.stop(this.options.stopTimeoutMs);
      }
      await this.establishing?.catch(() => undefined);
    })();
    return this.stopping;
  }

  /** Stops and starts again (e.g. new bootstrap nodes): only the owner's engine restarts; a client just reconnects. */
  async restart(): Promise<void> {
    await this.stop();
    this.stopping = null;
    this.start();
  }

  get isOwner(): boolean {
    return this.stateValue === 'owner';
  }

  /**
   * Runs a control method. Waits up to the call timeout for the engine (while
   * starting or taking over); a call whose connection broke is sent once more
   * after reconnecting.
   */
  async call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const deadline = Date.now() + (this.options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
    let broken: ControlClient | null = null;
    for (;;) {
      const client = await this.connected(deadline, broken);
      try {
        return await client.call<T>(method, params);
      } catch (e) {
        if (broken || !isConnectionError(e)) throw e;
        broken = client; // retry once, on another connection (this one may not have reported its close yet)
      }
    }
  }

  // ---------------------------------------------------------------- internals

  /** Waits `ms`, or less if stop() is called meanwhile. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.pauses.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.pauses.add(wake);
    });
  }

  /** The live client (not `broken`), once there is one; rejects when stopped, failed or at `deadline`. */
  private connected(deadline: number, broken: ControlClient | null = null): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this.client && this.client !== broken) resolve(this.client);
        else if (this.stateValue === 'stopped') reject(new ControlError('ERR_ENGINE_STOPPED', 'The Leaderless Sync engine is stopped'));
        else if (this.stateValue === 'failed') reject(new ControlError('ERR_ENGINE_FAILED', `The Leaderless Sync engine could not start: ${this.errorValue ?? 'unknown error'}`));
        else if (Date.now() >= deadline) reject(new ControlError('ERR_ENGINE_TIMEOUT', `The Leaderless Sync engine did not become available within ${Math.round((this.options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS) / 1000)} s`));
        else return false;
        return true;
      };
      if (check()) return;
      const waiter = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const timer = setTimeout(waiter, Math.max(0, deadline - Date.now()) + 1);
      this.waiters.add(waiter);
    });
  }

  private setState(state: OwnershipState, error: string | null): void {
    const changed = state !== this.stateValue; // a new error in the same state is read from `error`, not announced
    this.stateValue = state;
    this.errorValue = error;
    for (const w of [...this.waiters]) w();
    if (changed) this.emit('connection', state);
  }

  /** Starts an attempt to reach the engine after `delayMs` unless one runs; failed attempts are retried with backoff. */
  private establish(delayMs: number): void {
    if (this.establishing || !this.wanted) return;
    const epoch = this.epoch;
    let retryIn = -1;
    this.establishing = (async () => {
      if (delayMs > 0) await this.pause(delayMs);
      await this.reach(epoch);
    })()
      .catch((e: unknown) => {
        if (this.epoch !== epoch) return;
        this.failures++;
        retryIn = Math.min(1000 * 2 ** (this.failures - 1), MAX_RETRY_MS);
        this.log(`reaching the engine failed: ${errorMessage(e)} (retrying in ${Math.round(retryIn / 1000)} s)`);
        this.setState('failed', errorMessage(e));
      })
      .finally(() => {
        this.establishing = null;
        // The connection may have closed while this attempt was finishing, or the attempt failed.
        if (this.wanted && this.epoch === epoch && !this.client) this.establish(retryIn >= 0 ? retryIn : POLL_MS);
      });
  }

  private async reach(epoch: number): Promise<void> {
    let busyRounds = 0;
    const current = () => this.epoch === epoch && this.wanted;
    while (current()) {
      // Someone serves the engine already: be its client.
      const existing = await tryConnect(this.endpoint);
      if (!current()) return void (await existing?.close());
      if (existing) {
        if (await this.tryAttach(existing, epoch)) return;
        await this.pause(POLL_MS); // it went away under us (an owner dying): look again
        continue;
      }

      // Nobody answers: try to own it (after a crash of our worker, not before its backoff).
      const wait = this.crashBackoffUntil - Date.now();
      if (wait > 0) {
        await this.pause(wait);
        continue;
      }
      const config = await this.options.config();
      if (!current()) return;
      const thread = new EngineThread(this.options.workerFile, { ...config.data, dataDir: this.options.dataDir }, (line) => this.log(line));
      const outcome = await thread.outcome;
      if (!current()) {
        await thread.stop(this.options.stopTimeoutMs);
        return;
      }
      if (outcome.kind === 'ready') {
        let client: ControlClient;
        try {
          client = await ControlClient.connect(outcome.endpoint, { timeoutMs: CONNECT_TIMEOUT_MS });
        } catch (e) {
          await thread.stop(this.options.stopTimeoutMs);
          throw e;
        }
        if (!current()) {
          await client.close();
          await thread.stop(this.options.stopTimeoutMs);
          return;
        }
        this.thread = thread;
        this.ownedSince = Date.now();
        thread.onCrash((why) => this.onCrash(thread, why));
        this.log(`this window runs the engine (${outcome.endpoint})`);
        try {
          await config.onOwner?.();
        } catch (e) {
          this.log(`after becoming the owner: ${errorMessage(e)}`);
        }
        return this.attach(client, 'owner', epoch);
      }
      await thread.terminate();
      if (outcome.kind === 'busy') {
        // Another process holds the lock; it listens once its libraries are open.
        const deadline = Date.now() + BUSY_CONNECT_WINDOW_MS;
        while (Date.now() < deadline && current()) {
          const c = await tryConnect(this.endpoint);
          if (c) {
            if (!current()) return void (await c.close());
            if (await this.tryAttach(c, epoch)) return;
          }
          await this.pause(POLL_MS);
        }
        // Held but nobody serves (a one-shot CLI command, or an owner still starting): try again, slower each time.
        busyRounds++;
        if (busyRounds === 3) this.log(`the engine's data directory is held by another process (${outcome.message}); waiting for it`);
        await this.pause(Math.min(POLL_MS * 2 ** busyRounds, 5000));
        continue;
      }
      // It could not start here: say so, keep trying slowly.
      throw new Error(outcome.message);
    }
  }

  /** Attaches (as a client, unless our own worker is what answers); false if the connection broke meanwhile (e.g. the owner was dying). */
  private async tryAttach(client: ControlClient, epoch: number): Promise<boolean> {
    try {
      await this.attach(client, this.thread?.alive ? 'owner' : 'client', epoch);
      return true;
    } catch (e) {
      this.log(`connecting to the engine failed: ${errorMessage(e)}; trying again`);
      return false;
    }
  }

  private async attach(client: ControlClient, role: 'owner' | 'client', epoch: number): Promise<void> {
    client.on('event', (name, data) => {
      if (this.client !== client) return;
      if (role === 'client' && name === 'log') this.log(`[engine] ${(data as { line?: string })?.line ?? ''}`);
      this.emit('event', name, data);
    });
    client.on('close', () => this.onClose(client));
    try {
      // Every event the engine has (not a list of ours: the owner may run an older or newer version of the extension).
      await client.call('subscribe', {});
    } catch (e) {
      await client.close();
      throw new Error(`subscribing to the engine's events failed: ${errorMessage(e)}`);
    }
    if (this.epoch !== epoch || !this.wanted) {
      await client.close();
      return;
    }
    this.client = client;
    this.failures = 0;
    if (role === 'client') this.log(`connected to the engine another window runs (${this.endpoint})`);
    this.setState(role, null);
  }

  private onClose(client: ControlClient): void {
    if (this.client !== client) return;
    this.client = null;
    if (!this.wanted) return;
    const owner = this.thread?.alive === true;
    this.log(owner ? 'lost the connection to this window\'s engine; reconnecting' : 'the window running the engine went away; taking over or reconnecting');
    this.setState('starting', null);
    if (owner) {
      // Our worker still runs: reconnect to it.
      void this.reconnectOwn(this.epoch);
      return;
    }
    this.establish(0);
  }

  private async reconnectOwn(epoch: number): Promise<void> {
    // Our own socket turned untrustworthy (its folder changed under us): establish() reports it.
    const c = await tryConnect(this.endpoint).catch(() => null);
    if (this.epoch !== epoch || !this.wanted) return void (await c?.close());
    if (c) await this.attach(c, 'owner', epoch).catch((e: unknown) => this.log(`reconnecting failed: ${errorMessage(e)}`));
    else this.establish(POLL_MS);
  }

  private onCrash(thread: EngineThread, why: string): void {
    if (this.thread !== thread) return;
    this.thread = null;
    if (Date.now() - this.ownedSince > 60_000) this.crashes = 0;
    this.crashes++;
    const delay = this.crashes === 1 ? 0 : Math.min(1000 * 2 ** (this.crashes - 2), MAX_RETRY_MS);
    this.log(`the engine worker crashed: ${why}; restarting${delay ? ` in ${Math.round(delay / 1000)} s` : ''}`);
    this.crashBackoffUntil = Date.now() + delay;
    const client = this.client;
    this.client = null;
    void client?.close();
    if (!this.wanted) return;
    this.setState('starting', why);
    this.establish(0);
  }
}

/**
 * A connection to `endpoint`, or null if nothing answers there. An endpoint
 * that someone other than this user could have made (endpoint-trust.ts) is
 * an error: no engine is started either, its socket could not be trusted.
 */
async function tryConnect(endpoint: string): Promise<ControlClient | null> {
  try {
    return await ControlClient.connect(endpoint, { timeoutMs: CONNECT_TIMEOUT_MS });
  } catch (e) {
    if (e instanceof UnsafeEndpointError) throw e;
    return null;
  }
}

/** The connection broke (or the service was closing): the call may be sent again once reconnected. */
export function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ERR_CONNECTION' || code === 'ERR_SERVICE_CLOSED' || code === 'ERR_NOT_RUNNING';
}
