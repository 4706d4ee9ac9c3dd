/**
 * `npm run test:vscode`: the extension's tests inside a real VS Code.
 * Builds the extension and the suite, then runs the suite as the test runner
 * of a workbench session (session.ts: local testnet, code-server, headless
 * Chromium) and prints `N passed, N failed` from the results file the runner
 * writes. Exits non-zero on any failure; everything it started is stopped and
 * its temp folder removed on every way out.
 *
 * Environment: LEADERLESS_TEST_GREP=text runs only matching tests;
 * LEADERLESS_VSCODE_TIMEOUT=seconds bounds the run (default 600);
 * LEADERLESS_VSCODE_KEEP=1 keeps the temp folder (logs, user data) and prints it.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { bundleSuite } from './bundle-suite';
import { repoRoot } from './code-server';
import { readResults, reportResults } from './results';
import { runBounded, timeoutFromEnv } from './run-bounded';
import { startSession } from './session';

runBounded('test:vscode', timeoutFromEnv(600), async (bounded) => {
  const t0 = Date.now();
  const build = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: repoRoot, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`node esbuild.mjs failed (${build.status ?? build.signal}):\n${build.stderr}`);
  // A folder of this run's own: several runs in one working tree must not rebundle under each other's feet.
  const suiteOut = path.join(repoRoot, `dist/test/run-${process.pid}`);
  bounded.defer(() => rmSync(suiteOut, { recursive: true, force: true }));
  const tests = await bundleSuite(suiteOut);
  console.log(`test:vscode: built the extension and ${tests.length} test file(s) in ${Date.now() - t0} ms`);

  const { server, workbench, resultsFile } = await startSession(bounded, { name: 'test:vscode', extensionTestsPath: path.join(suiteOut, 'index.js') });
  const exit = await workbench.exitCode;
  const code = reportResults(readResults(resultsFile), exit);
  if (code !== 0) console.log(`\ncode-server log (last lines):\n${server.logTail(20)}`);
  console.log(`test:vscode: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return code;
});
