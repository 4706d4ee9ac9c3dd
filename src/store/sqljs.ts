import * as fs from 'node:fs';
import * as path from 'node:path';
import initSqlJs from 'sql.js';

export type SqlJs = initSqlJs.SqlJsStatic;
export type SqlDatabase = initSqlJs.Database;
export type SqlStatement = initSqlJs.Statement;

let cached: Promise<SqlJs> | null = null;

/** Where sql-wasm.wasm is looked for: next to the running bundle first, then in the sql.js package. */
export function locateWasm(): string {
  const candidates = [path.join(__dirname, 'sql-wasm.wasm')];
  try {
    candidates.push(require.resolve('sql.js/dist/sql-wasm.wasm'));
  } catch {
    /* not resolvable (bundled without node_modules) */
  }
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error(`sql-wasm.wasm not found (looked in ${candidates.join(', ')}); copy it next to the bundle or pass wasmBinary`);
}

/** Loads sql.js once per process (one WebAssembly instance shared by every Store). */
export function loadSqlJs(wasmBinary?: Uint8Array): Promise<SqlJs> {
  if (!cached) {
    const binary = wasmBinary ?? fs.readFileSync(locateWasm());
    const bytes = binary.buffer.slice(binary.byteOffset, binary.byteOffset + binary.byteLength) as ArrayBuffer;
    cached = initSqlJs({ wasmBinary: bytes });
    cached.catch(() => (cached = null));
  }
  return cached;
}
