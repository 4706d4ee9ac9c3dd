/**
 * Durable store: an in-memory sql.js database made durable by a checksummed
 * journal (one record per committed transaction, group-committed with
 * write + fdatasync) and periodic atomic snapshots. See
 * /work/shared/notes/sqljs.md for the measurements behind the design.
 *
 * Files in `dir`:
 *   LOCK                     single-writer lock (pid, host, token)
 *   snapshot.db              header + SQLite bytes as of some seq
 *   journal-NNNNNNNN.log     journal generations; records with seq > the snapshot's are replayed
 *   journal-*.log.torn-at-*  bytes of an interrupted last write, kept aside on recovery
 *
 * The folder is created 0700 and every file in it 0600: this user's alone
 * (the database holds the library's secret).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { RecordEncoder, checkParams, decodeFrame, frameSeq, type DecodedRecord, type SqlValue } from './codec';
import {
  StoreClosedError,
  StoreCorruptError,
  StoreError,
  StoreFailedError,
  StoreVersionError,
  TransactionError,
} from './errors';
import { asError, fsyncDir, PRIVATE_DIR_MODE, writeFileDurableSync } from './fsutil';
import { JournalWriter, isAllZeroFile, listJournalFiles, scanJournal, type JournalFile, type JournalFileInfo, type JournalIo } from './journal';
import { DirLock } from './lock';
import { LiveFile, allocateRoom, asBuffer, fileView, roomCapacity, type CanaryTarget } from './livefile';
import { collectGarbage } from './memory';
import { SNAPSHOT_FILE, readSnapshot, removeSnapshotTemps, writeSnapshotTemp } from './snapshot';
import { loadSqlJs, type SqlDatabase, type SqlJs, type SqlStatement } from './sqljs';

export type { SqlValue } from './codec';
export type Row = Record<string, SqlValue>;

export interface Reader {
  /** First row as an object, or undefined. */
  get(sql: string, params?: SqlValue[]): Row | undefined;
  all(sql: string, params?: SqlValue[]): Row[];
  /** Fast path: rows as arrays. */
  rows(sql: string, params?: SqlValue[]): SqlValue[][];
  /** First column of the first row, or undefined if there is no row. */
  value(sql: string, params?: SqlValue[]): SqlValue | undefined;
}

export interface Writer extends Reader {
  /** Executes the statement and records it in the journal; returns sqlite changes(). */
  run(sql: string, params?: SqlValue[]): number;
}

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export type StoreEvent =
  | {
      type: 'open';
      dir: string;
      ms: number;
      seq: number;
      snapshotSeq: number;
      snapshotBytes: number;
      replayedRecords: number;
      journalFiles: number;
    }
  | {
      type: 'snapshot';
      ms: number;
      /** time to get the bytes: the export, or checking the live file (then a fraction of a ms) */
      exportMs: number;
      bytes: number;
      seq: number;
      /**
       * true: written straight from the database file, no copy (see
       * livefile.ts); false: from an export, after which the database moved
       * to a larger buffer (`moveMs`) unless closing
       */
      live: boolean;
      moveMs: number;
    }
  | { type: 'snapshot-failed'; error: Error }
  | { type: 'torn-tail'; file: string; offset: number; bytes: number; keptAt: string; reason: string }
  | { type: 'stale-lock'; pid?: number; host?: string; reason: string }
  | { type: 'migration'; version: number; name: string; ms: number }
  | { type: 'journal-failed'; error: Error };

export interface StoreOptions {
  /** Directory for this database; created if missing. */
  dir: string;
  /** Applied in version order, each in one transaction, recorded in _migrations. */
  migrations: Migration[];
  /** Journal size that triggers a background snapshot (default 64 MiB). */
  snapshotJournalBytes?: number;
  /** sql-wasm.wasm bytes; else looked up next to the bundle, then in the sql.js package. */
  wasmBinary?: Uint8Array;
  onEvent?: (e: StoreEvent) => void;
  /** The journal's disk calls (default: the file system's); the simulator passes a disk that can lose unsynced writes. */
  journalIo?: JournalIo;
}

export interface StoreStats {
  seq: number;
  /** bytes in the current journal generation (what triggers auto snapshots) */
  journalBytes: number;
  /** size of the last snapshot file written or loaded */
  snapshotBytes: number;
  /** snapshots taken since open */
  snapshots: number;
  /** duration of the last snapshot (export + write + rename), ms */
  lastSnapshotMs: number;
  /** seq contained in the snapshot file */
  snapshotSeq: number;
  /** journal records appended since open */
  journalRecords: number;
  /** journal write+fdatasync calls since open (fewer than records thanks to group commit) */
  journalSyncs: number;
}

const DEFAULT_SNAPSHOT_JOURNAL_BYTES = 64 * 1024 * 1024;
/**
 * SQLite page cache (KiB). The database file itself is in memory (sql.js
 * MEMFS), so a miss is a memcpy: a bigger cache buys little (measured: same
 * commit rate, +5% point reads at 16 MiB) and costs WebAssembly memory,
 * which never shrinks. With locking_mode=EXCLUSIVE the cache survives
 * between transactions.
 */
