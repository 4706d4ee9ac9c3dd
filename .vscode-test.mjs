// For `npx vscode-test` (@vscode/test-cli) on a machine that can download VS Code:
//   npm run test:vscode:bundle && npx vscode-test
// It runs the same bundled suite as `npm run test:vscode` (which CI runs here in
// code-server + headless Chromium instead, see test/vscode/README.md), with the
// same environment: a local HyperDHT testnet started in this process (tests must
// never reach the public DHT), the sample workspace and a scratch folder.
import { defineConfig } from '@vscode/test-cli';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { require as tsxRequire } from 'tsx/cjs/api';

const repo = path.dirname(fileURLToPath(import.meta.url));
const { createTestnet } = tsxRequire('./test/support/testnet.ts', import.meta.url);
const { createWorkspace, workspaceKey } = tsxRequire('./test/vscode/harness/workspace.ts', import.meta.url);

const tmp = mkdtempSync(path.join(tmpdir(), 'lls-vscode-cli-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const workspace = createWorkspace(path.join(tmp, 'workspace'));
const userData = path.join(tmp, 'user-data');
const scratch = path.join(tmp, 'scratch');
mkdirSync(scratch);
// Lives as long as this process, which test-cli ends with process.exit when the run is over.
const testnet = await createTestnet(3);
const { host, port } = testnet.bootstrap[0];

export default defineConfig({
  files: 'dist/test/vscode/**/*.test.js',
  version: '1.100.3',
  workspaceFolder: workspace,
  launchArgs: ['--user-data-dir', userData, '--disable-extensions', '--disable-workspace-trust'],
  env: {
    LEADERLESS_TEST_BOOTSTRAP: `${host}:${port}`,
    LEADERLESS_TEST_REPO: repo,
    LEADERLESS_TEST_WORKSPACE: workspace,
    LEADERLESS_TEST_WORKSPACE_KEY: workspaceKey,
    LEADERLESS_TEST_TMP: scratch,
    LEADERLESS_TEST_USER_DATA: userData,
  },
  mocha: { ui: 'bdd', timeout: 60000 },
});
