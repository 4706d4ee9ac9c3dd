/**
 * The sync-status webview: the command `leaderlessSync.showStatus` opens (or
 * reveals) one panel; a WebviewPanelSerializer brings it back after a reload.
 *
 * The webview (media/status/status.js) renders what it is sent and nothing
 * else: it posts {type:'ready'} once its script runs, and only then does the
 * extension post snapshots ({type:'snapshot', snapshot}). It keeps the last
 * one with setState, so when the panel is shown again it renders at once,
 * without retainContextWhenHidden. Snapshots come from a StatusSource
 * (status-source.ts), which refreshes on engine events only.
 *
 * Tests reach the panel through the command `leaderlessSync.test.statusSnapshot`
 * (not in package.json): it answers whether the webview said 'ready', how
 * many snapshots were posted and the last one.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { EngineClient } from '../engine-client';
import type { StatusSnapshot } from './status-model';
import { StatusSource } from './status-source';

export const STATUS_VIEW_TYPE = 'leaderlessSync.status';
export const SHOW_STATUS_COMMAND = 'leaderlessSync.showStatus';
export const TEST_STATUS_COMMAND = 'leaderlessSync.test.statusSnapshot';
const TITLE = 'Leaderless Sync: Status';

/** What the test command answers. */
export interface StatusPanelProbe {
  open: boolean;
  visible: boolean;
  ready: boolean;
  posted: number;
  /** Snapshots the webview said it rendered. */
  rendered: number;
  /** What the webview said it rendered last: its state line, its sections' ids, whether its stylesheet applied. */
  lastRendered: { at: number; state: string; sections: string[]; styled: boolean } | null;
  snapshot: StatusSnapshot | null;
}

/** Messages from the webview. */
type FromWebview =
  | { type: 'ready'; library?: string | null }
  | { type: 'rendered'; at: number; state?: string; sections?: string[]; styled?: boolean }
  | { type: 'selectLibrary'; library: string | null }
  | { type: 'command'; command: string; device?: string };

/**
 * Commands the webview's buttons may run (src/vscode/commands registers them; a failure is logged, not
 * thrown). The per-peer ones take the device id as their argument; nothing else from the webview is passed on.
 */
const WEBVIEW_COMMANDS = new Set([
  'leaderlessSync.showLog',
  'leaderlessSync.fullResync',
  'leaderlessSync.pauseSync',
  'leaderlessSync.resumeSync',
  'leaderlessSync.createLibrary',
  'leaderlessSync.joinLibrary',
]);
const PEER_COMMANDS = new Set(['leaderlessSync.backfillFromPeer', 'leaderlessSync.pausePeer', 'leaderlessSync.resumePeer']);
const DEVICE_ID = /^[0-9a-f-]{8,64}$/i;

export function registerStatusPanel(context: vscode.ExtensionContext, client: EngineClient, log: vscode.LogOutputChannel): void {
  let panel: StatusPanel | null = null;
  const source = new StatusSource(client, (s) => panel?.post(s), {
    onError: (method, e) => log.warn(`status view: ${method} failed: ${e instanceof Error ? e.message : String(e)}`),
  });
  context.subscriptions.push(source);

  const adopt = (p: vscode.WebviewPanel): StatusPanel => {
    panel?.dispose();
    panel = new StatusPanel(p, context.extensionUri, source, log, () => {
      if (panel?.webviewPanel === p) panel = null;
      source.setActive(false);
    });
    return panel;
  };

  context.subscriptions.push(
    vscode.commands.registerCommand(SHOW_STATUS_COMMAND, () => {
      if (panel) {
        panel.webviewPanel.reveal(undefined);
        return;
      }
      const p = vscode.window.createWebviewPanel(STATUS_VIEW_TYPE, TITLE, vscode.ViewColumn.Active, webviewOptions(context.extensionUri));
      adopt(p);
    }),
    vscode.window.registerWebviewPanelSerializer(STATUS_VIEW_TYPE, {
      async deserializeWebviewPanel(p: vscode.WebviewPanel, _state: unknown) {
        // The webview restores its last snapshot itself (getState); fresh data follows its 'ready'.
        p.webview.options = webviewOptions(context.extensionUri);
        adopt(p);
      },
    }),
    vscode.commands.registerCommand(TEST_STATUS_COMMAND, (): StatusPanelProbe => {
      return {
        open: panel !== null,
        visible: panel?.webviewPanel.visible ?? false,
        ready: panel?.ready ?? false,
        posted: panel?.posted ?? 0,
        rendered: panel?.rendered ?? 0,
        lastRendered: panel?.lastRendered ?? null,
        snapshot: panel?.last ?? null,
      };
    }),
    { dispose: () => panel?.dispose() },
  );
}

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media', 'status')],
    enableFindWidget: true,
  };
}

