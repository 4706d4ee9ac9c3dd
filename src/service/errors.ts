/**
 * Typed errors of the engine service and its control channel. Each has a
 * stable `code` (ERR_…): the control protocol sends it in every error
 * answer, and the CLI turns it into its exit status, so a script can rely
 * on it whether a command ran through a running service or on its own.
 */
import * as os from 'node:os';
import { StoreLockedError } from '../store';

/** An error of the service with a stable code, for errors that need no class of their own. */
export class ServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Another process runs the engine for this data directory. */
export class ServiceRunningError extends Error {
  readonly code = 'ERR_SERVICE_RUNNING';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
    readonly host: string,
  ) {
    super(`A Leaderless Sync service is already running for ${dataDir} (pid ${pid}${host !== os.hostname() ? ` on ${host}` : ''})`);
    this.name = 'ServiceRunningError';
  }
}

/** No service answers on the data directory's control socket. */
export class ServiceNotRunningError extends Error {
  readonly code = 'ERR_NOT_RUNNING';
  constructor(
    readonly endpoint: string,
    cause?: unknown,
  ) {
    super(`No Leaderless Sync service answers at ${endpoint}`, { cause });
    this.name = 'ServiceNotRunningError';
  }
}

/**
 * Something other than this user's own service could be answering on the
 * control endpoint (see endpoint-trust.ts): the client refuses to connect.
 */
export class UnsafeEndpointError extends Error {
  readonly code = 'ERR_UNSAFE_ENDPOINT';
  constructor(
    readonly endpoint: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`Refusing to connect to ${endpoint}: ${problem}. ${fix}`);
    this.name = 'UnsafeEndpointError';
  }
}

/** The data directory holds no library (yet). */
export class NoLibraryError extends Error {
  readonly code = 'ERR_NO_LIBRARY';
  constructor(readonly dataDir: string) {
    super(`No library in ${dataDir}: run "leaderless init" first`);
    this.name = 'NoLibraryError';
  }
}

/** Several libraries and none named. */
export class AmbiguousLibraryError extends Error {
  readonly code = 'ERR_LIBRARY_AMBIGUOUS';
  constructor(
    readonly dataDir: string,
    readonly ids: readonly string[],
  ) {
    super(`Several libraries in ${dataDir} (${ids.join(', ')}): choose one with --library ID`);
    this.name = 'AmbiguousLibraryError';
  }
}

/** A control request's params are missing or of the wrong type. */
export class InvalidParamsError extends Error {
  readonly code = 'ERR_INVALID_PARAMS';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidParamsError';
  }
}

/** The service is closing or closed. */
export class ServiceClosedError extends Error {
  readonly code = 'ERR_SERVICE_CLOSED';
  constructor() {
    super('The Leaderless Sync service is shutting down');
    this.name = 'ServiceClosedError';
  }
}

/** An error answered by the service over the control channel (or by the same method run in-process). */
export class ControlError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

const CODE = /^ERR_[A-Z0-9_]{1,60}$/;

/**
 * The stable code of any error: its own `code` when it is one of ours (or
 * another ERR_… code), ERR_LOCKED for a database held by another process,
 * ERR_FAILED for anything else.
 */
export function errorCode(e: unknown): string {
  if (e instanceof StoreLockedError) return 'ERR_LOCKED';
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CODE.test(code) ? code : 'ERR_FAILED';
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
