/**
 * VS Code entry point. The engine does not run on the extension host's
 * event loop: one window of the machine runs it in a worker thread, the
 * others reach it over the control socket (engine-connection.ts). Views,
 * commands and the status webview only see an EngineClient.
 */
import * as vscode from 'vscode';
import { startEngineConnection, type EngineConnection } from './engine-connection';
import { registerStatusPanel } from './status';
import { registerViews } from './views';
import { registerWorkspaceIndexer } from './workspace-indexer';

let connection: EngineConnection | null = null;

/** What activate() returns (the extension's exports): how long it took, for bench:ext. */
export interface ExtensionExports {
  activation: { activateMs: number };
}

export function activate(context: vscode.ExtensionContext): ExtensionExports {
  const started = performance.now();
  const log = vscode.window.createOutputChannel('Leaderless Sync', { log: true });
  context.subscriptions.push(log);
  context.subscriptions.push(vscode.commands.registerCommand('leaderlessSync.showLog', () => log.show()));
  // Returns at once: opening the database and joining the swarm happen after activation.
  const client = startEngineConnection(context, log);
  connection = client;
  registerWorkspaceIndexer(context, client, log);
  registerViews(context, client, log);
  registerStatusPanel(context, client, log);
  return { activation: { activateMs: performance.now() - started } };
}

export async function deactivate(): Promise<void> {
  // If this window runs the engine: close it cleanly (calls running finish, the lock is released) so another window takes over at once.
  await connection?.stop();
  connection = null;
}
