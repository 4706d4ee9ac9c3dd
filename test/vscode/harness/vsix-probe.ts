/**
 * Runs inside the extension host of the VSIX test (vsix-test.ts), as the
 * test runner of a throwaway probe extension: the extension under test is
 * the copy code-server installed from the VSIX, not the repository. Checks
 * that it is that copy, that it activates by itself, that a command runs, and
 * that its native addons load from the VSIX's own prebuilds, and that its
 * engine (worker thread, sql.js wasm) creates a library. Writes the same
 * results file as suite/index.ts.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

const extensionId = 'leaderless.leaderless-sync';

async function waitFor(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const checks: [string, () => Promise<void>][] = [
  [
    'the extension is the copy installed from the VSIX',
    async () => {
      const ext = vscode.extensions.getExtension(extensionId);
      if (!ext) throw new Error(`${extensionId} is not installed`);
      const dir = process.env.LEADERLESS_TEST_EXTENSIONS!;
      if (!ext.extensionPath.startsWith(dir + path.sep)) throw new Error(`loaded from ${ext.extensionPath}, not from ${dir}`);
    },
  ],
  [
    'it activates by itself after startup',
    () => waitFor(() => vscode.extensions.getExtension(extensionId)!.isActive, 'activation (onStartupFinished)', 30_000),
  ],
  [
    'leaderlessSync.showLog is registered and runs',
    async () => {
      const all = await vscode.commands.getCommands(true);
      if (!all.includes('leaderlessSync.showLog')) throw new Error('leaderlessSync.showLog is not registered');
      await vscode.commands.executeCommand('leaderlessSync.showLog');
    },
  ],
  [
    'its native addons load from the VSIX (udx-native, sodium-native)',
    async () => {
      const root = vscode.extensions.getExtension(extensionId)!.extensionPath;
      const sodium = require(path.join(root, 'node_modules/sodium-native'));
      const buf = Buffer.alloc(32);
      sodium.randombytes_buf(buf);
      if (buf.every((b) => b === 0)) throw new Error('sodium-native returned no random bytes');
      const UDX = require(path.join(root, 'node_modules/udx-native'));
      const socket = new UDX().createSocket();
      socket.bind(0, '127.0.0.1');
      await socket.close();
    },
  ],
  [
    'its engine runs from the VSIX (worker thread, sql.js wasm): Create Library answers',
    async () => {
      // The engine opens after activation: retry until it takes the library.
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          const info = (await vscode.commands.executeCommand('leaderlessSync.createLibrary', 'VSIX check')) as { id?: string; name?: string };
          if (info?.name === 'VSIX check') return;
          throw new Error(`unexpected answer ${JSON.stringify(info)}`);
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
  ],
];

export async function run(): Promise<void> {
  const results = { passed: 0, failed: 0, pending: 0, failures: [] as { title: string; error: string }[], tests: [] as { title: string; state: string; durationMs: number }[] };
  for (const [title, check] of checks) {
    const t0 = Date.now();
    try {
      await check();
      results.passed++;
      results.tests.push({ title, state: 'passed', durationMs: Date.now() - t0 });
      console.log(`  ok   vsix ${title} (${Date.now() - t0} ms)`);
    } catch (e) {
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      results.failed++;
      results.failures.push({ title: `vsix ${title}`, error });
      results.tests.push({ title, state: 'failed', durationMs: Date.now() - t0 });
      console.log(`  FAIL vsix ${title}\n${error}`);
    }
  }
  writeFileSync(process.env.LEADERLESS_TEST_RESULTS!, JSON.stringify(results, null, 2));
  if (results.failed) throw new Error(`${results.failed} VSIX check(s) failed`);
}
