/**
 * Folders only this user may use: the data directory (libraries, journals
 * holding each library's secret, the device key) and the folder of the
 * control socket.
 *
 * - `ensurePrivateDir` (for whoever creates or serves from the folder):
 *   creates it with mode 0700 if it is missing. An existing one must be a
 *   directory owned by this user that neither group nor others can write
 *   to; one that they can only read or enter is made 0700 (nothing can have
 *   been planted in it). Anything else is an UnsafeDirectoryError naming
 *   the folder and what is wrong, and nothing in it is touched: files that
 *   others could write may already have been replaced, so fixing the mode
 *   silently would hide that.
 * - `checkTrustedDir` (for a reader that must not change anything, e.g. a
 *   client about to connect to a socket in it): the same ownership and
 *   write checks, no chmod.
 *
 * The path may be a symbolic link (a data directory moved to another disk),
 * but only one this user (or root) owns: another user's link could be
 * pointed elsewhere between our check and our use.
 *
 * Windows has no such mode bits or uids (ACLs instead; a user's profile is
 * private by default): there the folder is only created.
 */
import * as fs from 'node:fs';
import { errCode, PRIVATE_DIR_MODE } from './fsutil';

/** A folder that other users own or can write to: refused, left as it is. */
export class UnsafeDirectoryError extends Error {
  readonly code = 'ERR_UNSAFE_DIR';
  constructor(
    readonly dir: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`Refusing to use ${dir}: ${problem}. ${fix}`);
    this.name = 'UnsafeDirectoryError';
  }
}

export interface PrivateDirOptions {
  /** What the folder is, for messages ("the data directory"). */
  what: string;
  /** Told when an existing folder's mode was tightened. */
  log?: (line: string) => void;
}

/** Creates `dir` (0700) or checks and tightens an existing one; throws UnsafeDirectoryError. */
export function ensurePrivateDir(dir: string, opts: PrivateDirOptions): void {
  if (process.platform === 'win32') {
    fs.mkdirSync(dir, { recursive: true });
    return;
  }
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const st = checkTrustedDir(dir, opts.what);
  if ((st.mode & 0o077) !== 0) {
    fs.chmodSync(dir, PRIVATE_DIR_MODE);
    opts.log?.(`made ${opts.what} ${dir} private to this user (mode ${modeString(st.mode)} → 700)`);
  }
}

/**
 * Checks, without changing anything, that `dir` is a directory owned by
 * this user that group and others cannot write to (so nobody else can have
 * put or replaced anything in it). Returns its stats (the link's target's).
 */
export function checkTrustedDir(dir: string, what: string): fs.Stats {
  if (process.platform === 'win32') return fs.statSync(dir);
  const uid = process.getuid!();
  const link = fs.lstatSync(dir);
  if (link.isSymbolicLink() && link.uid !== uid && link.uid !== 0) {
    throw new UnsafeDirectoryError(dir, `${what} is a symbolic link owned by another user (uid ${link.uid})`, 'Use a folder of your own');
  }
  const st = link.isSymbolicLink() ? fs.statSync(dir) : link;
  if (!st.isDirectory()) throw new UnsafeDirectoryError(dir, `${what} is not a directory`, 'Move it away or choose another folder');
  if (st.uid !== uid) {
    throw new UnsafeDirectoryError(dir, `${what} belongs to another user (uid ${st.uid}, this is uid ${uid})`, 'Use a folder of your own (or run as the user who owns it)');
  }
  if ((st.mode & 0o022) !== 0) {
    throw new UnsafeDirectoryError(
      dir,
      `other users can write to ${what} (mode ${modeString(st.mode)})`,
      `If nobody else could have changed what is in it, run \`chmod 700 '${dir}'\`; otherwise move it aside`,
    );
  }
  return st;
}

/** Like checkTrustedDir, but a missing folder is null. */
export function checkTrustedDirIfExists(dir: string, what: string): fs.Stats | null {
  try {
    return checkTrustedDir(dir, what);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return null;
    throw e;
  }
}

function modeString(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(3, '0');
}
