/**
 * The status bar item (left): the library's sync state as an icon and a
 * word or two, the facts behind it in the tooltip; a click opens the sync
 * status webview (leaderlessSync.showStatus).
 */
import * as vscode from 'vscode';
import type { EngineClient } from '../engine-client';
import type { LibraryState } from './library-state';
import { syncSummary, type SyncSummary } from './model';

export class SyncStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly subs: { dispose(): void }[] = [];
  last: SyncSummary | null = null;

  constructor(
    private readonly client: EngineClient,
    private readonly state: LibraryState,
  ) {
    this.item = vscode.window.createStatusBarItem('leaderlessSync.status', vscode.StatusBarAlignment.Left, 10);
    this.item.name = 'Leaderless Sync';
    this.item.command = 'leaderlessSync.showStatus';
    this.subs.push(state.onChange((t) => t === 'status' && this.update()));
    this.subs.push(client.onConnection(() => this.update()));
    this.update();
    this.item.show();
  }

  update(): void {
    const s = syncSummary(this.client.connection, this.client.connectionError, this.state.report, this.state.library, this.state.loadError, Date.now());
    if (this.last && this.last.text === s.text && this.last.tooltip === s.tooltip && this.last.severity === s.severity) return;
    this.last = s;
    this.item.text = s.text;
    this.item.tooltip = `${s.tooltip}\n\nClick for the sync status`;
    this.item.backgroundColor = s.severity === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    this.item.accessibilityInformation = { label: `Leaderless Sync: ${s.text.replace(/\$\([^)]*\)\s*/g, '')}`, role: 'button' };
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.item.dispose();
  }
}
