/**
 * More VS Code windows for a test that needs them (several windows sharing
 * one engine): a test running in the extension host cannot open or close a
 * browser page, so it asks the harness through files in the run's scratch
 * folder (test/vscode/support/windows.ts writes them):
 *
 *   <scratch>/windows/open-NAME    → a new page of the same workbench with the
 *                                    extension loaded (its own extension host)
 *                                    on the same folder; then opened-NAME appears
 *   <scratch>/windows/close-NAME   → that page is closed (its extension is
 *                                    deactivated, as when a user closes a window);
 *                                    then closed-NAME appears
 *
 * The pages belong to the session's browser, so they go with it on every way out.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import type { CodeServer } from './code-server';
import { workbenchUrl, type Workbench } from './workbench';

const POLL_MS = 100;

export function serveExtraWindows(server: CodeServer, workbench: Workbench, opts: { scratch: string; workspace: string; extensionDevelopmentPath: string }): { stop(): void } {
  const dir = path.join(opts.scratch, 'windows');
  mkdirSync(dir, { recursive: true });
  const pages = new Map<string, Page>();
  const handled = new Set<string>();
  let busy = false;
  const answer = (what: string, error?: unknown) =>
    writeFileSync(path.join(dir, what), error === undefined ? '' : error instanceof Error ? error.message : String(error));

  const poll = async () => {
    if (busy) return;
    busy = true;
    try {
      for (const f of readdirSync(dir)) {
        if (handled.has(f)) continue;
        const m = /^(open|close)-([\w-]+)$/.exec(f);
        if (!m) continue;
        handled.add(f);
        const [, verb, name] = m;
        try {
          if (verb === 'open') {
            const page = await workbench.browser.newPage({ viewport: { width: 1000, height: 700 } });
            pages.set(name, page);
            await page.goto(workbenchUrl(server, { workspace: opts.workspace, extensionDevelopmentPath: opts.extensionDevelopmentPath }), {
              waitUntil: 'domcontentloaded',
              timeout: 60_000,
            });
            await page.locator('.monaco-workbench .activitybar').first().waitFor({ state: 'visible', timeout: 60_000 });
            answer(`opened-${name}`);
          } else {
            const page = pages.get(name);
            pages.delete(name);
            await page?.close({ runBeforeUnload: true });
            answer(`closed-${name}`);
          }
        } catch (e) {
          answer(`${verb === 'open' ? 'opened' : 'closed'}-${name}.error`, e);
        }
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void poll(), POLL_MS);
  return {
    stop() {
      clearInterval(timer);
    },
  };
}