const CACHE_KIB = 4 * 1024;
const PRAGMAS = `PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-${CACHE_KIB}`;
/** Moving a database smaller than this needs no garbage collection first. */
const COLLECT_BEFORE_MOVE_BYTES = 8 * 1024 * 1024;
const MAX_CACHED_STATEMENTS = 256;
const STORE_FORMAT = 1;
const CONTROL_RE = /^\s*(?:BEGIN|COMMIT|END|ROLLBACK(?!\s+(?:TRANSACTION\s+)?TO\b))\b/i;
const EXPLAIN_RE = /^\s*EXPLAIN\b/i;

interface CachedStmt {
  sql: string;
  stmt: SqlStatement;
  /** lazily computed: may the statement modify the database? */
  writes: boolean | undefined;
  /** BEGIN/COMMIT/ROLLBACK/END: not allowed through the API */
  control: boolean;
}

function abbrev(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}

const firstObject = (st: SqlStatement): Row | undefined => (st.step() ? toObject(st.getColumnNames(), st.get()) : undefined);
const firstValue = (st: SqlStatement): SqlValue | undefined => (st.step() ? st.get()[0] : undefined);
const allArrays = (st: SqlStatement): SqlValue[][] => {
  const out: SqlValue[][] = [];
  while (st.step()) out.push(st.get());
  return out;
};
const allObjects = (st: SqlStatement): Row[] => {
  const out: Row[] = [];
  if (st.step()) {
    const cols = st.getColumnNames();
    do out.push(toObject(cols, st.get()));
    while (st.step());
  }
  return out;
};

function toObject(cols: string[], vals: SqlValue[]): Row {
  const o: Row = {};
  for (let i = 0; i < cols.length; i++) o[cols[i]] = vals[i];
  return o;
}

/**
 * Loads a database image: from `room` (the image followed by zeros, see
 * livefile.ts) when given, so that its file grows in place and is
 * snapshotted without a copy. Falls back to the image alone if SQLite does
 * not take the database size from the header (it would count the zeros as
 * pages). Throws what SQLite throws for a bad image.
 */
function loadImage(SQL: SqlJs, image: Uint8Array, room: ArrayBuffer | null): { db: SqlDatabase; room: ArrayBuffer | null } {
  if (room) {
    let db: SqlDatabase | undefined;
    try {
      db = new SQL.Database(fileView(room));
      db.exec(PRAGMAS);
      const r = db.exec('PRAGMA page_count; PRAGMA page_size');
      if (Number(r[0].values[0][0]) * Number(r[1].values[0][0]) === image.length) return { db, room };
    } catch {
      /* a bad image: reported by the plain load below */
    }
    db?.close();
  }
  const db = new SQL.Database(asBuffer(image));
  try {
    db.exec(PRAGMAS);
  } catch (e) {
    db.close();
    throw e;
  }
  return { db, room: null };
}

/** The sql.js database with a bounded statement cache. */
class Engine implements CanaryTarget {
  private readonly cache = new Map<string, CachedStmt>();
  private readonly internal: SqlStatement[] = [];
  private sBegin!: SqlStatement;
  private sCommit!: SqlStatement;
  private sRollback!: SqlStatement;
  private sSetSeq!: SqlStatement;
  private sCanary!: SqlStatement;
  private sCanaryPage!: SqlStatement;
  private sPageCount!: SqlStatement;
  private sPageSize!: SqlStatement;
  private live: LiveFile | null;
  closed = false;

  constructor(
    private readonly SQL: SqlJs,
    public db: SqlDatabase,
    room: ArrayBuffer | null,
  ) {
    this.live = room ? new LiveFile(room) : null;
    this.prepareInternal();
  }

  private prepareInternal(): void {
    this.sBegin = this.internalStmt('BEGIN');
    this.sCommit = this.internalStmt('COMMIT');
    this.sRollback = this.internalStmt('ROLLBACK');
    this.sSetSeq = this.internalStmt("UPDATE _store SET value = ? WHERE key = 'seq'");
    this.sCanary = this.internalStmt("INSERT OR REPLACE INTO _store(key, value) VALUES ('canary', ?)");
    this.sCanaryPage = this.internalStmt("SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = '_store'");
    this.sPageCount = this.internalStmt('PRAGMA page_count');
    this.sPageSize = this.internalStmt('PRAGMA page_size');
  }

  private internalStmt(sql: string): SqlStatement {
    const s = this.db.prepare(sql);
    this.internal.push(s);
    return s;
  }

  private static value(s: SqlStatement): number {
    try {
      return s.step() ? Number(s.get()[0]) : 0;
    } catch (e) {
      throw asError(e);
    } finally {
      s.reset();
    }
  }

  private static step1(s: SqlStatement, params?: SqlValue[]): void {
    try {
      if (params) s.bind(params);
      s.step();
    } catch (e) {
      throw asError(e);
    } finally {
      s.reset();
    }
  }

