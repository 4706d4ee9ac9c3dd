/**
 * `npm run test:vscode`: the extension's tests inside a real VS Code.
 * Builds the extension and the suite, starts a local HyperDHT testnet (the
 * engine must never reach the public DHT from a test), starts code-server on
 * a free port with temp user data, opens the workbench in headless Chromium
 * with the repository as the extension under development and the suite as
 * its test runner, and prints `N passed, N failed` from the results file the
 * runner writes. Exits non-zero on any failure; everything it started is
 * stopped and its temp folder removed on every way out.
 *
 * Environment: LEADERLESS_TEST_GREP=text runs only matching tests;
 * LEADERLESS_VSCODE_TIMEOUT=seconds bounds the run (default 600);
 * LEADERLESS_VSCODE_KEEP=1 keeps the temp folder (logs, user data) and prints it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTestnet } from '../../support/testnet';
import { bundleSuite, suiteEntry } from './bundle-suite';
import { CodeServer, codeServerDirs, repoRoot } from './code-server';
import { readResults, reportResults } from './results';
import { runBounded, timeoutFromEnv } from './run-bounded';
import { Workbench } from './workbench';
import { createWorkspace, workspaceKey } from './workspace';

// The workbench's own start-up messages, which arrive through the same log hook as the tests' output.
const workbenchChatter =
  /^(Resolving connection token|Resolved connection token|Creating a socket|\[Service Worker\]|Ignoring fetching additional builtin|ChatSessionStore:|Updating additional builtin extensions cache)/;

runBounded('test:vscode', timeoutFromEnv(600), async ({ defer }) => {
  const t0 = Date.now();
  const build = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: repoRoot, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`node esbuild.mjs failed (${build.status ?? build.signal}):\n${build.stderr}`);
  const tests = await bundleSuite();
  console.log(`test:vscode: built the extension and ${tests.length} test file(s) in ${Date.now() - t0} ms`);

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'lls-vscode-'));
  defer(() => {
    if (process.env.LEADERLESS_VSCODE_KEEP) console.log(`test:vscode: kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  });
  const testnet = await createTestnet(3);
  defer(() => testnet.destroy());
  const bootstrap = `${testnet.bootstrap[0].host}:${testnet.bootstrap[0].port}`;

  const workspace = createWorkspace(path.join(tmp, 'workspace'));
  const scratch = path.join(tmp, 'scratch');
  mkdirSync(scratch);
  const resultsFile = path.join(tmp, 'results.json');
  const dirs = codeServerDirs(path.join(tmp, 'code-server'));
  // These reach the extension host (and so the engine and the tests) through code-server's environment.
  const env = {
    LEADERLESS_TEST_BOOTSTRAP: bootstrap,
    LEADERLESS_TEST_RESULTS: resultsFile,
    LEADERLESS_TEST_REPO: repoRoot,
    LEADERLESS_TEST_WORKSPACE: workspace,
    LEADERLESS_TEST_WORKSPACE_KEY: workspaceKey,
    LEADERLESS_TEST_TMP: scratch,
    LEADERLESS_TEST_USER_DATA: dirs.userData,
    LEADERLESS_TEST_GREP: process.env.LEADERLESS_TEST_GREP ?? '',
  };
  const server = await CodeServer.start(dirs, workspace, env);
  defer(() => server.stop());
  console.log(`test:vscode: code-server on ${server.origin}, testnet ${bootstrap}`);

  const workbench = await Workbench.open(server, {
    workspace,
    extensionDevelopmentPath: repoRoot,
    extensionTestsPath: suiteEntry,
    onLog: (level, text) => {
      if (!workbenchChatter.test(text)) (level === 'error' ? console.error : console.log)(text);
    },
  });
  defer(() => workbench.close());
  const exit = await workbench.exitCode;
  const code = reportResults(readResults(resultsFile), exit);
  if (code !== 0) console.log(`\ncode-server log (last lines):\n${server.logTail(20)}`);
  console.log(`test:vscode: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return code;
});
