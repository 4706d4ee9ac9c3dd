/**
 * A library on this device: its database, clock, peer log and the
 * transaction API that every write goes through.
 *
 * Local writes: `write(tx => …)` (and the commit* shorthands) stamp each
 * record with the HLC, write the row, its stamp and (for shared data) the
 * peer-log entry in one durable transaction, then emit `committed`.
 * Remote writes: `applyState` / `applyShared` validate, refuse stamps beyond
 * the drift bound, apply idempotently and emit `applied`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkData, RecordFormatError, type RecordData } from '../models/fields';
import { digestModel, type DeviceOwnedModel, type SharedChange, type SharedOp, type SharedRow, type StateRecord } from '../models/model';
import { OwnershipError } from '../models/errors';
import { Store, type JournalIo, type Reader, type StoreEvent, type Writer } from '../store';
import { Applier, ApplyReport, checkSharedChange, checkSharedRow, checkSignature, checkStateRecord } from './apply';
import { changeSigningBytes } from './records';
import { deviceIdOf, deviceKeyPair, isDeviceIdOf, isKeyPair, sign, SIGNATURE_BYTES, type DeviceKeyPair } from '../core/signing';
import { InvalidChangeError, LibraryNotFoundError, NotAMemberError, NotFoundError } from './errors';
import { TypedEmitter } from './events';
import { ClockDriftError, compareBytes, compareHlc, decodeHlc, encodeHlc, encodeHlcTime, HlcClock, justBefore, type Hlc } from '../core/hlc';
import { idEquals, idKey, idToString, INCARNATION_BYTES, newId, originId, toHex, type Id } from '../core/ids';
import { readOwnerStates, readOwnerStatesOf, rebuildOwnerStates, type OwnerState } from '../models/owner-state';
import { readSharedStates, type SharedState } from '../models/shared-state';
import { deletePartner, memberId, readMembers, reconcilePartners, writePartner, type Member } from './members';
import { Parking } from './parking';
import { baseSeq, PeerLog, type LogRead, type VersionVector } from './peer-log';
import { registry, type Registry } from './registry';
import { MIGRATIONS } from './schema';
import { hasStatements, isLiveMember, keepLetIn, readAnchors, readMembership, rebuildMembers, statementsPage, upgradeMembership, writeAnchors } from './member-statements';
import { encodeAfter, type Anchor } from './membership';
import { OwnerProofs, type OwnerProof } from './owner-proofs';
import { OwnerUndo } from './owner-undo';
import { checkSeal, matches, stateOf, type OwnerSeal } from './owner-seals';
import { countSealedSince, sealedRowsOf, sealedSince, type SealedRows } from './sealed-rows';
import { OwnSealHistory } from './own-seal-history';

export const APP_VERSION = '0.1.0';

export interface LibraryOptions {
  /** Holds one folder per library (the extension's global storage, a CLI --data-dir, a test's temp dir). */
  dataDir: string;
  /** Wall clock in ms (injectable for tests and simulations). */
  now?: () => number;
  maxClockDriftMs?: number;
  /** This device's record: defaults from the OS. */
  deviceName?: string;
  snapshotJournalBytes?: number;
  onStoreEvent?: (e: StoreEvent) => void;
  /** Source of new record ids (default: random v4); simulations pass a seeded one. */
  newId?: () => Id;
  /** The journal's disk calls (default: the file system's); simulations pass a disk that a power loss can undo. */
  journalIo?: JournalIo;
  /** Records that may wait for their parent at once (default MAX_PARKED); beyond it, more are refused and fetched again later. */
  maxParked?: number;
  /** Of those, records one partner sent, at most (default MAX_PARKED_PER_PARTNER); beyond it, that partner is cut off. */
  maxParkedPerPartner?: number;
  /**
   * This device's key pair: it signs every shared change this device
   * writes, and (on create) this device's id is derived from its public key.
   * Default: a new random one (tests; a library opened without its key
   * cannot write changes its peers accept).
   */
  keyPair?: DeviceKeyPair;
}

/** Records waiting for their parent, at most (a partner cannot make this device hold more). */
export const MAX_PARKED = 200_000;

/** Of those, records sent by one partner, at most: a partner filling the room with rows that never apply crowds out no one else. */
export const MAX_PARKED_PER_PARTNER = 50_000;

/** Heads (signed proofs of a snapshot base) sent with a snapshot, at most; entries beyond are not adopted by the receiver. */
export const MAX_SNAPSHOT_HEADS = 5000;

/**
 * Key pairs this process made for libraries created without one (tests,
 * simulations), by device id, so that opening such a library again in the
 * same process signs with the same key. A real device always passes its
 * key (the engine service's device key).
 */
const keysMadeHere = new Map<string, DeviceKeyPair>();

/** The key to open a library with: the one given, else one this process made for `deviceId` before, else a new one (kept if it is that device's, or `deviceId` is not known yet). */
function keyFor(given: DeviceKeyPair | undefined, deviceId: Id | undefined): DeviceKeyPair {
  if (given) return given;
  const known = deviceId && keysMadeHere.get(idKey(deviceId));
  if (known) return known;
  const made = deviceKeyPair();
  const id = deviceId ?? deviceIdOf(made.publicKey);
  if (isDeviceIdOf(id, made.publicKey)) keysMadeHere.set(idKey(id), made);
  return made;
}

const NO_SIGNATURE = new Uint8Array(0);
/** Stands in for the signature while a local change's shape is checked (the signature covers the checked change). */
const PLACEHOLDER_SIGNATURE = new Uint8Array(SIGNATURE_BYTES);

export interface CreateLibraryOptions extends LibraryOptions {
  name: string;
  /** This device's id; one per machine, shared by its libraries. Default: new. */
  deviceId?: Id;
  /** Joining an existing library: its id and secret. Default: new. */
  libraryId?: Id;
  secret?: Uint8Array;
}

export interface OpenLibraryOptions extends LibraryOptions {
  libraryId: Id;
}

export interface LibraryInfo {
  id: string;
  name: string;
  createdAt: number;
}

export interface Committed {
  /** Device-owned records written, per model. */
  state: Map<string, StateRecord[]>;
  /** Shared changes written (each also in the peer log). */
  shared: SharedChange[];
}

/**
 * Rows in this device's own name a caller may apply: those of a whole set
 * shown to hash to `seal`, a seal of its own; or, recovering rows it lost
 * (Library.recoveryWindow), those stamped after `after` and up to `through`.
 */
export type OwnRows = { readonly seal: OwnerSeal } | { readonly after: Uint8Array; readonly through: Uint8Array };

/** Moves the watermark with a page of `owner`'s rows, up to what the serving peer vouches for. */
export interface StateCheckpoint {
  readonly owner: Id;
  /** The server's completeThrough: the watermark never passes it (null: it vouches for none). */
  readonly through: Uint8Array | null;
}

export interface LibraryEvents {
  /** Local changes, durable, ready to broadcast. */
  committed: (c: Committed) => void;
  /** Remote changes applied (durable). */
  applied: (r: ApplyReport) => void;
  /** Remote changes applied and readable, before they are durable (`applied` follows, or the store fails). */
  visible: (r: ApplyReport) => void;
  /** A remote stamp was refused: too far ahead of this device's clock. */
  clockDrift: (e: ClockDriftError) => void;
  /** Remote records refused for another reason (bad shape, not the owner's). */
  rejected: (r: ApplyReport['rejected']) => void;
  /** The set of partners (or a partner's key or name) changed: update links and firewalls. */
  partners: () => void;
  /**
   * What is held of these owners' rows is now exactly what they sealed,
   * and was not before (or, for this device, its own rows changed through
   * a partner): partners may pull them from here now.
   */
  proven: (owners: Id[]) => void;
  /**
   * The journal could not be written (disk full, I/O error): nothing more is
   * committed, and what is in memory past the last durable commit must not
   * be shown to anyone. Sync stops; reopening the library from disk recovers.
   */
  failed: (e: Error) => void;
}

export function libraryDir(dataDir: string, id: Id): string {
  return path.join(dataDir, 'libraries', idKey(id));
}

/** Libraries found under a data directory. */
export async function listLibraries(dataDir: string): Promise<LibraryInfo[]> {
  const root = path.join(dataDir, 'libraries');
  let names: string[];
  try {
    names = await fsp.readdir(root);
  } catch {
    return [];
  }
  const out: LibraryInfo[] = [];
  for (const n of names.sort()) {
    try {
      out.push(JSON.parse(await fsp.readFile(path.join(root, n, 'library.json'), 'utf8')) as LibraryInfo);
    } catch {
      // not a library folder
    }
  }
  return out;
}

