/**
 * `npm run package [-- --target linux-x64 ...]`: production bundles, then one
 * VSIX per target platform in out/vsix/ (git-ignored), built with @vscode/vsce
 * from a staging folder per target (out/vsix/stage-<target>/) that holds
 * exactly what the extension needs at run time:
 *
 * - package.json (its dependencies cut down to the native addons below, which
 *   are all that is not bundled), README.md, CHANGELOG.md, media/ (without
 *   the README's screenshots: the Marketplace shows those from the repository);
 * - dist/: extension.js, worker.js, cli.js, sql-wasm.wasm, from
 *   `esbuild.mjs --production` run in out/vsix/build/ (the repository's
 *   files linked there), so the working tree's dev build in dist/ is left alone;
 * - node_modules/: udx-native and sodium-native, which esbuild.mjs leaves
 *   external because require-addon finds their binaries relative to the
 *   package (node_modules/<pkg>/prebuilds/<platform>-<arch>/<pkg>.node), plus
 *   every package they require at run time, with only the target's prebuilds
 *   (and without the .bare builds, which only the Bare runtime loads).
 *
 * Everything comes from the installed node_modules: nothing is downloaded.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '..');
const outDir = path.join(repo, 'out/vsix');
const allTargets = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64'];
/** The packages esbuild.mjs marks external (besides `vscode`). */
const nativeAddons = ['udx-native', 'sodium-native'];

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
}

function readJson(file: string): Record<string, any> {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Node's lookup: the nearest node_modules/<name> from `from` upwards. */
function resolvePackageDir(name: string, from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`cannot find ${name} from ${from}`);
  }
}

/** The addons and every package they depend on (package.json "dependencies", transitively), as folders. */
function runtimeClosure(roots: string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string, from: string): void => {
    const dir = resolvePackageDir(name, from);
    if (seen.has(dir)) return;
    seen.add(dir);
    for (const dep of Object.keys(readJson(path.join(dir, 'package.json')).dependencies ?? {})) visit(dep, dir);
  };
  for (const r of roots) visit(r, repo);
  return [...seen].sort();
}

/** Whether a file of an addon package belongs in the VSIX for `target`. */
function keepPackageFile(rel: string, target: string): boolean {
  const parts = rel.split(path.sep);
  const p = parts.indexOf('prebuilds');
  if (p >= 0 && parts.length > p + 1) {
    if (parts[p + 1] !== target) return false;
    if (rel.endsWith('.bare')) return false;
  }
  // Build inputs, not needed to run.
  if (/\.(c|cc|h)$/.test(rel) || path.basename(rel) === 'CMakeLists.txt') return false;
  return true;
}

function copyTree(from: string, to: string, keep: (rel: string) => boolean): void {
  const walk = (rel: string): void => {
    const src = path.join(from, rel);
    if (statSync(src).isDirectory()) {
      for (const e of readdirSync(src)) walk(path.join(rel, e));
    } else if (keep(rel)) {
      mkdirSync(path.dirname(path.join(to, rel)), { recursive: true });
      copyFileSync(src, path.join(to, rel));
    }
  };
  walk('');
}

/** Runs esbuild.mjs --production with its output in out/vsix/build/dist instead of dist/; returns that folder. */
function productionBuild(): string {
  const dir = path.join(outDir, 'build');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // esbuild.mjs reads its inputs relative to the working directory and writes to ./dist.
  for (const e of readdirSync(repo)) {
    if (!['dist', 'out', '.git', '.vscode-test'].includes(e)) symlinkSync(path.join(repo, e), path.join(dir, e));
  }
  run(process.execPath, [path.join(repo, 'esbuild.mjs'), '--production'], dir);
  return path.join(dir, 'dist');
}

function stage(target: string, closure: string[], dist: string): string {
  const dir = path.join(outDir, `stage-${target}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const manifest = readJson(path.join(repo, 'package.json'));
  const installed = (name: string): string => readJson(path.join(resolvePackageDir(name, repo), 'package.json')).version;
  manifest.dependencies = Object.fromEntries(nativeAddons.map((n) => [n, installed(n)]));
  delete manifest.devDependencies;
  delete manifest.scripts;
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  // The folder holds only what belongs in the VSIX; an ignore file says so (vsce warns without one).
  writeFileSync(path.join(dir, '.vscodeignore'), '# staged by .ci/package-vsix.ts: every file here is packaged\n');

  for (const f of ['README.md', 'CHANGELOG.md']) copyFileSync(path.join(repo, f), path.join(dir, f));
  cpSync(path.join(repo, 'media'), path.join(dir, 'media'), {
    recursive: true,
    filter: (src) => path.relative(path.join(repo, 'media'), src).split(path.sep)[0] !== 'screenshots',
  });
  mkdirSync(path.join(dir, 'dist'));
  for (const f of readdirSync(dist)) {
    const src = path.join(dist, f);
    if (statSync(src).isFile() && !f.endsWith('.map')) copyFileSync(src, path.join(dir, 'dist', f));
  }
  for (const pkg of closure) {
    copyTree(pkg, path.join(dir, path.relative(repo, pkg)), (rel) => keepPackageFile(rel, target));
  }
  return dir;
}

function main(): void {
  const targets: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--target' && argv[i + 1]) targets.push(...argv[++i].split(','));
    else throw new Error(`usage: package-vsix.ts [--target ${allTargets.join('|')}]...`);
  }
  for (const t of targets) if (!allTargets.includes(t)) throw new Error(`unknown target ${t} (${allTargets.join(', ')})`);

  mkdirSync(outDir, { recursive: true });
  const dist = productionBuild();
  const closure = runtimeClosure(nativeAddons);
  const { name, version } = readJson(path.join(repo, 'package.json'));
  const vsce = path.join(repo, 'node_modules/@vscode/vsce/vsce');
  for (const target of targets.length ? targets : allTargets) {
    const dir = stage(target, closure, dist);
    const out = path.join(outDir, `${name}-${target}-${version}.vsix`);
    // No LICENSE file in the repository yet (package.json says MIT): vsce would stop to ask.
    run(process.execPath, [vsce, 'package', '--target', target, '--out', out, '--skip-license'], dir);
  }
}

main();