  begin(): void {
    Engine.step1(this.sBegin);
  }
  commit(): void {
    Engine.step1(this.sCommit);
    // Keep the file's buffer ahead of the database (livefile.ts), so that
    // MEMFS never has to copy the file.
    this.live?.grow();
  }
  rollback(): void {
    Engine.step1(this.sRollback);
  }
  setSeq(seq: number): void {
    Engine.step1(this.sSetSeq, [seq]);
  }

  // CanaryTarget (livefile.ts): the canary is store bookkeeping, outside the
  // journal like the rest of _store's maintenance; it does not change seq.
  writeCanary(nonce: Uint8Array): void {
    Engine.step1(this.sCanary, [nonce]);
  }
  canaryPage(): number {
    return Engine.value(this.sCanaryPage);
  }
  pageCount(): number {
    return Engine.value(this.sPageCount);
  }
  pageSize(): number {
    return Engine.value(this.sPageSize);
  }

  /**
   * The database's bytes straight from its file, if that is still the
   * buffer it was loaded from (checked, see livefile.ts); else null. Valid
   * until the next statement: use them synchronously.
   */
  liveBytes(): Uint8Array | null {
    if (!this.live) return null;
    const bytes = this.live.bytes(this);
    if (!bytes) this.live = null;
    return bytes;
  }

  /**
   * Whether moving a database into a buffer of its own gives a live file
   * (undefined until the first move tells). If this sql.js ever copied the
   * array it loads from, moves would only cost time: stop making them.
   */
  static roomWorks: boolean | undefined;

  /** Whether moveTo() is worth it. */
  get canMove(): boolean {
    return Engine.roomWorks !== false;
  }

  /**
   * Moves the database into a new buffer with room to grow: closes it and
   * loads `image`, an export of it taken in the same synchronous run (no
   * transaction in between, none open). Statements are prepared again on
   * use. The old file is freed before the new room is filled, so memory
   * peaks at the image plus one copy, as during the export itself.
   */
  moveTo(image: Uint8Array): void {
    this.freeStatements();
    this.db.close();
    this.live = null;
    if (image.length >= COLLECT_BEFORE_MOVE_BYTES) collectGarbage(); // the old file's array
    const capacity = roomCapacity(image.length);
    let loaded: { db: SqlDatabase; room: ArrayBuffer | null };
    try {
      const room = capacity ? allocateRoom(capacity) : null;
      if (room) new Uint8Array(room, 0, image.length).set(image);
      loaded = loadImage(this.SQL, image, room);
    } catch (e) {
      this.closed = true;
      throw e;
    }
    this.db = loaded.db;
    this.live = loaded.room ? new LiveFile(loaded.room) : null;
    this.prepareInternal();
    if (this.live && Engine.roomWorks === undefined) Engine.roomWorks = this.liveBytes() !== null;
  }

  private freeStatements(): void {
    for (const e of this.cache.values()) e.stmt.free();
    this.cache.clear();
    for (const s of this.internal) s.free();
    this.internal.length = 0;
  }

