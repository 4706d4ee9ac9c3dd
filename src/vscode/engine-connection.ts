/**
 * This window's way to the machine's one engine (see
 * src/worker/engine-ownership.ts): the window owns it (runs it in a worker
 * thread) or is a client of the window that does, and takes over when that
 * one goes. Views and commands only see the EngineClient.
 *
 * Returns at once with connection 'starting': the device key, the
 * database and the swarm come after activation. The engine's data lives in
 * `<globalStorage>/engine`; its device key in SecretStorage (see
 * engine/device-key.ts). Setting changes: `enable` starts or stops it;
 * bootstrap nodes, device name, clock drift or the peer log's absence
 * horizon restart it if this window owns it.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EngineOwnership } from '../worker/engine-ownership';
import type { Disposable, EngineClient, EngineConnectionState } from './engine-client';
import { deviceKey } from './engine/device-key';
import { engineSettingsChanged, readEngineSettings } from './engine/engine-settings';

/** Engine log lines that report a problem: shown as warnings. */
const PROBLEM = /\b(failed|unavailable|could not|cannot|crashed|refused|corrupt)\b/i;

export interface EngineConnection extends EngineClient {
  /** Stops this window's part (closing the engine if this window owns it, so another takes over). */
  stop(): Promise<void>;
  /** The engine's data directory. */
  readonly dataDir: string;
}

export function startEngineConnection(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): EngineConnection {
  const dataDir = path.join(context.globalStorageUri.fsPath, 'engine');
  let keyLogged = '';
  const own = new EngineOwnership({
    dataDir,
    workerFile: context.asAbsolutePath(path.join('dist', 'worker.js')),
    log: (line) => (PROBLEM.test(line) ? log.warn(line) : log.info(line)),
    async config() {
      const s = readEngineSettings();
      for (const p of s.problems) log.warn(p);
      const key = await deviceKey(context.secrets, dataDir);
      if (key.source !== keyLogged) log.info(`device key: ${key.source}`);
      keyLogged = key.source;
      return {
        data: { keyPair: key.keyPair, network: s.network, bootstrap: s.bootstrap, deviceName: s.deviceName, maxClockDriftMs: s.maxClockDriftMs, pruneAbsentAfterMs: s.pruneAbsentAfterMs },
        onOwner: key.onOwner,
      };
    },
  });

  own.on('connection', (state) => {
    if (state === 'failed') log.error(`The engine could not start: ${own.error ?? 'unknown error'}`);
    else log.info(`engine: ${state}`);
  });
  own.on('event', (name, data) => {
    if (name === 'network') {
      const n = data as { state?: string; error?: string | null };
      if (n.state === 'unavailable') log.warn(`peer networking unavailable: ${n.error ?? 'unknown error'}; libraries work locally only`);
    }
  });

  const settings = readEngineSettings();
  log.info(`engine data directory: ${dataDir}${process.env.LEADERLESS_TEST_BOOTSTRAP ? ` (test bootstrap ${process.env.LEADERLESS_TEST_BOOTSTRAP})` : ''}`);
  if (settings.enable) own.start();
  else log.info('the engine is disabled (leaderlessSync.enable)');

  let disposed = false;
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      const what = engineSettingsChanged(e);
      if (what.enable) {
        if (readEngineSettings().enable) own.start();
        else void own.stop();
      } else if (what.restart && own.isOwner) {
        log.info('engine settings changed: restarting the engine');
        void own.restart();
      }
    }),
    {
      dispose() {
        disposed = true;
        void own.stop();
      },
    },
  );

  if (context.extensionMode !== vscode.ExtensionMode.Production) {
    // Tests of several windows: this window lets go of the engine (another one takes it over) and
    // reaches for it again `pauseMs` later (then as a client of the new owner).
    context.subscriptions.push(
      vscode.commands.registerCommand('leaderlessSync.internal.yieldEngine', async (pauseMs = 3000) => {
        await own.stop();
        await new Promise((r) => setTimeout(r, pauseMs));
        if (!disposed) own.start();
      }),
    );
  }

  const listen = <A extends unknown[]>(add: (l: (...a: A) => void) => () => void, listener: (...a: A) => void): Disposable => {
    const off = add(listener);
    return { dispose: off };
  };

  return {
    dataDir,
    get connection(): EngineConnectionState {
      return disposed ? 'stopped' : own.state;
    },
    get connectionError() {
      return own.error;
    },
    onConnection: (listener) => listen((l: (s: EngineConnectionState) => void) => own.on('connection', l), listener),
    onEvent: (listener) => listen((l: (n: string, d: unknown) => void) => own.on('event', l), listener),
    call: (method, params) => own.call(method, params),
    stop: () => own.stop(),
  };
}
