/**
 * The CLI's exit codes, which scripts can rely on, and how an error maps to
 * one. The mapping goes by the error's stable code, so an error answered by
 * a running service and the same error raised in this process exit alike.
 *
 *   0  success
 *   1  runtime error (anything not below)
 *   2  usage: unknown command or option, missing or bad argument, several libraries and no
 *      --library, a tag or album name that several share (use its id)
 *   3  in use: a service already runs for the data directory, or a library is locked by another process
 *   4  not found: no library (run init), no such library, tag, album or folder, a path outside
 *      every indexed folder
 *   5  pairing failed: the code was refused, expired or not answered; the invite ended unused;
 *      pairing was asked for without the network
 *   6  unsafe: the data directory (or the control socket's folder, or the socket in it) belongs
 *      to another user or other users can write to it; nothing was read from it or written
 */
import { errorCode } from '../service/errors';

export const EXIT = { ok: 0, error: 1, usage: 2, inUse: 3, notFound: 4, pairing: 5, unsafe: 6 } as const;

/** A mistake in how the command was called. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const BY_CODE: Readonly<Record<string, number>> = {
  ERR_USAGE: EXIT.usage,
  ERR_INVALID_PARAMS: EXIT.usage,
  ERR_LIBRARY_AMBIGUOUS: EXIT.usage,
  ERR_ID_FORMAT: EXIT.usage,
  ERR_INVALID_CHANGE: EXIT.usage,
  ERR_AMBIGUOUS_NAME: EXIT.usage,
  ERR_SERVICE_RUNNING: EXIT.inUse,
  ERR_LOCKED: EXIT.inUse,
  ERR_NO_LIBRARY: EXIT.notFound,
  ERR_NOT_FOUND: EXIT.notFound,
  ERR_LIBRARY_NOT_FOUND: EXIT.notFound,
  ERR_NOT_IN_LOCATION: EXIT.notFound,
  ERR_INVITE_CODE: EXIT.usage,
  ERR_PAIRING: EXIT.pairing,
  ERR_NETWORK: EXIT.pairing,
  ERR_UNSAFE_DIR: EXIT.unsafe,
  ERR_UNSAFE_ENDPOINT: EXIT.unsafe,
};

export function exitCodeFor(e: unknown): number {
  return BY_CODE[errorCode(e)] ?? EXIT.error;
}
