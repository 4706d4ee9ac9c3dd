// Bundles the extension host entry, the engine worker and the CLI peer.
// Native addons that Hyperswarm needs cannot be bundled (they locate their
// prebuilds relative to their own package), and `vscode` is provided by the host.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, chmodSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const outdir = 'dist';

const options = {
  entryPoints: {
    extension: 'src/vscode/extension.ts',
    worker: 'src/worker/engine-worker.ts',
    cli: 'src/cli/main.ts',
  },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outdir,
  external: ['vscode', 'udx-native', 'sodium-native'],
  sourcemap: !production,
  minify: production,
  logLevel: 'info',
};

mkdirSync(outdir, { recursive: true });
copyFileSync(require.resolve('sql.js/dist/sql-wasm.wasm'), path.join(outdir, 'sql-wasm.wasm'));

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
  chmodSync(path.join(outdir, 'cli.js'), 0o755);
}