/** The local side of one transaction. Records are stamped in call order. */
export interface LocalTx {
  /** Creates or replaces a row of this device (full data). */
  put(model: string, data: RecordData, uuid?: Id): StateRecord;
  /** Deletes a row of this device (tombstone). Deleting a location deletes its entries. */
  remove(model: string, uuid: Id): StateRecord;
  /** Creates (or re-creates) a shared row. Rows identified by what they point at get their derived id. */
  create(model: string, data: RecordData, uuid?: Id): SharedChange;
  /** Changes fields of a live shared row. */
  update(model: string, uuid: Id, data: RecordData): SharedChange;
  /** Deletes a shared row. */
  delete(model: string, uuid: Id): SharedChange;
  readonly reader: Reader;
}

export class Library extends TypedEmitter<LibraryEvents> {
  readonly log: PeerLog;
  readonly registry: Registry = registry;
  private readonly parking: Parking;
  private readonly applier: Applier;
  private closed = false;
  /** The journal failed: set once, never cleared (reopen the library). */
  private failure: Error | null = null;
  /**
   * Stamps this device's own device-owned rows. Never adopts another
   * device's stamp (only this device writes these rows, so only its own
   * order matters), so after a restore from an old copy it still stamps
   * above everything it wrote before: the wall clock has moved on.
   */
  readonly ownClock: HlcClock;
  /** This run's origin for shared changes: originId(deviceId, incarnation). */
  readonly origin: Id;
  /** This run's incarnation nonce. */
  readonly incarnation: Uint8Array;
  /** Seq of the last shared change of this run's origin (0: none yet). */
  private logSeq = 0;
  /**
   * false: close() skips the final snapshot (what is acknowledged is in the
   * journal already; the next open replays it). For a quick handover: the
   * snapshot of a large library takes seconds, and the next opener waits
   * for the lock meanwhile.
   */
  snapshotOnClose = true;
  /** Makes ids for new records. */
  readonly makeId: () => Id;
  private announced: Promise<void> = Promise.resolve();

  private constructor(
    readonly id: Id,
    readonly deviceId: Id,
    readonly store: Store,
    /** Stamps shared changes; adopts every remote stamp (causality). Its device is this run's origin. */
    readonly clock: HlcClock,
    ownClock: HlcClock,
    incarnation: Uint8Array,
    makeId: () => Id,
    maxParked: { all: number; perPartner: number },
    private readonly keyPair: DeviceKeyPair,
  ) {
    super();
    this.signsAsItself = isDeviceIdOf(deviceId, keyPair.publicKey);
    this.makeId = makeId;
    this.incarnation = incarnation;
    this.origin = clock.device;
    this.ownClock = ownClock;
    this.log = new PeerLog(registry, () => clock.last().ms);
    this.parking = new Parking(registry, maxParked.all, maxParked.perPartner);
    this.applier = new Applier(registry, this.log, this.parking, deviceId);
    this.proofs = new OwnerProofs(
      id,
      deviceId,
      this.signsAsItself ? keyPair : null,
      () => encodeHlcTime(ownClock.now()),
      () => ownClock.wallMs() + ownClock.maxDriftMs,
      () => this.ownSeals.base,
    );
    this.undo = new OwnerUndo(registry, deviceId);
    this.applier.undo = this.undo;
  }

  private readonly undo: OwnerUndo;
  /** Per owner (idKey): the partners that relayed rows of it since they last matched its seal here (in memory). */
  private readonly relays = new Map<string, Map<string, Id>>();
  /** Owners (idKey) with rows relayed before this run that do not match a seal yet: who relayed them is not known. */
  private readonly relaysUnknown = new Set<string>();
  /** What this copy of its data knows of the seals it made of its own rows (set at open). */
  private ownSeals!: OwnSealHistory;
  /** Per owner: the sealed set last rebuilt to serve to that owner, with what it was rebuilt from (owner states and changed rows). */
  private readonly sealedCache = new Map<string, { key: string; set: SealedRows | null }>();

  /** Seals: this device's own, every owner's newest, and whether what is held of each owner is what it sealed. */
  private readonly proofs: OwnerProofs;

