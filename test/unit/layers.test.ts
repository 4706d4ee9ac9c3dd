/**
 * The source reads bottom-up, one folder per layer; every import points
 * down (or stays in its own layer), never up:
 *
 *   core (ids, clocks) → store → models → engine → protocol → sync → net
 *   → service → cli, worker → vscode
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const LAYERS: Record<string, number> = { core: 0, store: 1, models: 2, engine: 3, protocol: 4, sync: 5, net: 6, service: 7, cli: 8, worker: 8, vscode: 9 };
const SRC = path.join(__dirname, '..', '..', 'src');

function files(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function layerOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0];
}

describe('layering', () => {
  it('every source folder is a known layer', () => {
    for (const d of fs.readdirSync(SRC, { withFileTypes: true })) if (d.isDirectory()) assert.ok(d.name in LAYERS, `src/${d.name} is not in the layer list`);
  });

  it('every import points down or within its layer', () => {
    const upward: string[] = [];
    for (const f of files(SRC)) {
      const from = layerOf(f);
      const text = fs.readFileSync(f, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = path.resolve(path.dirname(f), m[1]);
        if (!target.startsWith(SRC + path.sep)) continue;
        const to = layerOf(target);
        if (LAYERS[to] > LAYERS[from]) upward.push(`${path.relative(SRC, f)} imports ${m[1]} (${from} → ${to})`);
      }
    }
    assert.deepEqual(upward, []);
  });
});
