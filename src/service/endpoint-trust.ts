/**
 * Who may listen on a control endpoint, and who a client will talk to.
 * A control connection can do anything this user can do with the library
 * (pair devices, read every path, write tags), so only this user may serve
 * it and a client must never talk to anyone else.
 *
 * Unix sockets:
 *
 * - The server (`prepareEndpointFolder`) keeps the socket in a folder only
 *   this user can enter: created 0700, an existing one of ours tightened to
 *   0700, one that another user owns or can write to refused
 *   (store/private-dir.ts). The socket itself is 0600 (control-server.ts).
 * - The client (`checkEndpoint`) would ideally ask the kernel who is on the
 *   other end (SO_PEERCRED on Linux, getpeereid on macOS), but Node has no
 *   API for a Unix socket's peer credentials and a native addon for it
 *   would be one more thing that fails to load on some platform. It checks
 *   the file system instead, before connecting: the socket must be a socket
 *   owned by this user, in a folder owned by this user that neither group
 *   nor others can write to. Only a process running as this user (or root)
 *   can bind a socket there, and nobody else can swap it between the check
 *   and connect(). A missing socket or folder means no service; the client
 *   does not connect then either (someone else could create the folder in
 *   between, in a shared temp directory).
 *
 * Windows named pipes: libuv creates the pipe with the default security
 * descriptor, which lets only the creating user, SYSTEM and Administrators
 * open it for writing (other users can only read, so they cannot send a
 * request). Node can ask neither who created a pipe nor who is connected to
 * it, so nothing is checked there; a pipe name another local user creates
 * first makes the service fail to start ("already listening"), and a client
 * would talk to it. The data directory (in the user's profile) is protected
 * by its ACLs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errCode } from '../store/fsutil';
import { checkTrustedDir, ensurePrivateDir, UnsafeDirectoryError } from '../store/private-dir';
import { endpointIsFile } from './control-endpoint';
import { UnsafeEndpointError } from './errors';

const FOLDER = "the control socket's folder";

/** Server side: makes the endpoint's folder this user's alone (creating it); throws UnsafeDirectoryError. */
export function prepareEndpointFolder(endpoint: string, log?: (line: string) => void): void {
  if (!endpointIsFile(endpoint) || process.platform === 'win32') return;
  ensurePrivateDir(path.dirname(endpoint), { what: FOLDER, log });
}

/**
 * Client side: true if a socket only this user can have made is there,
 * false if there is none; throws UnsafeEndpointError for anything else.
 */
export function checkEndpoint(endpoint: string): boolean {
  if (!endpointIsFile(endpoint) || process.platform === 'win32') return true;
  try {
    checkTrustedDir(path.dirname(endpoint), FOLDER);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return false;
    if (e instanceof UnsafeDirectoryError) throw new UnsafeEndpointError(endpoint, e.problem, e.fix);
    throw e;
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(endpoint);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return false;
    throw e;
  }
  if (!st.isSocket()) throw new UnsafeEndpointError(endpoint, 'it is not a socket', 'Move it away');
  const uid = process.getuid!();
  if (st.uid !== uid) throw new UnsafeEndpointError(endpoint, `the socket belongs to another user (uid ${st.uid}, this is uid ${uid})`, 'Another user is listening where this data directory\'s service should; stop it or remove the socket');
  return true;
}
