/**
 * VS Code entry point. The engine does not run here: it runs in a worker
 * thread (src/worker) so the extension host never waits on sync work. This
 * layer grows views, commands and the status webview in later releases.
 */
import * as vscode from 'vscode';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Leaderless Sync', { log: true });
  context.subscriptions.push(log);
  context.subscriptions.push(vscode.commands.registerCommand('leaderlessSync.showLog', () => log.show()));
  log.info(`Leaderless Sync activated; data in ${context.globalStorageUri.fsPath}`);
}

export function deactivate(): void {
  // Disposables registered on the context are released by VS Code.
}
