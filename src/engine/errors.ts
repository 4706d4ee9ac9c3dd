/** Typed errors of the engine's public API. */

export class NotFoundError extends Error {
  readonly code = 'ERR_NOT_FOUND';
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

export class InvalidChangeError extends Error {
  readonly code = 'ERR_INVALID_CHANGE';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidChangeError';
  }
}

export class LibraryNotFoundError extends Error {
  readonly code = 'ERR_LIBRARY_NOT_FOUND';
  constructor(readonly dir: string) {
    super(`No library at ${dir}`);
    this.name = 'LibraryNotFoundError';
  }
}

/** A member statement (pair, unpair, rename) from a device that is not a live member of the library. */
export class NotAMemberError extends Error {
  readonly code = 'ERR_NOT_MEMBER';
  constructor(message: string) {
    super(message);
    this.name = 'NotAMemberError';
  }
}
