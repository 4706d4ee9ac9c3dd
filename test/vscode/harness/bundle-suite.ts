/**
 * Bundles the in-VS-Code test suite: test/vscode/suite/index.ts (the mocha
 * runner the extension host calls) and every test/vscode/suite/**\/*.test.ts,
 * one file each, into dist/test/vscode/. The same files serve @vscode/test-cli
 * (.vscode-test.mjs), which loads the *.test.js itself.
 *
 * Packages stay external (required at run time from the repository's
 * node_modules, which dist/ sits inside): `vscode` only exists in the
 * extension host, and mocha must be the one instance index.js drives.
 */
import { build } from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './code-server';

export const suiteDir = path.join(repoRoot, 'test/vscode/suite');
export const suiteOutDir = path.join(repoRoot, 'dist/test/vscode');
export const suiteEntry = path.join(suiteOutDir, 'index.js');

export function suiteFiles(): string[] {
  return (readdirSync(suiteDir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => path.join(suiteDir, f));
}

export async function bundleSuite(): Promise<string[]> {
  const tests = suiteFiles();
  // A test deleted from the suite must not linger in the bundle folder.
  rmSync(suiteOutDir, { recursive: true, force: true });
  await build({
    entryPoints: [path.join(suiteDir, 'index.ts'), ...tests],
    outbase: suiteDir,
    outdir: suiteOutDir,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  return tests;
}
