/**
 * Every command of the extension except leaderlessSync.showStatus (the
 * status webview registers it) and leaderlessSync.showLog (extension.ts).
 * Each accepts its inputs as optional arguments (see the files' headers),
 * so tests and scripts can run it without the input boxes, and resolves
 * with the method's answer (undefined after a failure, which it shows, or
 * a cancelled input).
 */
import * as vscode from 'vscode';
import { type CommandEnv, registerCommand } from './env';
import { itemCommands } from './items';
import { libraryCommands } from './library';
import { syncCommands } from './sync';

export type { CommandEnv } from './env';

export function registerCommands(env: CommandEnv): vscode.Disposable[] {
  return [
    ...libraryCommands(env),
    ...syncCommands(env),
    ...itemCommands(env),
    registerCommand(env, 'leaderlessSync.refresh', 'refresh', async () => {
      await env.state.refreshAll();
      await env.decorations.reload();
      return {};
    }),
  ];
}
