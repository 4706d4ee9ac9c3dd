/** Bundles an entry point as shipped (esbuild, CommonJS, sql-wasm.wasm beside it) into a temp folder. */
import { copyFileSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { tempDir } from './tmp';

export async function bundleForTest(entry: string, name: string): Promise<string> {
  const out = tempDir();
  const file = path.join(out, name);
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', outfile: file, logLevel: 'silent' });
  copyFileSync(require.resolve('sql.js/dist/sql-wasm.wasm'), path.join(out, 'sql-wasm.wasm'));
  return file;
}
