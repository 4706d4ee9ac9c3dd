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
/** Where test:vscode:bundle puts the suite for @vscode/test-cli (.vscode-test.mjs). */
export const suiteOutDir = path.join(repoRoot, 'dist/test/vscode');

export function suiteFiles(): string[] {
  return (readdirSync(suiteDir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => path.join(suiteDir, f));
}

/**
 * Bundles into `outDir` (emptied first, so a deleted test does not linger).
 * It must lie inside the repository: the extension host only gives `vscode`
 * to modules inside an extension's folder.
 */
export async function bundleSuite(outDir = suiteOutDir): Promise<string[]> {
  const tests = suiteFiles();
  rmSync(outDir, { recursive: true, force: true });
  await build({
    entryPoints: [path.join(suiteDir, 'index.ts'), ...tests],
    outbase: suiteDir,
    outdir: outDir,
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
