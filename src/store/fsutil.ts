import * as fs from 'node:fs';
import * as path from 'node:path';

/** Every folder a library creates is this user's alone; so is every file (a journal holds the library's secret). */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** fsync a directory so that renames/creations/deletions in it are durable. */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return; // directories cannot be fsynced there; NTFS journals metadata
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function fsyncDirSync(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `data` to a new file (must not exist), fsyncs it, and fsyncs the directory. */
export function writeFileDurableSync(file: string, data: Uint8Array): void {
  const fd = fs.openSync(file, 'wx', PRIVATE_FILE_MODE);
  try {
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fsyncDirSync(path.dirname(file));
}

export function randomSuffix(): string {
  return `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export function errCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? ((e as NodeJS.ErrnoException).code ?? undefined) : undefined;
}

/** Turns whatever sql.js threw (sometimes a string) into an Error. */
export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
