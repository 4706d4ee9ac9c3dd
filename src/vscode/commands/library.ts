/**
 * Creating, inviting to and joining a library.
 *
 *   createLibrary (name?)                       → LibraryInfo
 *   inviteDevice  ({ttlMinutes?, quiet?}?)      → InviteInfo; waits for the join in a progress notification
 *                                                  (Cancel revokes the code); quiet: no modal with the code
 *   joinLibrary   (code?)                       → JoinResult once paired; the backfill's progress follows
 *                                                  in a notification until the library is in sync
 *   removeLocation (location node | id?, confirmed?) → {location, name, path, entries}: a location of this
 *                                                  device leaves the library (a workspace folder of this
 *                                                  window stops being indexed first, or it would come back)
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { InviteInfo, JoinResult, LibraryInfo, LocationJson } from '../views/engine-types';
import { formatNumber, inviteCodeProblem, normalizeInviteCode, percent } from '../views/model';
import { flash, needLibrary, orCancel, registerCommand, type CommandEnv } from './env';
import { isNode } from './targets';

export function libraryCommands(env: CommandEnv): vscode.Disposable[] {
  return [
    registerCommand(env, 'leaderlessSync.createLibrary', 'create the library', async (nameArg) => {
      const name =
        typeof nameArg === 'string'
          ? nameArg
          : orCancel(
              await vscode.window.showInputBox({
                title: 'Create Library',
                prompt: 'A name for the library (your devices will show it)',
                placeHolder: 'e.g. My Projects',
                value: 'My Projects',
                validateInput: (v) => (v.trim() ? (v.length > 256 ? 'At most 256 characters' : null) : 'Enter a name'),
              }),
            );
      const deviceName = vscode.workspace.getConfiguration('leaderlessSync').get<string>('deviceName') || undefined;
      const info = await env.client.call<LibraryInfo>('init', { name: name.trim(), ...(deviceName ? { deviceName } : {}) });
      env.state.preferred = info.id;
      await env.state.refreshAll();
      if (typeof nameArg !== 'string') {
        void vscode.window.showInformationMessage(`Library “${info.name}” created. Pair your other devices with Invite Device.`, 'Invite Device').then((b) => {
          if (b) void vscode.commands.executeCommand('leaderlessSync.inviteDevice');
        });
      }
      return info;
    }),

    registerCommand(env, 'leaderlessSync.inviteDevice', 'create an invite', async (opts) => {
      const o = (typeof opts === 'object' && opts !== null ? opts : {}) as { ttlMinutes?: number; quiet?: boolean };
      const library = needLibrary(env);
      const info = await env.client.call<InviteInfo>('invite', { library, ...(o.ttlMinutes ? { ttlMinutes: o.ttlMinutes } : {}) });
      const until = new Date(info.expiresAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      void waitForJoin(env, info, until);
      if (!o.quiet) {
        const b = await vscode.window.showInformationMessage(
          `Invite code: ${info.code}`,
          {
            modal: true,
            detail: `On the other device, run “Leaderless Sync: Join Library” and enter this code. It works once, until ${until}. This window shows when the device has joined.`,
          },
          'Copy Code',
        );
        if (b === 'Copy Code') {
          await vscode.env.clipboard.writeText(info.code);
          flash('$(check) Invite code copied');
        }
      }
      return info;
    }),

    registerCommand(env, 'leaderlessSync.joinLibrary', 'join the library', async (codeArg) => {
      let code = typeof codeArg === 'string' ? codeArg : undefined;
      if (code === undefined) {
        code = orCancel(
          await vscode.window.showInputBox({
            title: 'Join Library',
            prompt: 'The invite code shown on the other device (there: “Leaderless Sync: Invite Device”)',
            placeHolder: 'XXXX-XXXX-XXXX',
            ignoreFocusOut: true,
            validateInput: (v) => (v.trim() ? inviteCodeProblem(v) : null),
          }),
        );
      }
      const problem = inviteCodeProblem(code);
      if (problem) throw new Error(problem);
      return join(env, normalizeInviteCode(code));
    }),
    registerCommand(env, 'leaderlessSync.removeLocation', 'remove the location', async (locationArg, confirmedArg) => {
      needLibrary(env);
      const loc = await pickOwnLocation(env, locationArg);
      const folder = vscode.workspace.workspaceFolders?.find((f) => path.resolve(f.uri.fsPath) === path.resolve(loc.path));
      if (confirmedArg !== true) {
        const b = await vscode.window.showWarningMessage(
          `Remove the location “${loc.name}” from the library?`,
          {
            modal: true,
            detail:
              `Its ${formatNumber(loc.entries)} entries leave every device of the library. Tags, notes and albums of its files stay, and the folder on disk is not touched.` +
              (folder ? ' This window stops indexing the folder (leaderlessSync.indexWorkspaceFolders).' : ''),
          },
          'Remove',
        );
        if (b !== 'Remove') orCancel(undefined);
      }
      // An indexed workspace folder would be added back at once: stop indexing it first.
      if (folder) await vscode.workspace.getConfiguration('leaderlessSync', folder.uri).update('indexWorkspaceFolders', false, vscode.ConfigurationTarget.WorkspaceFolder);
      const r = await env.state.call<{ location: string; name: string; path: string; entries: number }>('removeLocation', { location: loc.id });
      flash(`Removed the location “${loc.name}” from the library`);
      return r;
    }),
  ];
}

/** Follows an invite through the engine's 'invite' events until it is used, expires or is cancelled here. */
function waitForJoin(env: CommandEnv, info: InviteInfo, until: string): Thenable<void> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Invite code ${info.code}`, cancellable: true },
    (progress, token) =>
      new Promise<void>((resolve) => {
        progress.report({ message: `waiting for a device to join (until ${until})…` });
        let done = false;
        const finish = (after?: () => void) => {
          if (done) return;
          done = true;
          sub.dispose();
          clearTimeout(timer);
          cancel.dispose();
          resolve();
          after?.();
        };
        const sub = env.state.onInvite((e) => {
          if (e.code !== info.code || e.state === 'waiting') return;
          if (e.state === 'joined') {
            const who = e.joined?.name || 'A device';
            finish(() => void vscode.window.showInformationMessage(`${who} joined library “${e.libraryName}”.`));
            void env.state.refreshAll();
          } else if (e.state === 'expired') {
            finish(() => void vscode.window.showWarningMessage(`The invite code ${info.code} expired unused.`, 'Invite Again').then((b) => b && vscode.commands.executeCommand('leaderlessSync.inviteDevice')));
          } else if (e.state === 'exhausted') {
            finish(() => void vscode.window.showWarningMessage(`The invite code ${info.code} no longer works: too many wrong attempts.`));
          } else finish();
        });
        // In case the last event was missed (the engine restarted): stop waiting a little after the expiry.
        const timer = setTimeout(() => finish(), Math.max(0, info.expiresAt - Date.now()) + 5000);
        const cancel = token.onCancellationRequested(() => {
          finish();
          env.client.call('revokeInvite', { code: info.code }).catch((e) => env.log.debug(`revokeInvite: ${String(e)}`));
        });
      }),
  );
}

/** Joins with a code; resolves once paired, while a notification follows the backfill to the end. */
function join(env: CommandEnv, code: string): Promise<JoinResult> {
  return new Promise<JoinResult>((resolveJoin, rejectJoin) => {
    void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Joining library', cancellable: true }, async (progress, token) => {
      progress.report({ message: 'pairing with the inviting device…' });
      let r: JoinResult;
      try {
        r = await env.client.call<JoinResult>('join', { code });
      } catch (e) {
        rejectJoin(e);
        return;
      }
      env.state.preferred = r.library;
      resolveJoin(r);
      await env.state.refreshAll();
      progress.report({ message: `paired: backfilling “${r.name}”…` });
      const ok = await followBackfill(env, r.library, progress, token);
      if (ok) void vscode.window.showInformationMessage(`Library “${r.name}” is in sync on this device.`);
    });
  });
}

/** Reports backfill progress of `library` until it is ready (true) or the user closes the notification (false). */
function followBackfill(env: CommandEnv, library: string, progress: vscode.Progress<{ message?: string; increment?: number }>, token: vscode.CancellationToken): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let shown = 0;
    let seenBusy = false;
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      sub.dispose();
      cancel.dispose();
      resolve(ok);
    };
    const sub = env.state.onProgress((lib, p, st) => {
      if (lib !== library) return;
      if (p) {
        const pc = percent(p);
        if (pc !== null && pc > shown) {
          progress.report({ increment: pc - shown, message: `backfilling: ${formatNumber(p.received)} of ${formatNumber(p.announced)} records` });
          shown = pc;
        }
      }
      if (st === 'backfilling' || st === 'catching-up') seenBusy = true;
      if (st === 'ready') finish(true);
      if (st === 'offline' && seenBusy) {
        progress.report({ message: 'waiting for a device of the library to come online…' });
      }
    });
    const cancel = token.onCancellationRequested(() => {
      flash('$(sync~spin) The backfill continues in the background');
      finish(false);
    });
    // Already there (a small library backfills before the first event reaches this window)?
    void env.client
      .call<{ libraries: { library: string; state: string }[] }>('status', { library, digest: false })
      .then((s) => {
        if (s.libraries.some((l) => l.library === library && l.state === 'ready')) finish(true);
      })
      .catch(() => undefined);
  });
}

/** The location a command was given (a Locations node or an id), or one of this device's picked from a list. */
async function pickOwnLocation(env: CommandEnv, arg: unknown): Promise<LocationJson> {
  if (isNode(arg) && arg.data.kind === 'location') return ownLocation(arg.data.location);
  const mine = (await env.state.call<LocationJson[]>('locations')).filter((l) => l.self);
  if (typeof arg === 'string') {
    const found = mine.find((l) => l.id === arg);
    if (!found) throw new Error(`this device has no location ${arg}`);
    return found;
  }
  if (!mine.length) throw new Error('this device has no location in the library');
  const picked = orCancel(
    await vscode.window.showQuickPick(
      mine.map((l) => ({ label: l.name, description: l.workspaceKey, detail: l.path, location: l })),
      { title: 'Remove Location', placeHolder: 'Which location of this device leaves the library?' },
    ),
  );
  return picked.location;
}

function ownLocation(l: LocationJson): LocationJson {
  if (!l.self) throw new Error(`“${l.name}” is a location of ${l.deviceName}: only that device can remove it`);
  return l;
}
