/**
 * Reading a small text file that came with a folder being indexed (a
 * `.gitignore`, `.git/info/exclude`, a repository's `.git/config`): such a
 * file is input, and may be a symbolic link to something huge or endless
 * (`/dev/zero`), a FIFO nobody writes to, or just very big.
 *
 * - Opened with O_NONBLOCK (a FIFO does not block the open) and, unless
 *   `followSymlinks`, O_NOFOLLOW (a link is refused, as git refuses to
 *   follow a `.gitignore` link); then it must be a regular file of at most
 *   `maxBytes`, and no more than that is ever read (it may grow meanwhile).
 * - The answer says why a file was not read, so the caller can warn; a
 *   missing file is simply absent.
 *
 * Windows has no O_NOFOLLOW: there a link is followed, and still must lead
 * to a regular file within the size bound.
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { errCode } from '../store/fsutil';

export const MAX_IGNORE_FILE_BYTES = 1 << 20;

export type SmallFile = { text: string } | { skipped: string } | null;

export async function readSmallTextFile(file: string, opts: { maxBytes?: number; followSymlinks?: boolean } = {}): Promise<SmallFile> {
  const max = opts.maxBytes ?? MAX_IGNORE_FILE_BYTES;
  const flags = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (opts.followSymlinks ? 0 : (constants.O_NOFOLLOW ?? 0));
  let fh: FileHandle;
  try {
    fh = await fsp.open(file, flags);
  } catch (e) {
    const code = errCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    if (code === 'ELOOP' && !opts.followSymlinks) return { skipped: 'it is a symbolic link (not followed, as git does not)' };
    return { skipped: `it could not be opened (${code ?? (e as Error).message})` };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { skipped: 'it is not a regular file' };
    if (st.size > max) return { skipped: `it is larger than ${describeBytes(max)} (${st.size} bytes)` };
    const buf = Buffer.alloc(st.size + 1); // one byte more: a file that grew is noticed
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got > st.size && got > max) return { skipped: `it is larger than ${describeBytes(max)} (it grew while being read)` };
    return { text: buf.subarray(0, got).toString('utf8') };
  } catch (e) {
    return { skipped: `it could not be read (${errCode(e) ?? (e as Error).message})` };
  } finally {
    await fh.close();
  }
}

function describeBytes(n: number): string {
  return n % (1 << 20) === 0 ? `${n >> 20} MiB` : `${n} bytes`;
}
