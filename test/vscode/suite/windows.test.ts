/**
 * Several VS Code windows on one machine share one engine: a second window
 * (a page of the same workbench, its own extension host) becomes a client
 * of the window that owns the engine; when the owner closes, the other
 * window takes over, and writes made while it does are all kept.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { testEnv, waitFor } from '../support/test-env';
import { call, ui } from '../support/views';
import { closeWindow, openWindow } from '../support/windows';

describe('several windows, one engine', function () {
  this.timeout(240_000);

  it('a window closing hands the engine to the other one, and no write made meanwhile is lost', async () => {
    await waitFor(async () => (await ui()).connection === 'owner', 'this window to own the engine', 60_000);
    let library = (await ui()).library?.id;
    if (!library) library = (await call<{ id: string }>('init', { name: 'Windows' })).id;

    await openWindow('second');
    // Hand the engine to the second window: this one lets go, the second takes over, and this one
    // comes back as its client. (If the second window's extension was not up yet, this one simply
    // owns the engine again: try again.)
    for (let attempt = 1; ; attempt++) {
      await vscode.commands.executeCommand('leaderlessSync.internal.yieldEngine', 3000);
      const back = await waitFor(async () => {
        const c = (await ui()).connection;
        return c === 'owner' || c === 'client' ? c : null;
      }, 'this window to reach the engine again', 60_000);
      if (back === 'client') break;
      if (attempt === 10) assert.fail('the second window never took the engine over');
    }

    // Tag a file 30 times in a row; after the 10th, the owner window closes.
    const file = path.join(testEnv.workspace, 'README.md');
    const tags = Array.from({ length: 30 }, (_, i) => `handover-${i}`);
    let closing: Promise<void> | null = null;
    let closedAt = 0;
    for (const [i, tag] of tags.entries()) {
      if (i === 10) closing = closeWindow('second').then(() => void (closedAt = Date.now()));
      await call('tag', { library, path: file, tag });
    }
    await closing;
    await waitFor(async () => (await ui()).connection === 'owner', 'this window to take the engine over', 30_000);
    console.log(`    (this window owned the engine ${Date.now() - closedAt} ms after the other window was closed, or sooner)`);

    const now = await call<{ name: string }[]>('tagsOf', { library, path: file });
    for (const tag of tags) assert.ok(now.some((t) => t.name === tag), `the tag "${tag}" made during the handover is there`);
  });
});
