/**
 * `npm run screenshots`: PNGs of the extension's views and status panel, for
 * the README, in media/screenshots/. Runs screenshot-scene.ts in the
 * extension host of a workbench session (a library, a paired CLI peer, tags,
 * notes, an album); each time the scene prints `SCREENSHOT <name>` this side
 * saves the page and answers with a file, so the scene can move on.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { repoRoot } from './code-server';
import { runBounded, timeoutFromEnv } from './run-bounded';
import { startSession } from './session';

const outDir = path.join(repoRoot, 'media/screenshots');
// Inside the repository, which is the extension under development: the host only gives `vscode` to code there.
const sceneBundle = path.join(repoRoot, 'dist/test/screenshots/scene.js');

/** Drags the side bar's sash until the bar is `width` px wide, so the views' labels are not cut. */
async function widenSideBar(page: Page, width: number): Promise<void> {
  const box = await page.locator('.part.sidebar').first().boundingBox();
  if (!box || box.width >= width) return;
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width - 1, y);
  await page.mouse.down();
  await page.mouse.move(box.x + width, y, { steps: 5 });
  await page.mouse.up();
  // Off the sash, which stays highlighted while hovered.
  await page.mouse.move(box.x + width + 400, y);
  await page.waitForTimeout(500);
}

runBounded('screenshots', timeoutFromEnv(300), async (bounded) => {
  const built = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: repoRoot, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`node esbuild.mjs failed:\n${built.stderr}`);
  await build({
    entryPoints: [path.join(__dirname, 'screenshot-scene.ts')],
    outfile: sceneBundle,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
  mkdirSync(outDir, { recursive: true });

  const saved: string[] = [];
  let pending = Promise.resolve();
  const session = await startSession(bounded, {
    name: 'screenshots',
    extensionTestsPath: sceneBundle,
    viewport: { width: 1280, height: 800 },
    settings: {
      'leaderlessSync.deviceName': 'Desktop',
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'workbench.sideBar.location': 'left',
      'editor.minimap.enabled': false,
    },
    onLog: (_level, text) => {
      const m = /^SCREENSHOT (\w[\w-]*)$/.exec(text.trim());
      if (!m) {
        if (text.startsWith('scene:')) console.log(text);
        return;
      }
      const name = m[1];
      pending = pending.then(async () => {
        const file = path.join(outDir, `${name}.png`);
        try {
          if (!saved.length) await widenSideBar(session.workbench.page, 380);
          await session.workbench.page.screenshot({ path: file });
          saved.push(path.relative(repoRoot, file));
          console.log(`screenshots: saved ${path.relative(repoRoot, file)}`);
        } catch (e) {
          console.log(`screenshots: ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
        writeFileSync(path.join(session.scratch, `${name}.taken`), '');
      });
    },
  });
  const exit = await session.workbench.exitCode;
  await pending;
  console.log(`screenshots: ${saved.length} saved${exit === 0 ? '' : ' (the scene ended with an error)'}`);
  return saved.length ? 0 : 1;
});
