/**
 * Sync and partner commands. A device is given as a Peers/Locations node,
 * an id (or unique prefix) or a name; `true` as the confirmation argument
 * skips the modal question (scripts, tests).
 *
 *   backfillFromPeer (device?)           → {}
 *   fullResync       (confirmed?)        → {}
 *   pauseSync / resumeSync               → NetworkStatus
 *   pausePeer / resumePeer (device?)     → {}
 *   unpairDevice     (device?, confirmed?) → {device, name}
 */
import * as vscode from 'vscode';
import type { NetworkStatus } from '../views/engine-types';
import { flash, needLibrary, orCancel, pickMember, pickPeer, registerCommand, type CommandEnv } from './env';

async function confirm(message: string, detail: string, action: string): Promise<void> {
  const b = await vscode.window.showWarningMessage(message, { modal: true, detail }, action);
  if (b !== action) orCancel(undefined);
}

export function syncCommands(env: CommandEnv): vscode.Disposable[] {
  return [
    registerCommand(env, 'leaderlessSync.backfillFromPeer', 'start the backfill', async (arg) => {
      needLibrary(env);
      const peer = await pickPeer(env, arg, 'Backfill from which device?', (p) => !p.paused);
      const r = await env.state.call('backfillFrom', { device: peer.device });
      flash(`$(sync~spin) Backfilling from ${peer.name}…`);
      return r;
    }),

    registerCommand(env, 'leaderlessSync.fullResync', 'start a full resync', async (confirmed) => {
      needLibrary(env);
      if (confirmed !== true) {
        await confirm('Resync the whole library?', 'This device backfills the library again from every partner. Nothing is lost; it takes as long as a first backfill.', 'Resync');
      }
      const r = await env.state.call('resync');
      flash('$(sync~spin) Full resync started');
      return r;
    }),

    registerCommand(env, 'leaderlessSync.pauseSync', 'pause sync', async () => {
      const r = await env.client.call<NetworkStatus>('suspend');
      await env.state.refresh();
      return r;
    }),

    registerCommand(env, 'leaderlessSync.resumeSync', 'resume sync', async () => {
      const r = await env.client.call<NetworkStatus>('resume');
      await env.state.refresh();
      return r;
    }),

    registerCommand(env, 'leaderlessSync.pausePeer', 'pause syncing with the device', async (arg) => {
      needLibrary(env);
      const peer = await pickPeer(env, arg, 'Pause syncing with which device?', (p) => !p.paused);
      return env.state.call('peerPause', { device: peer.device });
    }),

    registerCommand(env, 'leaderlessSync.resumePeer', 'resume syncing with the device', async (arg) => {
      needLibrary(env);
      const peer = await pickPeer(env, arg, 'Resume syncing with which device?', (p) => p.paused);
      return env.state.call('peerResume', { device: peer.device });
    }),

    registerCommand(env, 'leaderlessSync.unpairDevice', 'unpair the device', async (arg, confirmed) => {
      needLibrary(env);
      const m = await pickMember(env, arg, 'Unpair which device?');
      if (confirmed !== true) {
        await confirm(
          `Unpair “${m.name}”?`,
          'Every device of the library stops syncing with it and refuses it from then on. Its own copy stays on it. It can come back only with a new invite.',
          'Unpair',
        );
      }
      const r = await env.state.call<{ device: string; name: string }>('unpair', { device: m.device });
      flash(`$(check) Unpaired ${r.name || m.name}`);
      await env.state.refreshAll();
      return r;
    }),
  ];
}
