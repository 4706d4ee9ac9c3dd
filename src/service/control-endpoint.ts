/**
 * Where a data directory's control channel listens.
 *
 * - Unix: `<dataDir>/control.sock`. A socket path is limited to about 104
 *   bytes (macOS) or 108 (Linux); a data directory too deep for that (VS
 *   Code's global storage under a long home path can be) gets a socket in
 *   a folder of this user's own: `$XDG_RUNTIME_DIR/leaderless-sync/` (the
 *   runtime directory is per user already), else
 *   `<temp dir>/leaderless-sync-<uid>/`; the socket is named by a hash of
 *   the data directory, so every process derives the same path. Either
 *   way the folder must be this user's alone (endpoint-trust.ts): the
 *   server creates it 0700, and a client checks it and the socket's owner
 *   before connecting, so another user who guesses the path can neither
 *   listen in our place nor answer our clients.
 * - Windows: a named pipe `\\.\pipe\leaderless-sync-<hash>` derived from
 *   the data directory's full path (case-insensitive there). See
 *   endpoint-trust.ts for what protects it.
 */
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';

export const CONTROL_SOCKET_NAME = 'control.sock';
/** Safe on every Unix (macOS's sun_path is 104 bytes including the terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 100;

export function controlEndpoint(
  dataDir: string,
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  uid: number = process.getuid?.() ?? 0,
): string {
  const abs = path.resolve(dataDir);
  if (platform === 'win32') return `\\\\.\\pipe\\leaderless-sync-${hash(abs.toLowerCase())}`;
  const inDir = path.join(abs, CONTROL_SOCKET_NAME);
  if (Buffer.byteLength(inDir) <= MAX_SOCKET_PATH_BYTES) return inDir;
  const folder = env.XDG_RUNTIME_DIR && path.isAbsolute(env.XDG_RUNTIME_DIR) ? path.join(env.XDG_RUNTIME_DIR, 'leaderless-sync') : path.join(os.tmpdir(), `leaderless-sync-${uid}`);
  return path.join(folder, `${hash(abs)}.sock`);
}

/** True if the endpoint is a file in the file system (Unix sockets), which may be left behind by a dead process. */
export function endpointIsFile(endpoint: string): boolean {
  return !endpoint.startsWith('\\\\.\\pipe\\');
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 24);
}