  /** Creates a new library (or this device's copy of one it is joining). */
  static async create(opts: CreateLibraryOptions): Promise<Library> {
    const id = opts.libraryId ?? (opts.newId ?? newId)();
    const dir = libraryDir(opts.dataDir, id);
    const store = await openStore(dir, opts);
    const keyPair = keyFor(opts.keyPair, opts.deviceId);
    try {
      if (store.read((r) => r.value("SELECT value FROM meta WHERE key = 'library_id'")) !== undefined) {
        throw new Error(`A library with id ${idToString(id)} already exists at ${dir}`);
      }
      const deviceId = opts.deviceId ?? deviceIdOf(keyPair.publicKey);
      const secret = opts.secret ?? randomBytes(32);
      const now = (opts.now ?? Date.now)();
      await store.transaction((w) => {
        const set = (k: string, v: Uint8Array | string | number) => w.run('INSERT INTO meta (key, value) VALUES (?, ?)', [k, v]);
        set('library_id', id);
        set('library_name', opts.name);
        set('device_id', deviceId);
        set('secret', secret);
        set('created_at', now);
        // A new copy of its data: every seal of its own an earlier copy made (a re-join) is one it does not know.
        set('own_sealed_at', OwnSealHistory.FRESH);
      });
      const info: LibraryInfo = { id: idToString(id), name: opts.name, createdAt: now };
      await fsp.writeFile(path.join(dir, 'library.json'), JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
    } catch (e) {
      await store.close();
      throw e;
    }
    return Library.fromStore(store, { ...opts, keyPair });
  }

  static async open(opts: OpenLibraryOptions): Promise<Library> {
    const dir = libraryDir(opts.dataDir, opts.libraryId);
    try {
      await fsp.access(path.join(dir, 'library.json'));
    } catch {
      throw new LibraryNotFoundError(dir);
    }
    return Library.fromStore(await openStore(dir, opts), opts);
  }

  /** Whether the key it was opened with is this device's (else it cannot write shared changes). */
  private readonly signsAsItself: boolean;

  private static async fromStore(store: Store, opts: LibraryOptions): Promise<Library> {
    try {
      const meta = store.read((r) => new Map(r.rows('SELECT key, value FROM meta').map(([k, v]) => [k as string, v])));
      const id = meta.get('library_id') as Uint8Array | undefined;
      const deviceId = meta.get('device_id') as Uint8Array | undefined;
      if (!id || !deviceId) throw new LibraryNotFoundError(store.dir);
      const last = meta.get('hlc');
      const ownLast = meta.get('own_hlc');
      const makeId = opts.newId ?? newId;
      // A new incarnation every run: its origin numbers this run's shared changes from 1 (see originId).
      const incarnation = makeId().slice(0, INCARNATION_BYTES);
      const lastShared = last instanceof Uint8Array ? decodeHlc(last) : null;
      const clock = new HlcClock({ device: originId(deviceId, incarnation), now: opts.now, maxDriftMs: opts.maxClockDriftMs, last: lastShared });
      // Libraries from before the own clock: it continues above the one clock they had.
      const ownClock = new HlcClock({ device: deviceId, now: opts.now, maxDriftMs: opts.maxClockDriftMs, last: ownLast instanceof Uint8Array ? decodeHlc(ownLast) : lastShared });
      if (opts.keyPair && !isKeyPair(opts.keyPair)) throw new Error("this device's key pair is damaged: its secret key does not sign for its public key");
      const keyPair = keyFor(opts.keyPair, deviceId);
      const lib = new Library(id, deviceId, store, clock, ownClock, incarnation, makeId, { all: opts.maxParked ?? MAX_PARKED, perPartner: opts.maxParkedPerPartner ?? MAX_PARKED_PER_PARTNER }, keyPair);
      store.onFailure((e) => lib.fail(e));
      if (meta.get('owner_state') !== 2) {
        // A library from before owner states were kept, or hashed every field (LtHash): computed once from its rows.
        await store.transaction((w) => {
          rebuildOwnerStates(w, registry.deviceOwned);
          w.run('DELETE FROM shared_state');
          for (const m of registry.shared) {
            const st = m.computeState(w);
            if (st.rows) w.run('INSERT INTO shared_state (model, rows, sum) VALUES (?, ?, ?)', [st.model, st.rows, st.sum]);
          }
          lib.parking.upgrade(w);
          w.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('owner_state', 2)");
        });
      }
      if (meta.get('membership') !== 1) {
        // A library from before membership was folded from statements (membership.ts).
        await store.transaction((w) => {
          upgradeMembership(w);
          w.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('membership', 1)");
        });
      }
      for (const [owner] of store.read((r) => r.rows('SELECT DISTINCT owner FROM owner_undo'))) lib.relaysUnknown.add(idKey(owner as Uint8Array));
      lib.ownSeals = new OwnSealHistory(meta, encodeHlcTime(ownClock.now()));
      // Its own rows as they are now, sealed before anything is sent (every seal of its own is kept track of:
      // own-seal-history.ts). Applied in memory at once; as with announceDevice below, not waited for to be durable.
      const sealed = store.transaction((w) => {
        lib.ownSeals.save(w);
        lib.sealOwn(w);
      });
      // Applied in memory now; its durability is not worth delaying the open for
      // (a failed journal write fails every later commit with StoreFailedError).
      lib.announced = Promise.all([sealed, lib.announceDevice(opts)]).then(
        () => undefined,
        () => undefined,
      );
      return lib;
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  /** Keeps this device's own record current (name, OS, version, last seen). */
  private async announceDevice(opts: LibraryOptions): Promise<void> {
    const existing = this.store.read((r) => registry.deviceOwnedModel('device').get(r, this.deviceId));
    const now = this.clock.now().ms;
    const data: RecordData = {
      name: opts.deviceName ?? (existing && !existing.deleted ? (existing.data.name as string) : os.hostname()),
      os: `${os.platform()}-${os.arch()}`,
      hostname: os.hostname(),
      app_version: APP_VERSION,
      created_at: existing && !existing.deleted ? (existing.data.created_at as number) : now,
      updated_at: now,
      last_seen_at: now,
    };
    await this.write((tx) => tx.put('device', data, this.deviceId));
  }

  /** Resolves once this device's own record, updated as the library opened, is durable (and announced). */
  ready(): Promise<void> {
    return this.announced;
  }

  get name(): string {
    return String(this.meta('library_name') ?? '');
  }

  /** The 32-byte library secret. Never log it. */
  get secret(): Uint8Array {
    return this.meta('secret') as Uint8Array;
  }

  private meta(key: string) {
    return this.store.read((r) => r.value('SELECT value FROM meta WHERE key = ?', [key]));
  }

  read<T>(fn: (r: Reader) => T): T {
    return this.store.read(fn);
  }

  // ---------------------------------------------------------------- local writes

  /**
   * Runs `fn` as one atomic, durable transaction of local changes. Resolves
   * when durable, then emits `committed`. If `fn` throws, nothing is written.
   */
  async write(fn: (tx: LocalTx) => void): Promise<Committed> {
    const committed: Committed = { state: new Map(), shared: [] };
    const report = new ApplyReport();
    const seqBefore = this.logSeq;
    let partnersChanged = false;
    try {
      await this.store.transaction((w) => {
        fn(this.localTx(w, report, committed));
        if (touchesMembers(committed.shared)) partnersChanged = this.foldMembers(w, report);
        w.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('hlc', ?)", [encodeHlc(this.clock.last())]);
        if (committed.state.size) w.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('own_hlc', ?)", [encodeHlc(this.ownClock.last())]);
        // Sealed here, in the transaction: every seal of its own this copy of the library made, it knows of (lostOwnSeal).
        if (committed.state.size) this.sealOwn(w);
      });
    } catch (e) {
      // Rolled back: the log sequence must not skip. (The clock may stay ahead: that is harmless.)
      this.logSeq = seqBefore;
      this.parking.invalidate();
      throw e;
    }
    if (committed.shared.length || committed.state.size) this.emit('committed', committed);
    if (report.applied > committed.shared.length + countState(committed)) {
      // Parked remote records this write released: readable and durable by now.
      this.emit('visible', report);
      this.emit('applied', report);
    }
    if (partnersChanged) this.emit('partners');
    return committed;
  }

  private localTx(w: Writer, report: ApplyReport, committed: Committed): LocalTx {
    const lib = this;
    const pushState = (model: string, rec: StateRecord) => {
      const list = committed.state.get(model) ?? [];
      list.push(rec);
      committed.state.set(model, list);
    };
    const removed = new RemovedLocations(w);
    return {
      reader: w,
      put(modelName, data, uuid) {
        const model = registry.deviceOwnedModel(modelName);
        const id = uuid ?? lib.makeId();
        const checked = checkData(model.name, model.fields, data, true);
        const owner = model.ownerOf(w, id, checked);
        if (!owner) throw new NotFoundError(`${model.name}: what it belongs to does not exist here (${describeParent(model, checked)})`);
        if (!idEquals(owner, lib.deviceId)) {
          throw new OwnershipError(`${model.name} ${idToString(id)} belongs to device ${idToString(owner)}; only it can write it`);
        }
        removed.refuse(model.name, id, checked);
        const rec: StateRecord = { uuid: id, hlc: lib.ownClock.now(), deleted: false, data: checked };
        lib.applyLocalState(w, model, rec, report);
        pushState(model.name, rec);
        return rec;
      },
      remove(modelName, uuid) {
        const model = registry.deviceOwnedModel(modelName);
        const cur = model.get(w, uuid);
        if (!cur || cur.deleted) throw new NotFoundError(`${model.name} ${idToString(uuid)} does not exist`);
        if (!idEquals(cur.hlc.device, lib.deviceId)) {
          throw new OwnershipError(`${model.name} ${idToString(uuid)} belongs to device ${idToString(cur.hlc.device)}; only it can delete it`);
        }
        const identity: RecordData = {};
        for (const f of model.fields) if (f.identity) identity[f.name] = cur.data[f.name];
        const rec: StateRecord = { uuid, hlc: lib.ownClock.now(), deleted: true, data: identity };
        lib.applyLocalState(w, model, rec, report);
        if (model.name === 'location') removed.add(uuid);
        pushState(model.name, rec);
        return rec;
      },
      create(modelName, data, uuid) {
        const model = registry.sharedModel(modelName);
        const derived = model.derivedId(data);
        if (derived && uuid && !idEquals(derived, uuid)) throw new InvalidChangeError(`${model.name}: its id is derived from the item it points at`);
        return lib.localChange(w, modelName, derived ?? uuid ?? lib.makeId(), 'create', data, report, committed);
      },
      update(modelName, uuid, data) {
        const model = registry.sharedModel(modelName);
        const cur = model.get(w, uuid);
        if (!cur || !cur.live) throw new NotFoundError(`${model.name} ${idToString(uuid)} does not exist (or was deleted)`);
        return lib.localChange(w, modelName, uuid, 'update', data, report, committed);
      },
      delete(modelName, uuid) {
        const model = registry.sharedModel(modelName);
        const cur = model.get(w, uuid);
        if (!cur || !cur.live) throw new NotFoundError(`${model.name} ${idToString(uuid)} does not exist (or was already deleted)`);
        return lib.localChange(w, modelName, uuid, 'delete', {}, report, committed);
      },
    };
  }

  private applyLocalState(w: Writer, model: DeviceOwnedModel, rec: StateRecord, report: ApplyReport): void {
    const before = report.rejected.length;
    const parkedBefore = report.parked;
    this.applier.applyState(w, model, [rec], report);
    if (report.rejected.length > before) throw report.rejected[before].error;
    if (report.parked > parkedBefore) throw new NotFoundError(`${model.name}: ${describeParent(model, rec.data)} does not exist here`);
  }

  private localChange(w: Writer, modelName: string, uuid: Id, op: SharedOp, data: RecordData, report: ApplyReport, committed: Committed): SharedChange {
    const model = registry.sharedModel(modelName);
    const hlc = this.clock.now();
    if (!this.signsAsItself) {
      throw new OwnershipError(`this library was opened without device ${idToString(this.deviceId)}'s key: it cannot write changes other devices accept`);
    }
    if (model.name === 'member') data = this.memberStatement(w, uuid, op, data);
    let change: SharedChange;
    try {
      const unsigned = { model: model.name, uuid, hlc, seq: this.logSeq + 1, op, device: this.deviceId, incarnation: this.incarnation, publicKey: this.keyPair.publicKey, signature: NO_SIGNATURE, data };
      const checkedData = checkSharedChange(model, { ...unsigned, signature: PLACEHOLDER_SIGNATURE }).data;
      const body = { ...unsigned, data: checkedData };
      change = { ...body, signature: sign(this.keyPair, changeSigningBytes(this.id, model, body)) };
    } catch (e) {
      throw e instanceof RecordFormatError ? new InvalidChangeError(e.message) : e;
    }
    this.logSeq++;
    this.log.appendOwn(w, change);
    this.applier.applyChange(w, model, change, report, true);
    committed.shared.push(change);
    return change;
  }

  /**
   * A member statement this device may make: only as a live member (the
   * founder's anchor, or granted and not unpaired since), naming the
   * statements it holds (membership.ts).
   */
  private memberStatement(w: Writer, uuid: Id, op: SharedOp, data: RecordData): RecordData {
    if (!isLiveMember(w, this.deviceId)) {
      throw new NotAMemberError(`device ${idToString(this.deviceId)} is not a member of library ${idToString(this.id)} (it was unpaired, or never granted): it cannot change who is`);
    }
    const target = op === 'create' ? (data.device as Id) : op === 'update' ? this.deviceId : ((registry.sharedModel('member').get(w, uuid)?.data.device as Id | undefined) ?? null);
    const after = encodeAfter(readMembership(w).headsFor(this.deviceId, target));
    return op === 'delete' ? { after } : { ...data, after };
  }

  /**
   * Records how far this device's scan of one of its locations got (e.g.
   * 'scanning', 'done', 'error: …'). Local: durable, never synced.
   */
  async setScanState(location: Id, state: string): Promise<void> {
    const now = this.clock.now().ms;
    await this.store.transaction((w) => {
      const changed = w.run('UPDATE location SET scan_state = ?, scanned_at = ? WHERE uuid = ? AND owner = ? AND deleted = 0', [state, now, location, this.deviceId]);
      if (changed === 0) throw new NotFoundError(`location ${idToString(location)} is not a location of this device`);
    });
  }

  scanState(location: Id): { state: string | null; at: number | null } | null {
    const row = this.store.read((r) => r.rows('SELECT scan_state, scanned_at FROM location WHERE uuid = ?', [location])[0]);
    return row ? { state: row[0] as string | null, at: row[1] as number | null } : null;
  }

  /** Shorthand: put device-owned rows of this device. */
  async commitDeviceOwned(model: string, rows: readonly { uuid?: Id; data: RecordData }[]): Promise<StateRecord[]> {
    const out: StateRecord[] = [];
    await this.write((tx) => {
      for (const r of rows) out.push(tx.put(model, r.data, r.uuid));
    });
    return out;
  }

  /** Shorthand: delete device-owned rows of this device. */
  async deleteDeviceOwned(model: string, uuids: readonly Id[]): Promise<StateRecord[]> {
    const out: StateRecord[] = [];
    await this.write((tx) => {
      for (const u of uuids) out.push(tx.remove(model, u));
    });
    return out;
  }

  /** Shorthand: shared changes in one transaction. */
  async commitShared(changes: readonly { model: string; op: SharedOp; uuid?: Id; data?: RecordData }[]): Promise<SharedChange[]> {
    const out: SharedChange[] = [];
    await this.write((tx) => {
      for (const c of changes) {
        if (c.op === 'create') out.push(tx.create(c.model, c.data ?? {}, c.uuid));
        else if (!c.uuid) throw new InvalidChangeError(`${c.model}: ${c.op} needs a uuid`);
        else if (c.op === 'update') out.push(tx.update(c.model, c.uuid, c.data ?? {}));
        else out.push(tx.delete(c.model, c.uuid));
      }
    });
    return out;
  }

  // ---------------------------------------------------------------- remote writes

  /**
   * Applies device-owned state received from a peer. Each record must be
   * stamped by its owner. Bad records are rejected one by one (reported,
   * never thrown); stamps too far ahead are refused and reported. Rows in
   * this device's own name are taken only as `own` allows (a device
   * restored from an old copy takes back what it lost: OwnRows); else each
   * is refused as a row this device cannot show it wrote.
   */
  async applyState(modelName: string, records: readonly StateRecord[], checkpoint?: StateCheckpoint, seal: OwnerSeal | null = null, own: OwnRows | null = null): Promise<ApplyReport> {
    const sender = this.sender;
    const model = registry.deviceOwnedModel(modelName);
    const report = new ApplyReport();
    let foreign = false;
    const check = (rec: StateRecord) => {
      const checked = checkStateRecord(model, rec);
      if (idEquals(checked.hlc.device, this.deviceId)) {
        if (!own) throw new OwnershipError(`${model.name} ${idToString(checked.uuid)}: a row in this device's own name that it cannot show it sealed`);
        if ('through' in own) {
          const t = encodeHlcTime(checked.hlc);
          if (compareBytes(t, own.through) > 0 || compareBytes(t, own.after) <= 0) {
            throw new OwnershipError(`${model.name} ${idToString(checked.uuid)}: a row in this device's own name stamped where it lost none`);
          }
        }
      }
      // A page asked of one owner's rows vouches for that owner only: another's row in it (and the watermark it would move) is refused.
      if (checkpoint && !idEquals(checked.hlc.device, checkpoint.owner)) {
        foreign = true;
        throw new OwnershipError(`${model.name} ${idToString(checked.uuid)}: asked for the rows of device ${idToString(checkpoint.owner)}, got one of device ${idToString(checked.hlc.device)}`);
      }
      return checked;
    };
    const { valid, newest } = this.admit(records, check, () => model.name, report);
    let ownNewest: Hlc | null = null;
    for (const rec of valid) if (idEquals(rec.hlc.device, this.deviceId) && (!ownNewest || compareHlc(rec.hlc, ownNewest) > 0)) ownNewest = rec.hlc;
    const owners = new Map<string, Id>();
    for (const rec of valid) owners.set(idKey(rec.hlc.device), rec.hlc.device);
    if (valid.length === 0 && seal) {
      // No rows to take it with (a page with none, or none valid).
      report.badSeals.push(...(await this.takeSeals([seal])).refused);
      seal = null;
    }
    const servableBefore = new Map([...owners].map(([k, o]) => [k, this.servable(o)]));
    await this.applyRemote(report, newest, false, (w) => {
      // The seal that came with the rows, taken with them: what is held goes from one sealed state to the next.
      if (seal) {
        try {
          this.proofs.take(w, seal);
        } catch (e) {
          report.badSeals.push(e as Error);
        }
      }
      this.sentBy(sender, () => this.applier.applyState(w, model, valid, report));
      for (const o of owners.values()) this.proofs.check(w, o);
      // A page of a catch-up: the watermark moves with it, in the same transaction, unless a stamp was
      // refused or a record could not wait for its parent (the page is fetched again later), or the page
      // held another owner's rows (it vouches for nothing).
      if (checkpoint && !foreign && report.refused.length === 0 && report.deferred === 0 && records.length) {
        const last = encodeHlcTime(records[records.length - 1].hlc);
        const through = checkpoint.through;
        if (through) this.raiseWatermark(w, checkpoint.owner, model.name, compareBytes(through, last) < 0 ? through : last);
      }
      // Its own rows changed: sealed again, in the transaction.
      if (ownNewest) this.sealOwn(w);
    }, ownNewest);
    // Owners whose rows this device can now vouch for (or its own, changed through a partner: a new seal).
    const proven: Id[] = [];
    for (const [k, o] of owners) {
      if (idEquals(o, this.deviceId)) {
        if (report.applied > 0) proven.push(o);
        continue;
      }
      if (this.servable(o)) {
        if (!servableBefore.get(k)) proven.push(o);
        this.relays.delete(k);
        this.relaysUnknown.delete(k);
      } else if (sender && !idEquals(sender, o) && (report.applied || report.parked)) {
        let m = this.relays.get(k);
        if (!m) this.relays.set(k, (m = new Map()));
        m.set(idKey(sender), sender);
      }
    }
    if (proven.length) this.emit('proven', proven);
    return report;
  }

  /**
   * Runs `apply` (a call of applyState, applyShared or another remote apply)
   * as records that `partner` sent: those that wait for a parent count
   * towards its share of the room (MAX_PARKED_PER_PARTNER). The partner is
   * taken when the call starts, so `apply` must call into the library at once.
   */
  fromPartner<T>(partner: Id, apply: () => Promise<T>): Promise<T> {
    this.sender = partner;
    try {
      return apply();
    } finally {
      this.sender = null;
    }
  }

  /** The partner named by fromPartner while its apply call starts. */
  private sender: Id | null = null;

  private sentBy(sender: Id | null, fn: () => void): void {
    this.applier.sender = sender;
    try {
      fn();
    } finally {
      this.applier.sender = null;
    }
  }

  /** Applies shared changes received from a peer (from any origin), idempotently. */
  async applyShared(changes: readonly SharedChange[]): Promise<ApplyReport> {
    const sender = this.sender;
    const report = new ApplyReport();
    // One held already would not be applied: it is not verified again (live and catch-up overlap, and a
    // change held above a gap is sent again each catch-up round until the gap closes) unless it is not what is
    // held: then, if it does not verify, whoever sent it altered it, and it is refused as such.
    const fresh: SharedChange[] = [];
    const differing: SharedChange[] = [];
    this.store.read((r) => {
      for (const ch of changes) {
        if (!(ch?.hlc?.device instanceof Uint8Array && Number.isSafeInteger(ch.seq) && this.log.holds(r, ch))) fresh.push(ch);
        else if (this.log.heldOtherwise(r, ch)) differing.push(ch);
        else report.stale++;
      }
    });
    const versions: SharedChange[] = [];
    for (const ch of differing) {
      try {
        this.verified(ch);
        report.stale++; // a second version its origin signed: not the sender's doing
        // Of a member statement, both versions count (membership.ts): kept and passed on, so every device folds both.
        if (ch.model === 'member') versions.push(ch);
      } catch (e) {
        report.rejected.push({ model: String(ch?.model), uuid: ch?.uuid ?? null, error: e as Error });
      }
    }
    if (versions.length) await this.applyMemberStatements(versions);
    const { valid, newest } = this.admit(fresh, (ch) => this.verified(ch), (ch) => String(ch?.model), report);
    await this.applyRemote(report, newest, touchesMembers(valid), (w) => {
      this.sentBy(sender, () => {
        for (const ch of valid) this.applier.applyChange(w, registry.sharedModel(ch.model), ch, report, false);
      });
    });
    return report;
  }

  /**
   * Validates remote records one by one: malformed ones are rejected, stamps
   * beyond the drift bound refused (both reported in `report`, never thrown).
   */
  private admit<T extends { hlc: Hlc; uuid: Id }>(items: readonly T[], check: (x: T) => T, model: (x: T) => string, report: ApplyReport): { valid: T[]; newest: Hlc | null } {
    const valid: T[] = [];
    let newest: Hlc | null = null;
    for (const item of items) {
      try {
        const checked = check(item);
        this.clock.check(checked.hlc, 'device' in checked ? (checked as unknown as SharedChange).device : undefined);
        valid.push(checked);
        if (!newest || compareHlc(checked.hlc, newest) > 0) newest = checked.hlc;
      } catch (e) {
        if (e instanceof ClockDriftError) report.refused.push(e);
        else report.rejected.push({ model: model(item), uuid: item?.uuid ?? null, error: e as Error });
      }
    }
    return { valid, newest };
  }

  /**
   * Applies validated remote records in one durable transaction, adopting
   * the newest stamp; `members`: they may change the partners; `ownNewest`:
   * the newest of this device's own rows among them (peers giving back rows
   * it wrote before a restore), which its own clock moves above.
   */
  private async applyRemote(report: ApplyReport, newest: Hlc | null, members: boolean, apply: (w: Writer) => void, ownNewest: Hlc | null = null): Promise<void> {
    let partnersChanged = false;
    if (newest) {
      let readable = false;
      try {
        const durable = this.store.transaction((w) => {
          apply(w);
          if (members) partnersChanged = this.foldMembers(w, report);
          this.clock.receive(newest);
          w.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('hlc', ?)", [encodeHlc(this.clock.last())]);
          if (ownNewest) {
            this.ownClock.receive(ownNewest);
            w.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('own_hlc', ?)", [encodeHlc(this.ownClock.last())]);
          }
          readable = true;
        });
        // Readers see the rows now; the journal write is still on its way. Saying so at once lets
        // a UI show a partner's change without waiting for this disk's flush (nothing is lost if
        // this device crashes before it: the partner keeps the change until it is acknowledged,
        // and acknowledgements go out only after `applied`).
        if (readable && report.applied) this.emit('visible', report);
        await durable;
      } catch (e) {
        this.parking.invalidate();
        throw e;
      }
    }
    for (const e of report.refused) this.emit('clockDrift', e);
    if (report.rejected.length) this.emit('rejected', report.rejected);
    if (report.applied) this.emit('applied', report);
    if (partnersChanged) this.emit('partners');
  }

  // ---------------------------------------------------------------- sync queries

  /** Device-owned rows of `owner` stamped after `after` (8-byte HLC time), oldest first. */
  stateSince(model: string, owner: Id, after: Uint8Array | null, limit: number): StateRecord[] {
    const m = registry.deviceOwnedModel(model);
    return this.store.read((r) => m.stateSince(r, owner, after, limit));
  }

  /** Whether this device holds the row `rec` is a version of, at its stamp or a newer one. */
  holdsVersion(model: string, rec: StateRecord): boolean {
    const held = this.store.read((r) => registry.deviceOwnedModel(model).get(r, rec.uuid));
    return held !== null && compareHlc(held.hlc, rec.hlc) >= 0;
  }

  countStateSince(model: string, owner: Id, after: Uint8Array | null): number {
    const m = registry.deviceOwnedModel(model);
    return this.store.read((r) => m.countSince(r, owner, after));
  }

  /** Per origin: highest contiguous log seq held (and how much was pruned). */
  vector(): VersionVector {
    return this.store.read((r) => this.log.vector(r));
  }

  /** The version vector as sent on the wire: per origin, the contiguous seq held. */
  have(): { origin: Id; seq: number }[] {
    return [...this.vector().values()].map((v) => ({ origin: v.origin, seq: v.seq }));
  }

  /** Shared changes the holder of `have` (origin key → seq) lacks. */
  changesSince(have: ReadonlyMap<string, number>, limit: number): LogRead {
    return this.store.read((r) => this.log.since(r, have, limit));
  }

  /** Current shared rows (with per-field stamps and tombstones), for a snapshot when the log was pruned. */
  sharedRows(model: string, after: Id | null, limit: number): SharedRow[] {
    const m = registry.sharedModel(model);
    // Only the fields some change set (a row known from an update or a delete alone has no value for the others).
    return this.store.read((r) => m.rows(r, after, limit)).map(stampedOnly);
  }

  /**
   * What a snapshot of the shared rows served now reflects, per origin: the
   * contiguous vector, held below any change still parked here (it is in the
   * vector but not yet in its table).
   */
  snapshotBase(): { origin: Id; seq: number }[] {
    return this.store.read((r) => {
      const waiting = this.parking.waitingSeqs(r);
      return [...this.log.vector(r).values()].map((v) => ({ origin: v.origin, seq: baseSeq(v, waiting) }));
    });
  }

  /**
   * Merges shared rows from a peer's snapshot (per field, by stamp, like
   * changes). Bad rows are rejected one by one, stamps beyond the drift bound
   * refused; both reported, never thrown.
   */
  async applySnapshotRows(modelName: string, rows: readonly SharedRow[]): Promise<ApplyReport> {
    const model = registry.sharedModel(modelName);
    const report = new ApplyReport();
    // Member rows are folded from signed statements (applyMemberStatements), never taken as rows: no relay can vouch for one.
    if (model.name === 'member') return report;
    const { valid, newest } = this.admit(rows, (row) => checkSharedRow(model, row), () => model.name, report);
    await this.applyRemote(report, newest, false, (w) => {
      for (const row of valid) this.applier.mergeRow(w, model, row, report);
    });
    return report;
  }

  /**
   * Member statements from a peer's snapshot (its log no longer has them):
   * each verified like any change, kept (not logged: the snapshot's base
   * covers their place in the log), and the members folded again.
   */
  async applyMemberStatements(statements: readonly SharedChange[]): Promise<ApplyReport> {
    const report = new ApplyReport();
    const check = (ch: SharedChange) => {
      if (ch?.model !== 'member') throw new RecordFormatError(`a member statement must be a member change, not ${String(ch?.model)}`);
      return this.verified(ch);
    };
    const { valid, newest } = this.admit(statements, check, () => 'member', report);
    await this.applyRemote(report, newest, true, (w) => {
      const { kept, held, left } = keepLetIn(w, valid);
      report.shared.push(...kept);
      report.stale += held;
      report.deferred += left.length;
      report.unkept += left.length;
    });
    return report;
  }

  /** A page of the member statements held (for a peer's snapshot), by statement id. */
  memberStatements(after: Id | null, limit: number): { statements: SharedChange[]; ids: Id[]; hasMore: boolean } {
    return this.store.read((r) => statementsPage(r, after, limit));
  }

  /** This device's name as its device row has it (the host name until it has one). */
  deviceName(): string {
    const row = this.store.read((r) => registry.deviceOwnedModel('device').get(r, this.deviceId));
    return row && !row.deleted ? String(row.data.name) : os.hostname();
  }

  /** The devices this library's membership starts from (membership.ts); empty until pinned. */
  anchors(): Anchor[] {
    return this.store.read(readAnchors);
  }

  /**
   * Pins the library's anchors, as the inviter handed them at pairing
   * (never from sync). Only once: a library with anchors keeps them.
   */
  async pinAnchors(anchors: readonly Anchor[]): Promise<void> {
    if (anchors.length === 0) return;
    for (const a of anchors) {
      if (!isDeviceIdOf(a.device, a.publicKey)) throw new OwnershipError(`anchor ${idToString(a.device)}: its key is not the one its device id is made from`);
    }
    let partnersChanged = false;
    const report = new ApplyReport();
    await this.store.transaction((w) => {
      if (readAnchors(w).length) return;
      writeAnchors(w, anchors);
      partnersChanged = this.foldMembers(w, report);
    });
    if (report.applied) this.emit('applied', report);
    if (partnersChanged) this.emit('partners');
  }

  /**
   * Folds the member rows again from the anchors and statements (a
   * statement arrived or anchors were pinned), applies what waited for a
   * member, and makes the partners follow; true if the partners changed.
   */
  private foldMembers(w: Writer, report: ApplyReport): boolean {
    const membership = rebuildMembers(w);
    this.applier.releaseMembers(w, report);
    return reconcilePartners(w, this.deviceId, this.clock.last().ms, membership.mentioned);
  }

  /**
   * Every page of a snapshot reflecting `base` has been merged: the version
   * vector moves up to it, so catch-up asks the log only for what came after.
   */
  async adoptSnapshot(base: readonly { origin: Id; seq: number }[], heads: readonly SharedChange[]): Promise<{ unproven: Id[] }> {
    // This run's own origin is never in another device's base beyond what it numbered (its changes
    // reach others only from here), so adopting a base never touches the numbers it hands out.
    const { proven, unproven } = this.store.read((r) => this.proveBase(r, base.filter((b) => !idEquals(b.origin, this.origin)), heads));
    await this.store.transaction((w) => {
      this.log.adopt(w, proven.map((p) => ({ origin: p.hlc.device, seq: p.seq })));
      for (const head of proven) this.log.keepHead(w, head);
      w.run("DELETE FROM meta WHERE key = 'snapshot_wanted'");
    });
    return { unproven };
  }

  /**
   * The signed changes that prove a snapshot base (the change at each
   * origin's base seq), those this device holds: a base entry moves a
   * receiver's vector only as far as its origin's own signature shows it
   * wrote (DESIGN rule 12), so no partner can make another device's next
   * changes look stale by naming a higher seq.
   */
  snapshotHeads(base: readonly { origin: Id; seq: number }[], max = MAX_SNAPSHOT_HEADS): SharedChange[] {
    return this.store.read((r) => this.log.heads(r, base.filter((b) => b.seq > 0).slice(0, max)));
  }

  /** A change from a peer, checked (shape, writer, key) and its signature verified for this library; throws otherwise. */
  private verified(ch: SharedChange): SharedChange {
    const model = registry.sharedModel(ch?.model);
    const checked = checkSharedChange(model, ch);
    checkSignature(this.id, model, checked);
    return checked;
  }

  /** Splits a base into entries above what is held here that a valid head proves, and those it does not. */
  private proveBase(r: Reader, base: readonly { origin: Id; seq: number }[], heads: readonly SharedChange[]): { proven: SharedChange[]; unproven: Id[] } {
    const byOrigin = new Map<string, SharedChange>();
    for (const h of heads) if (h?.hlc?.device instanceof Uint8Array) byOrigin.set(idKey(h.hlc.device) + ':' + h.seq, h);
    const proven: SharedChange[] = [];
    const unproven: Id[] = [];
    for (const b of base) {
      if (b.seq <= this.log.contiguous(r, b.origin)) continue;
      const head = byOrigin.get(idKey(b.origin) + ':' + b.seq);
      try {
        if (!head) throw new OwnershipError('no signed change proves it');
        const checked = this.verified(head);
        if (!idEquals(checked.hlc.device, b.origin) || checked.seq !== b.seq) throw new OwnershipError('its proof is another change');
        proven.push(checked);
      } catch {
        unproven.push(b.origin);
      }
    }
    return { proven, unproven };
  }

  // ---------------------------------------------------------------- owner seals

  /** This device's seal of its own device-owned rows as they are now (null: it has none, or no key to sign with). */
  ownSeal(): OwnerSeal | null {
    return this.store.read((r) => this.proofs.ownSeal(r));
  }

  /**
   * Takes seals a partner sent: each is checked (an OwnershipError for one
   * not signed by its owner, the rest still taken) and kept if it is the
   * newest of its owner here.
   */
  async takeSeals(seals: readonly OwnerSeal[]): Promise<{ kept: number; refused: Error[] }> {
    const refused: Error[] = [];
    let kept = 0;
    if (seals.length === 0) return { kept, refused };
    const servableBefore = seals.map((x) => this.servable(x.owner));
    await this.store.transaction((w) => {
      for (const seal of seals) {
        try {
          if (this.proofs.take(w, seal)) kept++;
        } catch (e) {
          refused.push(e as Error);
        }
      }
    });
    const proven = seals.filter((x, i) => !servableBefore[i] && this.servable(x.owner)).map((x) => x.owner);
    if (proven.length) this.emit('proven', proven);
    return { kept, refused };
  }

  /** Whether what is held of `owner`'s rows is exactly what it sealed, and since when. */
  ownerProof(owner: Id): OwnerProof {
    return this.store.read((r) => this.proofs.proof(r, owner));
  }

  /** The same for every owner with rows or a seal here. */
  ownerProofs(): OwnerProof[] {
    return this.store.read((r) => this.proofs.proofs(r));
  }

  /** Seals to give a partner: this device's own, and the newest of every other device held. */
  sealsToShare(): OwnerSeal[] {
    return this.store.read((r) => this.proofs.sealsToShare(r));
  }

  /**
   * Whether this device can vouch for `owner`'s rows, sending the owner's
   * seal with them: its own always; another's only while what it holds of
   * them is exactly what that owner sealed.
   */
  servable(owner: Id): boolean {
    return idEquals(owner, this.deviceId) || this.ownerProof(owner).state === 'verified';
  }

  /** The partners that relayed rows of `owner` here since they last matched its seal; null if some did before this run (not known which). */
  relaysSinceSealed(owner: Id): Id[] | null {
    const k = idKey(owner);
    if (this.relaysUnknown.has(k)) return null;
    return [...(this.relays.get(k)?.values() ?? [])];
  }

  /**
   * What is held of `owner`'s rows is not what it sealed: back to the rows
   * that last matched its seal here (or none, never sealed here), with the
   * watermarks, so a catch-up from another partner brings the rest again
   * (owner-undo.ts). Returns whether there was such a seal.
   */
  async rollBack(owner: Id): Promise<boolean> {
    if (idEquals(owner, this.deviceId)) throw new Error('a device never rolls back its own rows');
    let sealed = false;
    try {
      await this.store.transaction((w) => {
        const newest = this.proofs.sealedNewest(w, owner);
        sealed = newest !== null;
        this.undo.rollBack(w, owner, newest);
      });
    } finally {
      this.parking.invalidate();
    }
    this.relays.delete(idKey(owner));
    this.relaysUnknown.delete(idKey(owner));
    return sealed;
  }

  /**
   * `owner`'s rows as they were when they last matched its seal here (its
   * newest or an older one), to serve to that owner itself; null if they
   * never matched or cannot be rebuilt (sealed-rows.ts).
   */
  sealedRows(owner: Id): SealedRows | null {
    return this.store.read((r) => {
      const seal = this.proofs.verifiedSeal(r, owner);
      if (!seal) return null;
      const undone = r.value('SELECT count(*) FROM owner_undo WHERE owner = ?', [owner]);
      const key = `${toHex(seal.signature)}/${undone}/${readOwnerStatesOf(r, owner).map((s) => toHex(s.sum)).join(',')}`;
      const k = idKey(owner);
      const cached = this.sealedCache.get(k);
      if (cached?.key === key) return cached.set;
      const set = sealedRowsOf(r, registry, this.undo, owner, seal);
      if (this.sealedCache.size >= 16) this.sealedCache.clear();
      this.sealedCache.set(k, { key, set });
      return set;
    });
  }

  /** The sealed set's rows of `model` stamped after `after` (8-byte HLC time), oldest first. */
  sealedStateSince(set: SealedRows, model: string, after: Uint8Array | null, limit: number): StateRecord[] {
    return this.store.read((r) => sealedSince(r, registry.deviceOwnedModel(model), set, after, limit));
  }

  countSealedStateSince(set: SealedRows, model: string, after: Uint8Array | null): number {
    return this.store.read((r) => countSealedSince(r, registry.deviceOwnedModel(model), set, after));
  }

  /**
   * Whether `seal` is one of this device's own made by a copy of its data
   * this one is not (a restore from an older copy, or a re-join), and what
   * it holds now is not that seal's rows: it lost rows that seal has, and
   * takes them back (Backfill.pullOwn). Checks the seal's signature
   * (throws OwnershipError).
   */
  lostOwnSeal(seal: OwnerSeal): boolean {
    if (!idEquals(seal.owner, this.deviceId)) return false;
    if (!this.ownSeals.lost(seal, () => matches(this.store.read((r) => stateOf(readOwnerStatesOf(r, this.deviceId))), seal))) return false;
    checkSeal(this.id, seal);
    return true;
  }

  /**
   * While recovering rows of its own these lost seals (lostOwnSeal) may
   * have: the stamps such rows can have (after the earliest of their gaps'
   * starts, up to this run's open; own-seal-history.ts). Rows of its own a
   * partner holds in it that no seal it can show covers are taken back on
   * that partner's word (Backfill.pullOwn). (Not bounded by the newest row
   * a lost seal names: the seal of the rows a restored device lost may
   * never have reached a partner whole, nor be kept once it seals again;
   * the simulator found such rows.)
   */
  recoveryWindow(seals: readonly OwnerSeal[]): { after: Uint8Array; through: Uint8Array } | null {
    return this.ownSeals.window(seals);
  }

  /** Seals this device's own rows as they are in the transaction `w`, and records when (own-seal-history.ts). */
  private sealOwn(w: Writer): void {
    this.ownSeals.sealed(w, this.proofs.ownSeal(w)?.sealedAt ?? null);
  }

  /** These lost seals' rows were taken back from a partner: they are not asked for again. */
  async recovered(seals: readonly OwnerSeal[]): Promise<void> {
    await this.store.transaction((w) => this.ownSeals.recover(w, seals));
  }

  /** Whether records of `owner` wait here for a parent (then what is held of it is not all that was received). */
  hasParked(owner: Id): boolean {
    return this.store.read((r) => registry.deviceOwned.some((m) => this.parking.oldestStamp(r, owner, m.name) !== null));
  }

  /** The seal to send with `owner`'s rows: this device's own, or the owner's when its rows are verified here; else null. */
  sealFor(owner: Id): OwnerSeal | null {
    if (idEquals(owner, this.deviceId)) return this.ownSeal();
    const p = this.ownerProof(owner);
    return p.state === 'verified' ? p.seal : null;
  }

  /** Per (owner, model): the newest owner stamp received with nothing missing below it. */
  watermark(owner: Id, model: string): Uint8Array | null {
    const v = this.store.read((r) => r.value('SELECT hlc FROM state_watermark WHERE owner = ? AND model = ?', [owner, model]));
    return v instanceof Uint8Array ? v : null;
  }

  /**
   * Up to which stamp every row of `owner`'s `model` is here and can be
   * served: all of this device's own; for others, the watermark, but never
   * at or past a row that is still parked (waiting for its parent, it is
   * not served, so a device pulling from here must ask for it again).
   */
  completeThrough(owner: Id, model: string): Uint8Array | null {
    if (idEquals(owner, this.deviceId)) {
      const m = registry.deviceOwnedModel(model);
      return this.store.read((r) => m.newestStamp(r, owner));
    }
    const mark = this.watermark(owner, model);
    if (!mark) return null;
    const parked = this.store.read((r) => this.parking.oldestStamp(r, owner, model));
    if (!parked || compareBytes(parked, mark) > 0) return mark;
    return justBefore(parked);
  }

  /**
   * `owner` says the newest of its own `model` rows is `newest` (null: it
   * has none): if every one of them up to there is here, its records still
   * waiting here for a row of that model wait for one its owner no longer
   * has (it went back to an older copy of its data after they left it), and
   * are dropped: those stamped up to `asOf`, the newest stamp of the
   * owner's statement (a later one may wait for a row made after it).
   * The watermarks go back to before the dropped rows: should the owner
   * take the parent back (from a peer that kept it), they are fetched
   * again. Returns how many.
   */
  async dropOrphans(owner: Id, model: string, newest: Uint8Array | null, asOf: Uint8Array): Promise<number> {
    if (idEquals(owner, this.deviceId) || this.parkedCount() === 0) return 0;
    const mark = this.watermark(owner, model);
    if (newest && (!mark || compareBytes(mark, newest) < 0)) return 0;
    return this.store.transaction((w) => {
      const { dropped, oldest } = this.parking.dropOrphans(w, owner, model, asOf);
      // The watermark passed them while they waited: it goes back to before them, so they are asked for again if their parent comes back.
      for (const [m, stamp] of oldest) {
        const before = justBefore(stamp);
        if (before) w.run('UPDATE state_watermark SET hlc = ? WHERE owner = ? AND model = ? AND hlc > ?', [before, owner, m, before]);
        else w.run('DELETE FROM state_watermark WHERE owner = ? AND model = ?', [owner, m]);
      }
      return dropped;
    });
  }

  /** Records that `owner`'s `model` rows up to `hlc` (8-byte time) are all here. Only moves forward. */
  async setWatermark(owner: Id, model: string, hlc: Uint8Array): Promise<void> {
    registry.deviceOwnedModel(model);
    await this.store.transaction((w) => this.raiseWatermark(w, owner, model, hlc));
  }

  private raiseWatermark(w: Writer, owner: Id, model: string, hlc: Uint8Array): void {
    w.run(
      'INSERT INTO state_watermark (owner, model, hlc) VALUES (?, ?, ?) ON CONFLICT(owner, model) DO UPDATE SET hlc = excluded.hlc WHERE excluded.hlc > state_watermark.hlc',
      [owner, model, hlc],
    );
  }

  // ---------------------------------------------------------------- backfill and resync

  /** This device has completed a backfill since it joined (or since the last full resync). */
  get backfilled(): boolean {
    return this.meta('backfilled') === 1;
  }

  async markBackfilled(): Promise<void> {
    await this.store.transaction((w) => w.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('backfilled', 1)"));
  }

  /** The next shared catch-up starts with a snapshot of a partner's shared rows (set by a resync). */
  snapshotWanted(): boolean {
    return this.meta('snapshot_wanted') === 1;
  }

  /**
   * Full resync: every device-owned checkpoint goes back to the start and the
   * shared rows are merged again from a snapshot, so anything missed or lost
   * is fetched again. Durable: a restart resumes it. Nothing is deleted
   * (merges are idempotent).
   */
  async requestResync(): Promise<void> {
    await this.store.transaction((w) => {
      w.run('DELETE FROM state_watermark');
      w.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('snapshot_wanted', 1)");
      w.run("DELETE FROM meta WHERE key = 'backfilled'");
    });
  }

  /** Per (owner, device-owned model): the newest stamp held here. */
  newestStamps(): { owner: Id; model: string; hlc: Uint8Array }[] {
    return this.ownerStates().flatMap((s) => (s.newest ? [{ owner: s.owner, model: s.model, hlc: s.newest }] : []));
  }

  /** Per shared model held here: rows and their sum (models/shared-state.ts). */
  sharedStates(): SharedState[] {
    return this.store.read((r) => readSharedStates(r));
  }

  /** Per (owner, device-owned model) held here: rows, newest stamp and their sum (models/owner-state.ts). */
  ownerStates(): OwnerState[] {
    return this.store.read((r) => readOwnerStates(r));
  }

  /**
   * Resolves once everything committed so far is durable; rejects if the
   * journal failed. Anything read before the call may leave the device
   * once this resolves (DESIGN rule 11).
   */
  durable(): Promise<void> {
    return this.store.whenDurable();
  }

  /** Why the journal failed (null while it works). */
  get failed(): Error | null {
    return this.failure;
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.emit('failed', e);
  }

  // ---------------------------------------------------------------- partners, acks, pruning

  async addPartner(device: Id, name: string | null = null, publicKey: Uint8Array | null = null): Promise<void> {
    const now = this.clock.now().ms;
    await this.store.transaction((w) => writePartner(w, device, name, publicKey, now));
    this.emit('partners');
  }

  async removePartner(device: Id): Promise<void> {
    await this.store.transaction((w) => deletePartner(w, device));
    this.emit('partners');
  }

  /** The library's members (paired devices), live and unpaired. */
  members(): Member[] {
    return this.store.read(readMembers);
  }

  /**
   * Records a device as paired into the library with its network key; every
   * partner learns of it through sync and admits it. Pairing again (a new
   * key, or after an unpair) is allowed: it is a later create.
   */
  async addMember(m: { device: Id; publicKey: Uint8Array; name: string }): Promise<void> {
    if (m.publicKey.byteLength !== 32) throw new Error('A member needs a 32-byte public key');
    // The first member statement of a library no one paired into yet: this device founds its membership.
    const unanchored = this.store.read((r) => readAnchors(r).length === 0 && !hasStatements(r));
    if (unanchored && this.signsAsItself) await this.pinAnchors([{ device: this.deviceId, publicKey: this.keyPair.publicKey, name: this.deviceName() }]);
    await this.write((tx) => tx.create('member', { device: m.device, public_key: toHex(m.publicKey), name: m.name }));
  }

  /**
   * Unpairs a device: its member row is deleted, so every partner drops it
   * and refuses its connections. Unpairing this device itself leaves the
   * library (it keeps its data, no one syncs with it).
   */
  async unpair(device: Id): Promise<void> {
    const live = this.members().find((m) => idEquals(m.device, device) && m.live);
    if (live) await this.write((tx) => tx.delete('member', memberId(device)));
    else if (this.partners().some((p) => idEquals(p.device, device))) await this.removePartner(device);
    else throw new NotFoundError(`Device ${idToString(device)} is not paired with library ${idToString(this.id)}`);
  }

  /** Devices this one syncs with; `publicKey`: the network key each was paired with (null: not reachable over the network). */
  partners(): { device: Id; name: string | null; publicKey: Uint8Array | null; addedAt: number; lastSeen: number | null }[] {
    return this.store.read((r) =>
      r.rows('SELECT device, name, public_key, added_at, last_seen FROM partner ORDER BY added_at').map(([d, n, k, a, s]) => ({
        device: d as Uint8Array,
        name: n as string | null,
        publicKey: k as Uint8Array | null,
        addedAt: a as number,
        lastSeen: s as number | null,
      })),
    );
  }

  /** Records a partner's acknowledgement: it holds each origin's changes up to seq. */
  async recordAcks(partner: Id, acks: ReadonlyMap<string, { origin: Id; seq: number }> | readonly { origin: Id; seq: number }[]): Promise<void> {
    const list: readonly { origin: Id; seq: number }[] = isList(acks) ? acks : [...acks.values()];
    const now = this.clock.now().ms;
    await this.store.transaction((w) => {
      for (const a of list) this.log.recordAck(w, partner, a.origin, a.seq);
      this.touchPartner(w, partner, now);
    });
  }

  /**
   * Prunes log entries every partner has acked. With `absentAfterMs`, a
   * partner not heard from for that long does not hold the log back (it gets
   * a snapshot when it returns). Returns how many entries were removed.
   */
  async prune(opts: { absentAfterMs?: number } = {}): Promise<number> {
    const absentSince = opts.absentAfterMs === undefined || !Number.isFinite(opts.absentAfterMs) ? -Infinity : this.clock.now().ms - opts.absentAfterMs;
    return this.store.transaction((w) => this.log.prune(w, this.parking.waitingSeqs(w), absentSince));
  }

  /** A partner was heard from (a link came up, an ack arrived). */
  async partnerSeen(device: Id): Promise<void> {
    const now = this.clock.now().ms;
    await this.store.transaction((w) => this.touchPartner(w, device, now));
  }

  private touchPartner(w: Writer, device: Id, now: number): void {
    w.run('UPDATE partner SET last_seen = max(coalesce(last_seen, 0), ?) WHERE device = ?', [now, device]);
  }

  // ---------------------------------------------------------------- inspection

  /** A hash of every replicated row (ids, stamps, values, tombstones) in a canonical order. */
  digest(): string {
    const h = createHash('sha256');
    this.store.read((r) => {
      for (const m of registry.all) {
        h.update(`#${m.name}\n`);
        digestModel(m, r, (chunk) => h.update(chunk));
      }
    });
    return h.digest('hex');
  }

  /**
   * The same digest, read in pages with a turn of the event loop between
   * them, so that a big library does not stall sync (heartbeats) while it
   * is computed. Writes that land meanwhile may be in it or not.
   */
  async digestAsync(pageRows = 5000): Promise<string> {
    const h = createHash('sha256');
    for (const m of registry.all) {
      h.update(`#${m.name}\n`);
      let after: Id | null = null;
      do {
        const from: Id | null = after;
        after = this.store.read((r) => m.digestPage(r, from, pageRows, (chunk) => h.update(chunk)));
        if (after) await new Promise<void>((resolve) => setImmediate(resolve));
      } while (after);
    }
    return h.digest('hex');
  }

  counts(): Record<string, number> {
    return this.store.read((r) => Object.fromEntries(registry.all.map((m) => [m.name, m.count(r)])));
  }

  parkedCount(): number {
    return this.store.read((r) => this.parking.size(r));
  }

  /** Records that may wait for their parent at once. */
  get parkedLimit(): number {
    return this.parking.max;
  }

  get parkedLimitPerPartner(): number {
    return this.parking.maxPerSender;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await (this.snapshotOnClose ? this.store.close() : this.store.closeWithoutSnapshot());
  }
}

/** A snapshot row with only the fields that carry a stamp. */
function stampedOnly(row: SharedRow): SharedRow {
  const data: RecordData = {};
  const fieldHlcs: Record<string, Hlc | null> = {};
  for (const [k, h] of Object.entries(row.fieldHlcs)) {
    if (!h) continue;
    fieldHlcs[k] = h;
    data[k] = row.data[k] ?? null;
  }
  return { ...row, data, fieldHlcs };
}

function isList<T>(x: ReadonlyMap<string, T> | readonly T[]): x is readonly T[] {
  return Array.isArray(x);
}

function touchesMembers(changes: readonly { model: string }[]): boolean {
  return changes.some((c) => c.model === 'member');
}

function countState(c: Committed): number {
  let n = 0;
  for (const rs of c.state.values()) n += rs.length;
  return n;
}

/**
 * A removed location never comes back (issue 11, defect 4): this device
 * writes neither its row nor entries into it again (indexing the folder
 * again makes a new location). Remembers, per local transaction, what it
 * looked up: an indexing batch puts thousands of entries of one location.
 */
class RemovedLocations {
  private readonly known = new Map<string, boolean>();

  constructor(private readonly r: Reader) {}

  /** Throws a NotFoundError if a put of `model` row `uuid` with `data` would write a removed location. */
  refuse(model: string, uuid: Id, data: RecordData): void {
    if (model === 'location' && this.isRemoved(uuid)) {
      throw new NotFoundError(`location ${idToString(uuid)} was removed; a removed location never comes back (index the folder again to add it as a new location)`);
    }
    if (model === 'entry' && data.location instanceof Uint8Array && this.isRemoved(data.location)) {
      throw new NotFoundError(`location ${idToString(data.location)} was removed; no entry is written into it`);
    }
  }

  add(location: Id): void {
    this.known.set(idKey(location), true);
  }

  private isRemoved(location: Id): boolean {
    const k = idKey(location);
    let removed = this.known.get(k);
    if (removed === undefined) this.known.set(k, (removed = this.r.value('SELECT deleted FROM location WHERE uuid = ?', [location]) === 1));
    return removed;
  }
}

function describeParent(model: DeviceOwnedModel, data: RecordData): string {
  for (const f of model.fields) if (f.identity && data[f.name] instanceof Uint8Array) return `${f.name} ${idToString(data[f.name] as Id)}`;
  return 'its parent';
}

async function openStore(dir: string, opts: LibraryOptions): Promise<Store> {
  return Store.open({ dir, migrations: MIGRATIONS, snapshotJournalBytes: opts.snapshotJournalBytes, onEvent: opts.onStoreEvent, journalIo: opts.journalIo });
}

