/**
 * The control channel's client: connects to a data directory's running
 * service, sends requests (`call` resolves with the result or rejects with
 * a ControlError carrying the service's code), and hands pushed events to
 * `onEvent` listeners. Used by CLI commands when a service runs, and by
 * any other process (another VS Code window) that wants to act on the
 * library without opening it.
 */
import * as net from 'node:net';
import { TypedEmitter } from '../engine/events';
import { checkEndpoint } from './endpoint-trust';
import { encodeLine, LineSplitter, MAX_ANSWER_LINE_BYTES, parseServerLine, PROTOCOL_ERROR, type ControlAnswer } from './control-protocol';
import { ControlError, ServiceNotRunningError } from './errors';

export interface ControlClientEvents {
  /** An event the service pushed (after `subscribe`). */
  event: (name: string, data: unknown) => void;
  /** The connection closed (by either side); pending calls were rejected. */
  close: () => void;
}

/** Nothing answers a connection attempt within this (a hung service) unless told otherwise. */
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

export class ControlClient extends TypedEmitter<ControlClientEvents> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closedError: Error | null = null;

  private constructor(
    private readonly socket: net.Socket,
    readonly endpoint: string,
  ) {
    super();
    const splitter = new LineSplitter(
      MAX_ANSWER_LINE_BYTES,
      (line) => this.onLine(line),
      () => this.fail(new ControlError(PROTOCOL_ERROR.lineTooLong, `The service sent a line longer than ${MAX_ANSWER_LINE_BYTES} bytes`)),
    );
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
    socket.on('error', (e) => this.fail(new ControlError('ERR_CONNECTION', `Control connection to ${endpoint} failed: ${e.message}`)));
    socket.on('close', () => {
      this.fail(new ControlError('ERR_CONNECTION', `The service closed the control connection (${endpoint})`));
      this.emit('close');
    });
  }

  /**
   * Connects to the service at `endpoint`. Rejects with ServiceNotRunningError
   * if nothing listens there (no socket file, or one left by a dead process),
   * and with UnsafeEndpointError, without connecting, if whatever is there
   * may not be this user's own service (endpoint-trust.ts).
   */
  static connect(endpoint: string, opts: { timeoutMs?: number } = {}): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      try {
        if (!checkEndpoint(endpoint)) return reject(new ServiceNotRunningError(endpoint, new Error('no socket there')));
      } catch (e) {
        return reject(e);
      }
      const socket = net.connect(endpoint);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ServiceNotRunningError(endpoint, new Error('timed out connecting')));
      }, opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ControlClient(socket, endpoint));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new ServiceNotRunningError(endpoint, e));
      });
    });
  }

  /** Calls `method`; resolves with its result, rejects with a ControlError (code and message from the service). */
  call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(encodeLine({ id, method, params }));
    });
  }

  /** Closes the connection; pending calls are rejected. */
  close(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
      // A service that does not end its side promptly: destroy after the write is flushed.
      this.socket.once('finish', () => this.socket.destroy());
    });
  }

  private onLine(line: string): void {
    let msg;
    try {
      msg = parseServerLine(line);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    if ('event' in msg) {
      this.emit('event', msg.event, msg.data);
      return;
    }
    const answer = msg as ControlAnswer;
    const p = typeof answer.id === 'number' ? this.pending.get(answer.id) : undefined;
    if (!p) return; // an answer to a line this client did not send as a call
    this.pending.delete(answer.id as number);
    if ('error' in answer) p.reject(new ControlError(answer.error.code, answer.error.message));
    else p.resolve(answer.result);
  }

  private fail(e: Error): void {
    this.closedError ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    if (!this.socket.destroyed) this.socket.destroy();
  }
}
