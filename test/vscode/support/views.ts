/**
 * Reading the extension's views from a test: the trees through
 * leaderlessSync.internal.snapshot (the providers' own getChildren, as the
 * views call them), the UI's state through leaderlessSync.internal.state,
 * and the engine through leaderlessSync.internal.call (registered in
 * development/test mode only).
 */
import * as vscode from 'vscode';
import type { SnapshotNode } from '../../../src/vscode/views/tree';

export type { SnapshotNode };

export interface UiState {
  connection: string;
  connectionError: string | null;
  hasLibrary: boolean;
  paused: boolean;
  library: { id: string; name: string; state: string } | null;
  loadError: string | null;
  statusBar: { text: string; tooltip: string; severity: string } | null;
  lastError: string | null;
  visible: Record<string, boolean>;
}

export const ui = () => vscode.commands.executeCommand<UiState>('leaderlessSync.internal.state');
export const snapshot = (view: string, depth = 2) => vscode.commands.executeCommand<SnapshotNode[]>('leaderlessSync.internal.snapshot', view, depth);
export const call = <T>(method: string, params?: Record<string, unknown>) => vscode.commands.executeCommand<T>('leaderlessSync.internal.call', method, params);

/** The first node, depth first, that `pred` accepts. */
export function find(nodes: SnapshotNode[] | undefined, pred: (n: SnapshotNode) => boolean): SnapshotNode | undefined {
  for (const n of nodes ?? []) {
    if (pred(n)) return n;
    const c = find(n.children, pred);
    if (c) return c;
  }
  return undefined;
}
