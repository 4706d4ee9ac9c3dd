/** Bundles entry points as shipped (esbuild, CommonJS, sql-wasm.wasm beside them) into a temp folder. */
import { copyFileSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { tempDir } from './tmp';

/**
 * Bundles `entries` (output name → source) as esbuild.mjs does (`vscode` and
 * Hyperswarm's native addons left to be required at run time) into a new
 * temp folder, with sql-wasm.wasm beside them; returns the folder.
 */
export async function bundleEntries(entries: Record<string, string>, prefix?: string): Promise<string> {
  const out = tempDir(prefix);
  await build({
    entryPoints: entries,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outdir: out,
    external: ['vscode', 'udx-native', 'sodium-native'],
    logLevel: 'silent',
  });
  copyFileSync(require.resolve('sql.js/dist/sql-wasm.wasm'), path.join(out, 'sql-wasm.wasm'));
  return out;
}

/** One entry point bundled as `name` (e.g. 'child.js'); returns the bundle's path. */
export async function bundleForTest(entry: string, name: string): Promise<string> {
  return path.join(await bundleEntries({ [name.replace(/\.js$/, '')]: entry }), name);
}
