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
