/**
 * The extension-host half of `npm run screenshots` (screenshots.ts is the
 * browser half). Sets up something worth showing with the extension's own
 * commands: a library, a second device (a CLI peer on the run's testnet)
 * paired by invite code with a checkout of its own and a note, tags, a
 * favorite and an album; then brings each view on screen and asks the harness
 * to take the picture (a console line it watches, answered by a file).
 *
 * The views and commands are still being written: every step that fails is
 * logged and skipped, so the script takes whatever is there.
 */
import { cpSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CliPeer } from '../support/cli-peer';
import { testEnv, waitFor } from '../support/test-env';

const extensionId = 'leaderless.leaderless-sync';

async function step(what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
    console.log(`scene: ${what}`);
  } catch (e) {
    console.log(`scene: could not ${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Asks the harness for a PNG of the page as it is now, and waits until it is taken. */
async function shot(name: string): Promise<void> {
  await vscode.commands.executeCommand('notifications.clearAll');
  await sleep(2000); // let views, decorations and the webview finish rendering
  console.log(`SCREENSHOT ${name}`);
  await waitFor(() => existsSync(path.join(testEnv.tmp, `${name}.taken`)), `the screenshot ${name}`, 30_000);
}

/** Focuses `view`, then for each path of list commands moves there and expands that row. */
async function expand(view: string, ...paths: string[][]): Promise<void> {
  await vscode.commands.executeCommand(`${view}.focus`);
  await sleep(300);
  for (const moves of paths) {
    for (const m of moves) await vscode.commands.executeCommand(m);
    await vscode.commands.executeCommand('list.expand');
    await sleep(300);
  }
}

const file = (rel: string): vscode.Uri => vscode.Uri.file(path.join(testEnv.workspace, rel));

export async function run(): Promise<void> {
  const ext = vscode.extensions.getExtension(extensionId);
  await step('activate the extension', async () => {
    await ext?.activate();
  });

  // The engine starts after activation: retry until it takes the library.
  await step('create the library "Home"', () =>
    waitFor(
      async () => {
        try {
          return await vscode.commands.executeCommand('leaderlessSync.createLibrary', 'Home');
        } catch {
          return undefined;
        }
      },
      'the engine to create a library',
      30_000,
    ),
  );

  const laptop = new CliPeer('laptop');
  await step('pair a second device (CLI peer "Laptop") by invite code', async () => {
    await laptop.serve();
    const invite = (await vscode.commands.executeCommand('leaderlessSync.inviteDevice', { quiet: true })) as { code: string };
    const r = await laptop.run(['join', invite.code, '--timeout', '60']);
    if (r.code !== 0) throw new Error(`join exited ${r.code}: ${r.stderr}`);
  });
  await step('give the laptop its own checkout, with a note', async () => {
    const checkout = path.join(testEnv.tmp, 'laptop-checkout');
    cpSync(testEnv.workspace, checkout, { recursive: true });
    const r = await laptop.run(['add-location', checkout, '--name', 'sample-workspace']);
    if (r.code !== 0) throw new Error(r.stderr);
    await laptop.run(['note', path.join(checkout, 'src/greet.ts'), 'Rename to salute() before the release']);
    await laptop.run(['tag', path.join(checkout, 'docs/notes.md'), 'reading']);
  });

  await step('tag files', async () => {
    await vscode.commands.executeCommand('leaderlessSync.addTag', file('src/greet.ts'), [file('src/greet.ts'), file('src/index.ts')], 'review');
    await vscode.commands.executeCommand('leaderlessSync.addTag', file('README.md'), undefined, 'docs');
    await vscode.commands.executeCommand('leaderlessSync.addTag', file('docs/notes.md'), undefined, 'docs');
  });
  await step('color the tags', async () => {
    await vscode.commands.executeCommand('leaderlessSync.recolorTag', 'review', 'charts.orange');
    await vscode.commands.executeCommand('leaderlessSync.recolorTag', 'docs', 'charts.blue');
  });
  await step('favorite a file and write a note', async () => {
    await vscode.commands.executeCommand('leaderlessSync.toggleFavorite', file('src/index.ts'), undefined, true);
    await vscode.commands.executeCommand('leaderlessSync.editNote', file('docs/notes.md'), undefined, 'Summarise the sync design here');
  });
  await step('create an album', async () => {
    await vscode.commands.executeCommand('leaderlessSync.createAlbum', 'Release checklist');
    await vscode.commands.executeCommand('leaderlessSync.addToAlbum', file('README.md'), [file('README.md'), file('src/greet.ts')], 'Release checklist');
  });

  await step('show the Explorer with its badges', async () => {
    await vscode.window.showTextDocument(file('docs/notes.md'));
    await vscode.commands.executeCommand('workbench.view.explorer');
    await vscode.commands.executeCommand('revealInExplorer', file('src/greet.ts'));
    await vscode.commands.executeCommand('revealInExplorer', file('docs/notes.md'));
    await shot('explorer');
  });
  await step('show the Leaderless Sync views', async () => {
    await vscode.commands.executeCommand('workbench.view.extension.leaderlessSync');
    for (const view of ['locations', 'tags', 'albums', 'peers']) {
      await vscode.commands.executeCommand(`leaderlessSync.${view}.focus`).then(undefined, () => undefined);
    }
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    // Open a few nodes with the list commands (the keyboard's), on the focused view.
    await expand('leaderlessSync.albums', ['list.focusFirst']);
    await expand('leaderlessSync.tags', ['list.focusLast'], ['list.focusFirst']);
    await expand('leaderlessSync.locations', ['list.focusFirst', 'list.focusDown']);
    await shot('views');
  });
  await step('show the sync status panel', async () => {
    await vscode.commands.executeCommand('leaderlessSync.showStatus');
    await sleep(1500);
    await shot('status');
  });

  await laptop.stop();
}
