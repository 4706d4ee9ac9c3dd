import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Store, type StoreEvent, type StoreOptions } from '../../src/store';
import { scanJournal } from '../../src/store/journal';

/** Temp directories for store tests; call cleanup() in after(). */
export class TempDirs {
  private dirs: string[] = [];
  make(prefix = 'lsync-store-'): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }
  cleanup(): void {
    for (const d of this.dirs) fs.rmSync(d, { recursive: true, force: true });
    this.dirs = [];
  }
}

export const BASE_MIGRATIONS = [
  {
    version: 1,
    name: 'values',
    statements: ['CREATE TABLE v(id INTEGER PRIMARY KEY, i INTEGER, f REAL, t TEXT, b BLOB, n)'],
  },
];

export interface OpenResult {
  store: Store;
  events: StoreEvent[];
}

export async function openStore(dir: string, extra: Partial<StoreOptions> = {}): Promise<OpenResult> {
  const events: StoreEvent[] = [];
  const store = await Store.open({
    dir,
    migrations: BASE_MIGRATIONS,
    ...extra,
    onEvent: (e) => {
      events.push(e);
      extra.onEvent?.(e);
    },
  });
  return { store, events };
}

export function journalFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^journal-\d+\.log$/.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

export function tornFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.includes('.torn-at-'))
    .map((n) => path.join(dir, n));
}

/** Inserts n rows in n transactions (awaited one by one). */
export async function insertMany(store: Store, n: number, start = 0): Promise<void> {
  for (let k = start; k < start + n; k++) {
    await store.transaction((w) => w.run('INSERT INTO v(i, t) VALUES (?, ?)', [k, `row ${k}`]));
  }
}

export function countRows(store: Store): number {
  return store.read((r) => r.value('SELECT count(*) FROM v')) as number;
}

export function waitExit(child: import('node:child_process').ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

/** Where the records of a journal file end (the rest is preallocated zeros). */
export function journalRecordsEnd(file: string): number {
  return scanJournal(fs.readFileSync(file), file).end;
}
