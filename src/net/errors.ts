/** Typed errors of the network layer, so callers can tell "no networking here" from a bug. */

/**
 * Hyperswarm's native addons (udx-native, sodium-native) could not load:
 * no prebuilt binary for this platform (linux-arm, musl/Alpine) or a glibc
 * older than 2.33. The engine still runs; only peer networking is off.
 */
export class NetworkUnavailableError extends Error {
  readonly code = 'ERR_NETWORK_UNAVAILABLE';
  constructor(cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`Peer networking is unavailable on this platform (${process.platform}-${process.arch}): ${detail}`, { cause });
    this.name = 'NetworkUnavailableError';
  }
}

/** The device key file is unusable (corrupt, wrong shape, or readable by others); it names the file and is never overwritten. */
export class KeyFileError extends Error {
  readonly code = 'ERR_KEY_FILE';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`Device key file ${file}: ${message}`);
    this.name = 'KeyFileError';
  }
}

/** A typed invite code is malformed or has a typo (caught before any network use, so it costs no attempt). */
export class InviteCodeError extends Error {
  readonly code = 'ERR_INVITE_CODE';
  constructor(message: string) {
    super(message);
    this.name = 'InviteCodeError';
  }
}

export type PairingFailure =
  /** The inviting device refused the code (wrong, or the invite was used, expired or revoked meanwhile). */
  | 'refused'
  /** No inviting device answered for this code in time. */
  | 'timeout'
  /** The other side could not prove it knows the code: an impostor, or a protocol error. */
  | 'bad-proof'
  /** A malformed or unexpected pairing message. */
  | 'protocol'
  /** The invite expired, was revoked, or died after too many wrong attempts. */
  | 'expired'
  | 'revoked'
  | 'exhausted';

/** Pairing did not complete; `reason` says why in a form scripts can test. */
export class PairingError extends Error {
  readonly code = 'ERR_PAIRING';
  constructor(
    readonly reason: PairingFailure,
    message: string,
    /** Wrong attempts the invite still allows, when the inviting device said so. */
    readonly attemptsLeft: number | null = null,
  ) {
    super(message);
    this.name = 'PairingError';
  }
}
