/** Base class of every error thrown by the store. */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Another live process (or this process) holds the database's LOCK file. */
export class StoreLockedError extends StoreError {
  constructor(
    readonly dir: string,
    readonly pid: number,
    readonly host: string,
    detail?: string,
  ) {
    super(
      `Library database at ${dir} is locked by pid ${pid} (host ${host})` +
        (detail ? `: ${detail}` : ''),
    );
  }
}

/**
 * A file of the database could not be read back as written. The file is
 * never modified or deleted by the store; `file` names it.
 */
export class StoreCorruptError extends StoreError {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly offset?: number,
    options?: { cause?: unknown },
  ) {
    super(
      `Library database file ${file} is corrupt` +
        (offset !== undefined ? ` at byte offset ${offset}` : '') +
        `: ${problem}. The file was left untouched; move it aside (or restore a backup) to open the library.`,
      options,
    );
  }
}

/** The database was written by a newer version of the code. */
export class StoreVersionError extends StoreError {
  constructor(
    readonly dir: string,
    readonly dbVersion: number,
    readonly knownVersion: number,
    what = 'schema',
  ) {
    super(
      `Library database at ${dir} has ${what} version ${dbVersion}, newer than the ${knownVersion} this version of Leaderless Sync knows; ` +
        `update the extension (the database was left untouched)`,
    );
  }
}

/** The store was closed. */
export class StoreClosedError extends StoreError {
  constructor(dir: string) {
    super(`Library database at ${dir} is closed`);
  }
}

/**
 * A journal write or fsync failed: memory and disk may differ, so the store
 * refuses further writes. Close and reopen it.
 */
export class StoreFailedError extends StoreError {
  constructor(dir: string, cause: unknown) {
    super(
      `Library database at ${dir} failed to write its journal (${
        cause instanceof Error ? cause.message : String(cause)
      }); it refuses further writes until it is reopened`,
      { cause },
    );
  }
}

/** Misuse of transaction()/read(): nesting, async callbacks, escaped handles... */
export class TransactionError extends StoreError {}
