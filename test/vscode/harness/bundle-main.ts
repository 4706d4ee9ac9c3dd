/** `npm run test:vscode:bundle`: builds the extension and the suite for @vscode/test-cli (.vscode-test.mjs). */
import { spawnSync } from 'node:child_process';
import { bundleSuite } from './bundle-suite';
import { repoRoot } from './code-server';

const build = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: repoRoot, stdio: 'inherit' });
if (build.status !== 0) process.exit(1);
void bundleSuite().then((tests) => console.log(`bundled ${tests.length} test file(s) into dist/test/vscode/`));
