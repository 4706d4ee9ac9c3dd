/**
 * `npm run test:vsix`: the linux-x64 VSIX as a user gets it. Checks its file
 * list (`unzip -l`: bundle, wasm, media, both addons with only linux-x64
 * prebuilds), installs it into a fresh code-server with --install-extension,
 * and opens the workbench with a throwaway probe extension as the test runner
 * (VS Code only runs tests for a development extension), whose checks run
 * against the installed copy (vsix-probe.ts). Prints `N passed, N failed`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { createTestnet } from '../../support/testnet';
import { CodeServer, codeServerDirs, installExtension, repoRoot } from './code-server';
import { readResults, reportResults } from './results';
import { runBounded, timeoutFromEnv } from './run-bounded';
import { Workbench } from './workbench';
import { createWorkspace } from './workspace';

const target = 'linux-x64';

/** Problems with the VSIX's file list, from `unzip -l`. */
function checkContents(vsix: string): string[] {
  const r = spawnSync('unzip', ['-l', vsix], { encoding: 'utf8' });
  if (r.status !== 0) return [`unzip -l failed: ${r.stderr}`];
  const files = r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[3])
    .filter((f): f is string => !!f && f.startsWith('extension/'));
  const problems: string[] = [];
  const required = [
    'extension/package.json',
    'extension/dist/extension.js',
    'extension/dist/worker.js',
    'extension/dist/sql-wasm.wasm',
    'extension/media/icon.png',
    `extension/node_modules/udx-native/prebuilds/${target}/udx-native.node`,
    `extension/node_modules/sodium-native/prebuilds/${target}/sodium-native.node`,
    'extension/node_modules/require-addon/package.json',
  ];
  for (const f of required) if (!files.includes(f)) problems.push(`missing ${f}`);
  for (const f of files) {
    if (/\/prebuilds\//.test(f) && !f.includes(`/prebuilds/${target}/`)) problems.push(`another platform's prebuild: ${f}`);
    if (f.endsWith('.map')) problems.push(`source map packaged: ${f}`);
  }
  console.log(`test:vsix: ${path.basename(vsix)} holds ${files.length} files`);
  return problems;
}

runBounded('test:vsix', timeoutFromEnv(300), async ({ defer }) => {
  const t0 = Date.now();
  const { name, version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  const vsix = path.join(repoRoot, 'out/vsix', `${name}-${target}-${version}.vsix`);
  const problems = checkContents(vsix);
  if (problems.length) {
    for (const p of problems) console.log(`  FAIL ${p}`);
    console.log(`\n0 passed, ${problems.length} failed`);
    return 1;
  }
  console.log('  ok   vsix file list: bundle, wasm, media, addons with only linux-x64 prebuilds');

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'lls-vsix-'));
  defer(() => rmSync(tmp, { recursive: true, force: true }));
  const dirs = codeServerDirs(path.join(tmp, 'code-server'));
  installExtension(dirs, vsix);

  // The probe: a minimal extension whose test runner is vsix-probe.ts.
  const probe = path.join(tmp, 'probe');
  mkdirSync(probe);
  writeFileSync(
    path.join(probe, 'package.json'),
    JSON.stringify({ name: 'vsix-probe', publisher: 'leaderless-test', version: '0.0.0', engines: { vscode: '^1.100.0' }, extensionKind: ['workspace'] }),
  );
  await build({
    entryPoints: [path.join(__dirname, 'vsix-probe.ts')],
    outfile: path.join(probe, 'probe.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    logLevel: 'warning',
  });

  const testnet = await createTestnet(3);
  defer(() => testnet.destroy());
  const workspace = createWorkspace(path.join(tmp, 'workspace'));
  const resultsFile = path.join(tmp, 'results.json');
  const server = await CodeServer.start(dirs, workspace, {
    LEADERLESS_TEST_BOOTSTRAP: `${testnet.bootstrap[0].host}:${testnet.bootstrap[0].port}`,
    LEADERLESS_TEST_RESULTS: resultsFile,
    LEADERLESS_TEST_EXTENSIONS: dirs.extensions,
  });
  defer(() => server.stop());
  const workbench = await Workbench.open(server, {
    workspace,
    extensionDevelopmentPath: probe,
    extensionTestsPath: path.join(probe, 'probe.js'),
    onLog: (_level, text) => {
      if (text.includes(' vsix ')) console.log(text);
    },
  });
  defer(() => workbench.close());
  const exit = await workbench.exitCode;
  const results = readResults(resultsFile);
  if (results) results.passed++; // the file-list check above
  const code = reportResults(results, exit);
  if (code !== 0) console.log(`\ncode-server log (last lines):\n${server.logTail(20)}`);
  console.log(`test:vsix: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return code;
});
