/**
 * The volume (filesystem) holding a folder, best effort and without native
 * code: its mount point is the highest ancestor on the same device number;
 * sizes come from statfs; the filesystem type from /proc/self/mounts where
 * there is one (Linux). Removable is guessed from where it is mounted
 * (/Volumes/… on macOS, /media/… or /run/media/… on Linux; a drive other than
 * the system drive on Windows is not distinguished).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

export interface VolumeInfo {
  mountPoint: string;
  name: string;
  filesystem: string | null;
  totalBytes: number | null;
  availableBytes: number | null;
  removable: boolean;
}

/** Largest integer the models store exactly. */
const MAX_INT = 2 ** 52 - 1;

export async function volumeOf(folder: string): Promise<VolumeInfo> {
  const mountPoint = await mountPointOf(path.resolve(folder));
  const sizes = await sizesOf(mountPoint);
  return {
    mountPoint,
    name: volumeName(mountPoint),
    filesystem: await filesystemOf(mountPoint),
    totalBytes: sizes?.total ?? null,
    availableBytes: sizes?.available ?? null,
    removable: looksRemovable(mountPoint),
  };
}

/** Walks up from `folder` while the parent is on the same device. */
export async function mountPointOf(folder: string): Promise<string> {
  let dir = folder;
  let dev: number;
  try {
    dev = (await fsp.stat(dir)).dev;
  } catch {
    return path.parse(dir).root || dir;
  }
  for (;;) {
    const parent = path.dirname(dir);
    if (parent === dir) return dir;
    try {
      if ((await fsp.stat(parent)).dev !== dev) return dir;
    } catch {
      return dir; // an unreadable parent: as far as we can tell, the mount is here
    }
    dir = parent;
  }
}

function volumeName(mountPoint: string): string {
  const base = path.basename(mountPoint);
  return (base || mountPoint.replace(/[\\/]+$/, '') || mountPoint).slice(0, 256);
}

async function sizesOf(dir: string): Promise<{ total: number; available: number } | null> {
  if (typeof fsp.statfs !== 'function') return null;
  try {
    const s = await fsp.statfs(dir);
    const clamp = (n: number) => (Number.isFinite(n) && n >= 0 ? Math.min(Math.floor(n), MAX_INT) : 0);
    return { total: clamp(s.blocks * s.bsize), available: clamp(s.bavail * s.bsize) };
  } catch {
    return null;
  }
}

async function filesystemOf(mountPoint: string): Promise<string | null> {
  if (process.platform !== 'linux') return null;
  let text: string;
  try {
    text = await fsp.readFile('/proc/self/mounts', 'utf8');
  } catch {
    return null;
  }
  let found: string | null = null;
  for (const line of text.split('\n')) {
    const [, mnt, type] = line.split(' ');
    // Octal escapes (\040 for a space) in mount points; the last mount on a point is the visible one.
    if (mnt !== undefined && unescapeMount(mnt) === mountPoint && type) found = type.slice(0, 64);
  }
  return found;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function looksRemovable(mountPoint: string): boolean {
  if (process.platform === 'darwin') return mountPoint.startsWith('/Volumes/');
  if (process.platform === 'linux') return /^\/(?:run\/)?media\//.test(mountPoint);
  return false;
}
