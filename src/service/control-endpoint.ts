/**
 * Where a data directory's control channel listens.
 *
 * - Unix: `<dataDir>/control.sock`. A socket path is limited to about 104
 *   bytes (macOS) or 108 (Linux); a data directory too deep for that (VS
 *   Code's global storage under a long home path can be) gets a socket in
 *   `$XDG_RUNTIME_DIR` (per user, mode 0700) or the temp directory instead,
 *   named by a hash of the data directory, so every process derives the
 *   same path.
 * - Windows: a named pipe `\\.\pipe\leaderless-sync-<hash>` derived from
 *   the data directory's full path (case-insensitive there).
 */
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';

export const CONTROL_SOCKET_NAME = 'control.sock';
/** Safe on every Unix (macOS's sun_path is 104 bytes including the terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 100;

export function controlEndpoint(dataDir: string, platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string {
  const abs = path.resolve(dataDir);
  if (platform === 'win32') return `\\\\.\\pipe\\leaderless-sync-${hash(abs.toLowerCase())}`;
  const inDir = path.join(abs, CONTROL_SOCKET_NAME);
  if (Buffer.byteLength(inDir) <= MAX_SOCKET_PATH_BYTES) return inDir;
  const base = env.XDG_RUNTIME_DIR && path.isAbsolute(env.XDG_RUNTIME_DIR) ? env.XDG_RUNTIME_DIR : os.tmpdir();
  return path.join(base, `leaderless-sync-${hash(abs)}.sock`);
}

/** True if the endpoint is a file in the file system (Unix sockets), which may be left behind by a dead process. */
export function endpointIsFile(endpoint: string): boolean {
  return !endpoint.startsWith('\\\\.\\pipe\\');
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 24);
}
