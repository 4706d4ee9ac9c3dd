/**
 * One workbench session with the repository's extension under development:
 * a local HyperDHT testnet (the engine must never reach the public DHT from a
 * test), the sample workspace, code-server on a free port with temp user data,
 * and the workbench in headless Chromium running `extensionTestsPath` in the
 * extension host. Used by the test run and the screenshot script; everything
 * it starts is registered with `defer` for cleanup.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTestnet } from '../../support/testnet';
import { CodeServer, codeServerDirs, repoRoot } from './code-server';
import type { Bounded } from './run-bounded';
import { serveExtraWindows } from './extra-windows';
import { Workbench } from './workbench';
import { createWorkspace, workspaceKey } from './workspace';

export interface Session {
  server: CodeServer;
  workbench: Workbench;
  /** Where the in-host runner writes its results (suite/index.ts). */
  resultsFile: string;
  /** LEADERLESS_TEST_TMP: scratch space shared with the extension host. */
  scratch: string;
}

// The workbench's own start-up messages, which arrive through the same log hook as the tests' output.
const workbenchChatter =
  /^(Resolving connection token|Resolved connection token|Creating a socket|\[Service Worker\]|Ignoring fetching additional builtin|ChatSessionStore:|Updating additional builtin extensions cache)/;

export async function startSession(
  { defer }: Bounded,
  opts: {
    name: string;
    extensionTestsPath: string;
    onLog?: (level: string, text: string) => void;
    viewport?: { width: number; height: number };
    /** User settings the window starts with. */
    settings?: Record<string, unknown>;
    /** More environment for code-server and so the extension host (e.g. a benchmark's parameters). */
    env?: Record<string, string>;
  },
): Promise<Session> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'lls-vscode-'));
  defer(() => {
    if (process.env.LEADERLESS_VSCODE_KEEP) console.log(`${opts.name}: kept ${tmp}`);
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
  if (opts.settings) {
    mkdirSync(path.join(dirs.userData, 'User'), { recursive: true });
    writeFileSync(path.join(dirs.userData, 'User/settings.json'), JSON.stringify(opts.settings, null, 2));
  }
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
    ...opts.env,
  };
  const server = await CodeServer.start(dirs, workspace, env);
  defer(() => server.stop());
  console.log(`${opts.name}: code-server on ${server.origin}, testnet ${bootstrap}`);

  const onLog = opts.onLog ?? ((level: string, text: string) => (level === 'error' ? console.error(text) : console.log(text)));
  const workbench = await Workbench.open(server, {
    workspace,
    extensionDevelopmentPath: repoRoot,
    extensionTestsPath: opts.extensionTestsPath,
    viewport: opts.viewport,
    onLog: (level, text) => {
      if (!workbenchChatter.test(text)) onLog(level, text);
    },
  });
  defer(() => workbench.close());
  void server.crashed.then(() => {
    // The tests cannot finish without their server: say so instead of waiting for the timeout.
    console.error(`${opts.name}: code-server exited:\n${server.logTail(20)}`);
    workbench.fail();
  });
  // Tests that need more windows on the same engine ask for them (test/vscode/support/windows.ts).
  const windows = serveExtraWindows(server, workbench, { scratch, workspace, extensionDevelopmentPath: repoRoot });
  defer(() => windows.stop());
  return { server, workbench, resultsFile, scratch };
}