  prepare(sql: string): CachedStmt {
    // A hit costs one Map lookup: this runs for every statement of every
    // transaction. Eviction is first-in-first-out; the engine's statements
    // are far fewer than the bound, so in practice nothing is evicted.
    let e = this.cache.get(sql);
    if (e) return e;
    if (typeof sql !== 'string') throw new TypeError('SQL must be a string');
    if (!(sql as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      throw new TypeError(`SQL text contains a lone UTF-16 surrogate: ${abbrev(sql)}`);
    }
    let stmt: SqlStatement;
    try {
      stmt = this.db.prepare(sql);
    } catch (err) {
      const m = asError(err);
      throw m.message === 'Nothing to prepare' ? new TypeError(`no SQL statement in ${JSON.stringify(abbrev(sql))}`) : m;
    }
    if (sql.includes(';') && this.countStatements(sql) > 1) {
      stmt.free();
      throw new TypeError(`one SQL statement per call expected, got several: ${abbrev(sql)}`);
    }
    e = { sql, stmt, writes: undefined, control: CONTROL_RE.test(sql) };
    this.cache.set(sql, e);
    if (this.cache.size > MAX_CACHED_STATEMENTS) {
      const oldest = this.cache.keys().next().value as string;
      const old = this.cache.get(oldest)!;
      this.cache.delete(oldest);
      old.stmt.free();
    }
    return e;
  }

  private countStatements(sql: string): number {
    let n = 0;
    try {
      for (const _s of this.db.iterateStatements(sql)) if (++n > 1) break;
    } catch {
      n = 2; // a later statement does not even compile: still several statements
    }
    return n;
  }

  /** Whether the statement may modify the database (EXPLAIN: a write Transaction opcode). */
  writes(e: CachedStmt): boolean {
    if (e.writes === undefined) {
      if (EXPLAIN_RE.test(e.sql)) {
        e.writes = false;
      } else {
        try {
          const res = this.db.exec('EXPLAIN ' + e.sql);
          const rows = res.length ? res[0].values : [];
          e.writes = rows.some((r) => r[1] === 'Transaction' && r[3] !== 0);
        } catch {
          e.writes = true; // cannot tell: treat as a write (journaling a read is harmless)
        }
      }
    }
    return e.writes;
  }

  /** Applies a journal record (replay). */
  apply(rec: DecodedRecord): void {
    this.begin();
    try {
      for (const s of rec.statements) Engine.step1(this.prepare(s.sql).stmt, s.params.length ? s.params : undefined);
      this.setSeq(rec.seq);
      this.commit();
    } catch (e) {
      try {
        this.rollback();
      } catch {
        /* ignore */
      }
      throw e;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.live = null;
    this.freeStatements();
    this.db.close();
  }
}

const MODE_READ = 0; // read() outside a transaction
const MODE_WRITE = 1; // transaction()
const MODE_NESTED_READ = 2; // read() called inside a transaction callback

interface TxState {
  /** set when the transaction must not commit (nested transaction() call...) */
  poisoned: Error | null;
}

/** Reader/Writer handle, valid only during its callback. */
class Handle implements Writer {
  active = true;
  constructor(
    private readonly eng: Engine,
    private readonly mode: number,
    private readonly enc: RecordEncoder | null,
    private readonly tx: TxState | null,
    private readonly onWriteError: ((tx: TxState, err: Error) => void) | null,
  ) {}

  private enter(sql: string, isRun: boolean): CachedStmt {
    if (!this.active) {
      throw new TransactionError(
        'this Reader/Writer is no longer valid: it can only be used synchronously inside its read()/transaction() callback',
      );
    }
    if (this.tx?.poisoned) throw new TransactionError(`transaction can no longer be used: ${this.tx.poisoned.message}`);
    const e = this.eng.prepare(sql);
    if (e.control) {
      throw new TransactionError(`${abbrev(sql)}: transactions are managed by Store.transaction(); do not BEGIN/COMMIT/ROLLBACK yourself`);
    }
    if (!isRun && this.mode !== MODE_WRITE && this.eng.writes(e)) {
      throw new TransactionError(`read() cannot modify the database (${abbrev(sql)}); use transaction()`);
    }
    return e;
  }

  /** After a statement succeeded: journal it if it may have written. */
  private record(e: CachedStmt, params: SqlValue[] | undefined, isRun: boolean): void {
    if (this.mode === MODE_WRITE && (isRun || this.eng.writes(e))) this.enc!.add(e.sql, params);
  }

  private fail(err: unknown): Error {
    const e = asError(err);
    if (this.mode === MODE_WRITE && this.onWriteError) this.onWriteError(this.tx!, e);
    return e;
  }

  run(sql: string, params?: SqlValue[]): number {
    return this.exec(sql, params, true, this.stepChanges);
  }

  get(sql: string, params?: SqlValue[]): Row | undefined {
    return this.exec(sql, params, false, firstObject);
  }

  all(sql: string, params?: SqlValue[]): Row[] {
    return this.exec(sql, params, false, allObjects);
  }

  rows(sql: string, params?: SqlValue[]): SqlValue[][] {
    return this.exec(sql, params, false, allArrays);
  }

  value(sql: string, params?: SqlValue[]): SqlValue | undefined {
    return this.exec(sql, params, false, firstValue);
  }

  private readonly stepChanges = (st: SqlStatement): number => {
    st.step();
    return this.eng.db.getRowsModified();
  };

  /** Binds, runs `read` on the statement, resets it, and journals what the statement wrote. */
  private exec<T>(sql: string, params: SqlValue[] | undefined, write: boolean, read: (st: SqlStatement) => T): T {
    const e = this.enter(sql, write);
    const p = params && params.length ? checkParams(params) : undefined;
    const st = e.stmt;
    let out: T;
    try {
      if (p) st.bind(p);
      out = read(st);
    } catch (err) {
      throw this.fail(err);
    } finally {
      st.reset();
    }
    this.record(e, p, write);
    return out;
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function'
  );
}

function validateMigrations(migrations: Migration[]): Migration[] {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (let i = 0; i < sorted.length; i++) {
    const m = sorted[i];
    if (!Number.isSafeInteger(m.version) || m.version <= 0) throw new TypeError(`migration "${m.name}": version must be a positive integer`);
    if (i > 0 && sorted[i - 1].version === m.version) throw new TypeError(`two migrations have version ${m.version}`);
    if (!Array.isArray(m.statements)) throw new TypeError(`migration ${m.version}: statements must be an array`);
  }
  return sorted;
}

interface TornTail {
  file: string;
  offset: number;
  /** just after the last non-zero byte */
  dataEnd: number;
  reason: string;
}

export class Store {
  private _seq: number;
  private snapshotSeq: number;
  private snapshotBytes: number;
  private snapshots = 0;
  private lastSnapshotMs = 0;
  private tx: TxState | null = null;
  private failure: Error | null = null;
  private closing = false;
  private closePromise: Promise<void> | null = null;
  private snapChain: Promise<void> = Promise.resolve();
  private autoScheduled = false;
  private snapshotRunning = false;
  private readonly encoder = new RecordEncoder();
  private readonly threshold: number;
  private readonly failureListeners: ((e: Error) => void)[] = [];

  private constructor(
    readonly dir: string,
    private readonly eng: Engine,
    private readonly journal: JournalWriter,
    private readonly lock: DirLock,
    private readonly emit: (e: StoreEvent) => void,
    seq: number,
    snapshotSeq: number,
    snapshotBytes: number,
    threshold: number,
  ) {
    this._seq = seq;
    this.snapshotSeq = snapshotSeq;
    this.snapshotBytes = snapshotBytes;
    this.threshold = threshold;
  }

  /** Last committed transaction sequence number. */
  get seq(): number {
    return this._seq;
  }

  static async open(opts: StoreOptions): Promise<Store> {
    const t0 = performance.now();
    const userEmit = opts.onEvent;
    const emit = (e: StoreEvent): void => {
      if (!userEmit) return;
      try {
        userEmit(e);
      } catch {
        /* a logging callback must not break the store */
      }
    };
    const migrations = validateMigrations(opts.migrations ?? []);
    const threshold = opts.snapshotJournalBytes ?? DEFAULT_SNAPSHOT_JOURNAL_BYTES;
    if (!(threshold > 0)) throw new TypeError('snapshotJournalBytes must be positive');

    await fs.promises.mkdir(opts.dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const dir = fs.realpathSync(path.resolve(opts.dir));
    const lock = await DirLock.acquire(dir, (e) => emit({ type: 'stale-lock', ...e }));
    let eng: Engine | undefined;
    let journal: JournalWriter | undefined;
    let store: Store | undefined;
    try {
      const SQL = await loadSqlJs(opts.wasmBinary);
      removeSnapshotTemps(dir);

      // 1. snapshot, loaded in place from the buffer it was read into (livefile.ts)
      const snap = readSnapshot(dir);
      const snapPath = path.join(dir, SNAPSHOT_FILE);
      let db: SqlDatabase;
      let room: ArrayBuffer | null = null;
      if (snap) {
        try {
          ({ db, room } = loadImage(SQL, snap.data, snap.room));
        } catch (e) {
          throw new StoreCorruptError(snapPath, `SQLite refuses the snapshot (${asError(e).message})`, undefined, { cause: e });
        }
      } else {
        db = new SQL.Database();
      }
      let dbSeq: number;
      try {
        if (!snap) db.exec(PRAGMAS);
        db.exec(
          `CREATE TABLE IF NOT EXISTS _store(key TEXT PRIMARY KEY, value);
           INSERT OR IGNORE INTO _store(key, value) VALUES ('seq', 0), ('format', ${STORE_FORMAT});
           CREATE TABLE IF NOT EXISTS _migrations(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);`,
        );
        const r = db.exec(`SELECT (SELECT value FROM _store WHERE key = 'seq'), (SELECT value FROM _store WHERE key = 'format')`);
        dbSeq = Number(r[0].values[0][0]);
        const format = Number(r[0].values[0][1]);
        if (format > STORE_FORMAT) {
          db.close();
          throw new StoreVersionError(dir, format, STORE_FORMAT, 'store format');
        }
      } catch (e) {
        if (e instanceof StoreError) throw e;
        try {
          db.close();
        } catch {
          /* ignore */
        }
        if (!snap) throw asError(e);
        throw new StoreCorruptError(snapPath, `SQLite refuses the snapshot (${asError(e).message})`, undefined, { cause: e });
      }
      if (snap && snap.seq !== dbSeq) {
        db.close();
        throw new StoreCorruptError(snapPath, `snapshot header says seq ${snap.seq} but its database says ${dbSeq}`);
      }
      const snapshotSeq = dbSeq;
      eng = new Engine(SQL, db, room);
      // A new database starts in a buffer with room too (it is a few pages: a cheap move).
      if (!snap && eng.canMove) eng.moveTo(db.export());

      // 2. journal replay (nothing on disk is modified until it all succeeded)
      const files = listJournalFiles(dir);
      const { seq, replayed, ends, torn } = Store.replay(eng, files, snapshotSeq);

      // 3. torn tail: keep the bytes aside, then truncate
      if (torn) Store.recoverTornTail(torn, emit);

      // 4. journal writer on the newest generation
      const opened: JournalFile[] = [];
      try {
        files.forEach((f, i) => opened.push(JournalWriter.openGeneration(dir, f.gen, ends[i])));
        if (!opened.length) opened.push(JournalWriter.openGeneration(dir, 1, 0));
      } catch (e) {
        for (const f of opened) fs.closeSync(f.fd);
        throw e;
      }
      let storeRef: Store | undefined;
      journal = new JournalWriter(
        dir,
        opened,
        (cause) => new StoreFailedError(dir, cause),
        (error) => {
          if (storeRef) storeRef.setFailure(error);
          emit({ type: 'journal-failed', error });
        },
      );

      if (opts.journalIo) journal.io = opts.journalIo;
      store = new Store(dir, eng, journal, lock, emit, seq, snapshotSeq, snap ? snap.fileBytes : 0, threshold);
      storeRef = store;

      // 5. migrations
      await store.migrate(migrations);

      emit({
        type: 'open',
        dir,
        ms: performance.now() - t0,
        seq: store._seq,
        snapshotSeq,
        snapshotBytes: snap ? snap.fileBytes : 0,
        replayedRecords: replayed,
        journalFiles: files.length,
      });
      store.maybeAutoSnapshot();
      return store;
    } catch (e) {
      if (store) {
        // leave the files as they are (no final snapshot)
        await store.closeWithoutSnapshot().catch(() => undefined);
      } else {
        journal?.closeNow();
        eng?.close();
        lock.release();
      }
      throw e;
    }
  }

  private static replay(
    eng: Engine,
    files: JournalFileInfo[],
    snapshotSeq: number,
  ): { seq: number; replayed: number; ends: number[]; torn?: TornTail } {
    let seq = snapshotSeq;
    let replayed = 0;
    let torn: TornTail | undefined;
    const ends: number[] = files.map(() => 0);
    for (let i = 0; i < files.length; i++) {
      const f = files[i];
      if (f.size === 0) continue;
      const buf = fs.readFileSync(f.path);
      const scan = scanJournal(buf, f.path);
      ends[i] = scan.end;
      if (scan.torn) {
        // An interrupted write can only be the last thing ever written.
        const newer = files.slice(i + 1).find((g) => g.size > 0 && !isAllZeroFile(g.path));
        if (newer) {
          throw new StoreCorruptError(
            f.path,
            `${scan.torn.reason}, in a journal generation followed by a newer one (${path.basename(newer.path)})`,
            scan.torn.offset,
          );
        }
        torn = { file: f.path, offset: scan.torn.offset, dataEnd: scan.torn.dataEnd, reason: scan.torn.reason };
      }
      for (const fr of scan.frames) {
        const rseq = frameSeq(buf, fr.offset);
        if (rseq <= snapshotSeq && seq === snapshotSeq) continue; // already in the snapshot
        if (rseq !== seq + 1) {
          throw new StoreCorruptError(
            f.path,
            `journal record has seq ${rseq} where ${seq + 1} was expected` +
              (seq === snapshotSeq ? ` (the snapshot ends at seq ${snapshotSeq}; records are missing)` : ''),
            fr.offset,
          );
        }
        let rec: DecodedRecord;
        try {
          rec = decodeFrame(buf, fr.offset);
        } catch (e) {
          throw new StoreCorruptError(f.path, `malformed journal record seq ${rseq} (${asError(e).message})`, fr.offset);
        }
        try {
          eng.apply(rec);
        } catch (e) {
          throw new StoreCorruptError(
            f.path,
            `replaying journal record seq ${rseq} failed (${asError(e).message}); the journal does not match the snapshot`,
            fr.offset,
            { cause: e },
          );
        }
        seq = rseq;
        replayed++;
      }
    }
    return { seq, replayed, ends, torn };
  }

  /** Keeps the bytes of an interrupted write aside in a file of their own, then truncates them away. */
  private static recoverTornTail(t: TornTail, emit: (e: StoreEvent) => void): void {
    const keptAt = `${t.file}.torn-at-${t.offset}-${Date.now()}`;
    const fd = fs.openSync(t.file, 'r+');
    const len = t.dataEnd - t.offset;
    try {
      const bytes = Buffer.alloc(len);
      let got = 0;
      while (got < len) {
        const n = fs.readSync(fd, bytes, got, len - got, t.offset + got);
        if (n <= 0) break;
        got += n;
      }
      writeFileDurableSync(keptAt, bytes.subarray(0, got));
      fs.ftruncateSync(fd, t.offset);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    emit({ type: 'torn-tail', file: t.file, offset: t.offset, bytes: len, keptAt, reason: t.reason });
  }

  private async migrate(migrations: Migration[]): Promise<void> {
    const known = migrations.length ? migrations[migrations.length - 1].version : 0;
    const applied = new Set<number>();
    let maxApplied = 0;
    for (const [v] of this.read((r) => r.rows('SELECT version FROM _migrations'))) {
      applied.add(Number(v));
      maxApplied = Math.max(maxApplied, Number(v));
    }
    if (maxApplied > known) throw new StoreVersionError(this.dir, maxApplied, known);
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      const t0 = performance.now();
      try {
        await this.transaction((w) => {
          for (const s of m.statements) w.run(s);
          w.run('INSERT INTO _migrations(version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, Date.now()]);
        });
      } catch (e) {
        const err = asError(e);
        throw new StoreError(`Library database at ${this.dir}: migration ${m.version} "${m.name}" failed: ${err.message}`, {
          cause: e,
        });
      }
      this.emit({ type: 'migration', version: m.version, name: m.name, ms: performance.now() - t0 });
    }
  }

  /** Runs fn synchronously with a read-only handle. */
  read<T>(fn: (r: Reader) => T): T {
    if (this.closing) throw new StoreClosedError(this.dir);
    const h = new Handle(this.eng, this.tx ? MODE_NESTED_READ : MODE_READ, null, null, null);
    try {
      const result = fn(h);
      if (isThenable(result)) {
        (result as PromiseLike<unknown>).then(undefined, () => undefined);
        throw new TransactionError('read() callback returned a promise; it must be synchronous');
      }
      return result;
    } finally {
      h.active = false;
    }
  }

  /**
   * Runs fn synchronously inside BEGIN/COMMIT. The promise resolves once the
   * transaction's journal record is durable; rejects with fn's error (after
   * ROLLBACK, nothing journaled) if fn throws.
   */
  transaction<T>(fn: (w: Writer) => T): Promise<T> {
    if (this.tx) {
      const err = new TransactionError('transaction() called inside a transaction callback; transactions cannot be nested');
      this.tx.poisoned ??= err;
      throw err;
    }
    if (this.closing) return Promise.reject(new StoreClosedError(this.dir));
    if (this.failure) return Promise.reject(this.failure);
    const eng = this.eng;
    const enc = this.encoder;
    try {
      eng.begin();
    } catch (e) {
      return Promise.reject(asError(e));
    }
    enc.begin();
    const tx: TxState = { poisoned: null };
    this.tx = tx;
    const h = new Handle(eng, MODE_WRITE, enc, tx, (t, err) => this.onStatementError(t, err));
    let result: T;
    try {
      result = fn(h);
      if (isThenable(result)) {
        (result as PromiseLike<unknown>).then(undefined, () => undefined);
        throw new TransactionError(
          'transaction() callback returned a promise; it must be synchronous (do async work before or after the transaction)',
        );
      }
      if (tx.poisoned) throw tx.poisoned;
    } catch (e) {
      h.active = false;
      this.tx = null;
      this.rollbackAfterError();
      return Promise.reject(e);
    }
    h.active = false;

    if (enc.statements === 0) {
      // nothing to journal; resolve once everything committed before is durable
      this.tx = null;
      try {
        eng.commit();
      } catch (e) {
        this.rollbackAfterError();
        return Promise.reject(asError(e));
      }
      return this.journal.whenDurable().then(() => result);
    }

    const seq = this._seq + 1;
    let frame: Buffer;
    try {
      eng.setSeq(seq);
      frame = enc.finish(seq);
      eng.commit(); // e.g. deferred foreign keys can refuse here
    } catch (e) {
      this.tx = null;
      this.rollbackAfterError();
      return Promise.reject(asError(e));
    }
    this.tx = null;
    this._seq = seq;
    const p = this.journal.append(frame);
    this.maybeAutoSnapshot();
    return p.then(() => result);
  }

  /**
   * A statement failed inside a transaction. Some errors make SQLite roll the
   * whole transaction back; statements after that would autocommit without
   * being journaled. Detect it (BEGIN succeeds only outside a transaction)
   * and refuse any further use of this transaction.
   */
  private onStatementError(tx: TxState, err: Error): void {
    try {
      this.eng.begin();
    } catch {
      return; // still inside our transaction: a plain statement error
    }
    tx.poisoned ??= new TransactionError(`SQLite rolled back the whole transaction after: ${err.message}`, { cause: err });
  }

  private setFailure(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const fn of this.failureListeners.splice(0)) {
      try {
        fn(e);
      } catch {
        /* a listener must not break the store */
      }
    }
  }

  private rollbackAfterError(): void {
    try {
      this.eng.rollback();
    } catch (e) {
      // No transaction active: only possible if SQLite ended it behind our back,
      // and then memory may no longer match the journal.
      const err = new StoreFailedError(this.dir, new Error(`transaction ended unexpectedly (${asError(e).message})`));
      this.setFailure(err);
      this.emit({ type: 'journal-failed', error: err });
    }
  }

  private maybeAutoSnapshot(): void {
    if (this.autoScheduled || this.snapshotRunning || this.closing || this.failure) return;
    if (this.journal.currentBytes < this.threshold) return;
    this.autoScheduled = true;
    setImmediate(() => {
      this.autoScheduled = false;
      if (this.closing || this.failure || this.snapshotRunning) return;
      this.queueSnapshot().catch((e) => this.emit({ type: 'snapshot-failed', error: asError(e) }));
    });
  }

  /** Resolves once every transaction committed so far is durable; rejects once the journal has failed. */
  whenDurable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return this.journal.whenDurable();
  }

  /** Calls `fn` once if the store fails (its journal cannot be written; see StoreFailedError): at once if it already has. */
  onFailure(fn: (e: Error) => void): void {
    if (this.failure) fn(this.failure);
    else this.failureListeners.push(fn);
  }

  /** Takes a snapshot now (waits for one in progress first). */
  snapshot(): Promise<void> {
    if (this.closing) return Promise.reject(new StoreClosedError(this.dir));
    return this.queueSnapshot();
  }

  private queueSnapshot(): Promise<void> {
    const p = this.snapChain.then(() => this.doSnapshot());
    this.snapChain = p.catch(() => undefined);
    return p;
  }

  private async doSnapshot(): Promise<void> {
    if (this.eng.closed) throw new StoreClosedError(this.dir);
    if (this.failure) throw this.failure;
    const journal = this.journal;
    const seq = this._seq;
    if (seq === this.snapshotSeq) {
      // nothing new; just drop generations the snapshot already covers
      if (journal.files.length > 1) await journal.retireBefore(journal.current.gen);
      return;
    }
    this.snapshotRunning = true;
    try {
      const t0 = performance.now();
      // New records go to a new generation while the snapshot is written.
      const gen = journal.rotate().gen;
      let exportMs = 0;
      let moveMs = 0;
      let live = false;
      const eng = this.eng;
      const written = await writeSnapshotTemp(
        this.dir,
        seq,
        () => {
          // Straight from the database file when it is still ours (no copy), else an export.
          const bytes = eng.liveBytes();
          if (bytes) {
            live = true;
            exportMs = performance.now() - t0;
            return bytes;
          }
          collectGarbage();
          const data = eng.db.export();
          exportMs = performance.now() - t0;
          return data;
        },
        {
          // After an export, move the database into a buffer with room to
          // grow, so that the next snapshot needs no copy. Same synchronous
          // run: no transaction can come in between the export and the move.
          after: (data) => {
            if (live || this.closing || !eng.canMove) return;
            const m0 = performance.now();
            try {
              eng.moveTo(data);
            } catch (e) {
              const err = new StoreFailedError(this.dir, new Error(`could not reload the database after a snapshot (${asError(e).message})`));
              this.setFailure(err);
              this.emit({ type: 'journal-failed', error: err });
              throw err;
            }
            moveMs = performance.now() - m0;
          },
          copied: () => !live,
        },
      );
      if (this.failure) {
        await fs.promises.unlink(written.tmp).catch(() => undefined);
        throw this.failure;
      }
      await fs.promises.rename(written.tmp, path.join(this.dir, SNAPSHOT_FILE));
      await fsyncDir(this.dir);
      this.snapshotSeq = seq;
      this.snapshotBytes = written.bytes;
      this.snapshots++;
      await journal.retireBefore(gen);
      this.lastSnapshotMs = performance.now() - t0;
      this.emit({ type: 'snapshot', ms: this.lastSnapshotMs, exportMs, bytes: written.bytes, seq, live, moveMs });
    } finally {
      this.snapshotRunning = false;
    }
  }

  /** Waits for journal writes, snapshots if the journal has records, releases the lock. Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= this.doClose(false);
    return this.closePromise;
  }

  /**
   * Stops like a crashed process would (no final snapshot; used by tests and
   * when open() fails), after acknowledged writes are on disk; releases the lock.
   * @internal
   */
  closeWithoutSnapshot(): Promise<void> {
    this.closePromise ??= this.doClose(true);
    return this.closePromise;
  }

  private async doClose(crash: boolean): Promise<void> {
    this.closing = true;
    let error: unknown;
    try {
      await this.snapChain;
      await this.journal.drain();
      if (!crash && !this.failure && this._seq !== this.snapshotSeq) {
        try {
          await this.queueSnapshot();
        } catch (e) {
          error = e;
          this.emit({ type: 'snapshot-failed', error: asError(e) });
        }
      }
      await this.journal.close();
    } finally {
      this.journal.closeNow();
      this.eng.close();
      this.lock.release();
    }
    if (error) throw error;
  }

  stats(): StoreStats {
    return {
      seq: this._seq,
      journalBytes: this.journal.currentBytes,
      snapshotBytes: this.snapshotBytes,
      snapshots: this.snapshots,
      lastSnapshotMs: this.lastSnapshotMs,
      snapshotSeq: this.snapshotSeq,
      journalRecords: this.journal.records,
      journalSyncs: this.journal.syncs,
    };
  }

  /**
   * Stops as a killed process does: nothing more reaches the disk (queued
   * journal writes are dropped, not waited for; one already handed to the
   * JournalIo finishes or not as that I/O does), the database is closed and
   * the lock released. Every later call fails as on a closed store.
   * Simulations and tests only.
   * @internal
   */
  crashForTesting(): void {
    if (this.closing) return;
    this.closing = true;
    this.failure ??= new StoreClosedError(this.dir);
    this.journal.failure ??= this.failure;
    this.journal.closeNow();
    this.eng.close();
    this.lock.release();
    this.closePromise = Promise.resolve();
  }

  /** @internal fault injection for tests */
  get journalForTesting(): JournalWriter {
    return this.journal;
  }
}
