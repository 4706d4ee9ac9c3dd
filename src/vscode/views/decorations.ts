/**
 * Badges in the Explorer (and on this device's files in the views) for
 * tagged (#, in the first tag's color), favorite (★) and noted (✎) files,
 * from the `marks` method; reloaded when the library's data changes.
 */
import * as vscode from 'vscode';
import type { MarkJson } from './engine-types';
import type { LibraryState } from './library-state';
import { markDecoration, type DecorationSpec } from './model';

export class MarkDecorations implements vscode.FileDecorationProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri[]>();
  readonly onDidChangeFileDecorations = this.changed.event;
  private marks = new Map<string, DecorationSpec>();
  private readonly sub: { dispose(): void };
  private loading: Promise<void> | null = null;
  /** Why the last reload failed (null: it did not). */
  lastError: string | null = null;
  private again = false;

  constructor(
    private readonly state: LibraryState,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.sub = state.onChange((t) => {
      if (t === 'data') void this.reload();
    });
  }

  /** The decoration of a path of this device (tests). */
  specFor(fsPath: string): DecorationSpec | null {
    return this.marks.get(key(fsPath)) ?? null;
  }

  reload(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.again = false;
        let next = new Map<string, DecorationSpec>();
        if (this.state.library) {
          try {
            const marks = await this.state.call<MarkJson[]>('marks');
            this.lastError = null;
            for (const m of marks) {
              const spec = markDecoration(m);
              if (spec) next.set(key(m.localPath), spec);
            }
          } catch (e) {
            this.lastError = e instanceof Error ? e.message : String(e);
            this.log.debug(`decorations: ${this.lastError}`);
            next = this.marks; // keep what is shown until the engine answers again
          }
        }
        const touched: vscode.Uri[] = [];
        for (const [k, v] of next) {
          const old = this.marks.get(k);
          if (!old || old.badge !== v.badge || old.tooltip !== v.tooltip || old.color !== v.color) touched.push(vscode.Uri.file(k));
        }
        for (const k of this.marks.keys()) if (!next.has(k)) touched.push(vscode.Uri.file(k));
        this.marks = next;
        if (touched.length) this.changed.fire(touched);
      } while (this.again);
    })().finally(() => {
      this.loading = null; // (after the assignment above, even when no await ran)
    });
    return this.loading;
  }

  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== 'file') return undefined;
    const spec = this.marks.get(key(uri.fsPath));
    if (!spec) return undefined;
    const d = new vscode.FileDecoration(spec.badge, spec.tooltip, spec.color ? new vscode.ThemeColor(spec.color) : undefined);
    d.propagate = false;
    return d;
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}

function key(fsPath: string): string {
  const p = fsPath.replace(/[\\/]+$/, '');
  return process.platform === 'win32' || process.platform === 'darwin' ? p.toLowerCase() : p;
}