class StatusPanel {
  ready = false;
  posted = 0;
  rendered = 0;
  lastRendered: StatusPanelProbe['lastRendered'] = null;
  last: StatusSnapshot | null = null;
  private readonly subs: vscode.Disposable[] = [];
  private disposed = false;

  constructor(
    readonly webviewPanel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly source: StatusSource,
    private readonly log: vscode.LogOutputChannel,
    private readonly onDispose: () => void,
  ) {
    const w = webviewPanel.webview;
    this.subs.push(
      w.onDidReceiveMessage((m: FromWebview) => this.message(m)),
      webviewPanel.onDidChangeViewState((e) => {
        // A hidden webview is torn down (no retainContextWhenHidden); shown again, it says 'ready' anew.
        // Nothing is asked of the engine meanwhile.
        if (!e.webviewPanel.visible) {
          this.ready = false;
          this.source.setActive(false);
        }
      }),
      webviewPanel.onDidDispose(() => this.dispose()),
    );
    w.html = this.html(w);
  }

  post(s: StatusSnapshot): void {
    this.last = s;
    if (!this.ready || this.disposed) return;
    this.posted++;
    void this.webviewPanel.webview.postMessage({ type: 'snapshot', snapshot: s }).then(
      () => {},
      () => {},
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.subs.splice(0)) s.dispose();
    this.webviewPanel.dispose();
    this.onDispose();
  }

  private message(m: FromWebview): void {
    if (!m || typeof m !== 'object') return;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        // After a reload the webview remembers which library it showed.
        if (typeof m.library === 'string' && m.library) this.source.select(m.library);
        this.source.setActive(true);
        // What is known now at once; fresh answers follow.
        this.post(this.source.snapshot);
        this.source.refresh();
        break;
      case 'rendered':
        this.rendered++;
        this.lastRendered = {
          at: typeof m.at === 'number' ? m.at : 0,
          state: typeof m.state === 'string' ? m.state : '',
          sections: Array.isArray(m.sections) ? m.sections.filter((x): x is string => typeof x === 'string') : [],
          styled: m.styled === true,
        };
        break;
      case 'selectLibrary':
        this.source.select(typeof m.library === 'string' ? m.library : null);
        break;
      case 'command': {
        let args: unknown[] | null = null;
        if (typeof m.command === 'string' && WEBVIEW_COMMANDS.has(m.command)) args = [];
        else if (typeof m.command === 'string' && PEER_COMMANDS.has(m.command) && typeof m.device === 'string' && DEVICE_ID.test(m.device)) args = [m.device];
        if (args) {
          vscode.commands.executeCommand(m.command, ...args).then(
            () => {},
            (e: unknown) => this.log.warn(`status view: ${m.command} failed: ${e instanceof Error ? e.message : String(e)}`),
          );
        }
        break;
      }
    }
  }

  private html(w: vscode.Webview): string {
    const nonce = makeNonce();
    const media = (f: string) => w.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'status', f)).toString();
    const csp = [`default-src 'none'`, `img-src ${w.cspSource}`, `style-src ${w.cspSource}`, `font-src ${w.cspSource}`, `script-src 'nonce-${nonce}'`].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${media('status.css')}">
<title>${TITLE}</title>
</head>
<body>
<main id="root" aria-busy="true"><p class="calm">Loading…</p></main>
<script nonce="${nonce}" src="${media('status.js')}"></script>
</body>
</html>`;
  }
}

function makeNonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (const b of randomBytes(32)) s += chars[b % chars.length];
  return s;
}
