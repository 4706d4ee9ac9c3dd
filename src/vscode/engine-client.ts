/**
 * What the VS Code layer needs from the engine of this machine, whichever
 * window runs it: this one (its worker thread) or another one (over the
 * control socket in global storage). Views, commands and the status
 * webview see only this interface.
 *
 * - `call` runs a control method (src/service/methods) and resolves with
 *   its JSON result, or rejects with a ControlError (code + message). While
 *   the engine is starting or another window is taking over, calls wait
 *   (bounded) instead of failing.
 * - `onEvent` delivers the service's events (src/service/service-events.ts)
 *   to every listener, the same in every window.
 * - `connection` says how this window reaches the engine; `onConnection`
 *   fires when that changes (after a takeover, views refresh everything).
 */
export type EngineConnectionState =
  /** Activation returned; the engine is opening (database, swarm). */
  | 'starting'
  /** This window runs the engine (in its worker thread). */
  | 'owner'
  /** Another window runs the engine; this one talks to it over the control socket. */
  | 'client'
  /** The engine could not start here; `connectionError` says why. The rest of the extension still works. */
  | 'failed'
  /** Disabled by the `leaderlessSync.enable` setting, or the extension is shutting down. */
  | 'stopped';

export interface Disposable {
  dispose(): void;
}

export interface EngineClient {
  readonly connection: EngineConnectionState;
  readonly connectionError: string | null;
  onConnection(listener: (state: EngineConnectionState) => void): Disposable;
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  onEvent(listener: (name: string, data: unknown) => void): Disposable;
}
