/**
 * Applying records to the database: the one path that both local commits and
 * remote changes go through, with parking, unparking and cascades.
 */
import { checkData, RecordFormatError, type FieldSpec, type RecordData } from '../models/fields';
import type { DeviceOwnedModel, Model, ParentRef, SharedChange, SharedModel, SharedRow, StateRecord } from '../models/model';
import type { Reader, Writer } from '../store';
import { ClockDriftError, encodeHlcTime, validateHlc } from '../core/hlc';
import { idEquals, idToString, INCARNATION_BYTES, isId, originId, type Id } from '../core/ids';
import { OwnershipError } from '../models/errors';
import { isDeviceIdOf, SIGNATURE_BYTES, verify } from '../core/signing';
import { changeSigningBytes } from './records';
import { checkMemberChange, memberId } from './members';
import { isLetIn, keepStatement } from './member-statements';
import type { Parking } from './parking';
import type { OwnerUndo } from './owner-undo';
import type { PeerLog } from './peer-log';
import type { Registry } from './registry';
import { entry, member } from '../models/catalog';

export interface Rejection {
  model: string;
  uuid: Id | null;
  error: Error;
}

/** What one apply did; also what the engine reports in events. */
export class ApplyReport {
  /** Applied device-owned state, per model, in order. */
  readonly state = new Map<string, StateRecord[]>();
  /** Applied shared changes, in order. */
  readonly shared: SharedChange[] = [];
  stale = 0;
  parked = 0;
  /**
   * Records not applied because they would have waited for their parent
   * while as many records as allowed wait already: not applied, not logged,
   * no watermark moved past them; a later catch-up fetches them again.
   */
  deferred = 0;
  /** Of those, deferred because the partner that sent them has as many records waiting as one partner may. */
  overSenderLimit = 0;
  /** Of those, member statements not kept (membership.ts): their author is let in by nothing held yet. */
  unkept = 0;
  readonly rejected: Rejection[] = [];
  /** Seals that came with device-owned rows and are not signed by their owner (engine/owner-seals.ts). */
  readonly badSeals: Error[] = [];
  /** Stamps refused for being too far ahead of this device's clock. */
  readonly refused: ClockDriftError[] = [];
  /** Shared rows merged from a snapshot, per model. */
  readonly rows = new Map<string, SharedRow[]>();

  get applied(): number {
    let n = this.shared.length;
    for (const rs of this.rows.values()) n += rs.length;
    for (const rs of this.state.values()) n += rs.length;
    return n;
  }

  addState(model: string, records: readonly StateRecord[]): void {
    if (records.length === 0) return;
    const list = this.state.get(model);
    if (list) list.push(...records);
    else this.state.set(model, [...records]);
  }
}

const identityFields = new WeakMap<DeviceOwnedModel, readonly FieldSpec[]>();
function identityOf(model: DeviceOwnedModel): readonly FieldSpec[] {
  let fields = identityFields.get(model);
  if (!fields) identityFields.set(model, (fields = model.fields.filter((f) => f.identity)));
  return fields;
}

/** Checks a device-owned record's shape (not its ownership). */
export function checkStateRecord(model: DeviceOwnedModel, rec: StateRecord): StateRecord {
  if (!rec || typeof rec !== 'object') throw new RecordFormatError(`${model.name}: record must be an object`);
  if (!isId(rec.uuid)) throw new RecordFormatError(`${model.name}: uuid must be a 16-byte id`);
  validateHlc(rec.hlc);
  if (typeof rec.deleted !== 'boolean') throw new RecordFormatError(`${model.name}: deleted must be true or false`);
  const data = rec.deleted
    ? checkData(model.name, identityOf(model), pick(rec.data, identityOf(model)), true)
    : checkData(model.name, model.fields, rec.data, true);
  return data === rec.data ? rec : { uuid: rec.uuid, hlc: rec.hlc, deleted: rec.deleted, data };
}

/** Checks a shared change's shape: identity fields only on create, all required fields on create, nothing on delete. */
export function checkSharedChange(model: SharedModel, ch: SharedChange): SharedChange {
  if (!ch || typeof ch !== 'object') throw new RecordFormatError(`${model.name}: change must be an object`);
  if (!isId(ch.uuid)) throw new RecordFormatError(`${model.name}: uuid must be a 16-byte id`);
  validateHlc(ch.hlc);
  if (!Number.isSafeInteger(ch.seq) || ch.seq < 1) throw new RecordFormatError(`${model.name}: seq must be a positive integer`);
  if (!isId(ch.device)) throw new RecordFormatError(`${model.name}: device must be a 16-byte id`);
  if (!(ch.incarnation instanceof Uint8Array) || (ch.incarnation.length !== 0 && ch.incarnation.length !== INCARNATION_BYTES))
    throw new RecordFormatError(`${model.name}: incarnation must be ${INCARNATION_BYTES} bytes (or none)`);
  if (!idEquals(ch.hlc.device, originId(ch.device, ch.incarnation))) {
    throw new OwnershipError(`${model.name} change ${idToString(ch.uuid)}: its origin is not one of device ${idToString(ch.device)}, which it names as its writer`);
  }
  if (!(ch.signature instanceof Uint8Array) || ch.signature.length !== SIGNATURE_BYTES) throw new RecordFormatError(`${model.name}: signature must be ${SIGNATURE_BYTES} bytes`);
  if (!(ch.publicKey instanceof Uint8Array) || !isDeviceIdOf(ch.device, ch.publicKey)) {
    throw new OwnershipError(`${model.name} change ${idToString(ch.uuid)}: the key it carries is not device ${idToString(ch.device)}'s`);
  }
  let data: RecordData;
  switch (ch.op) {
    case 'create': {
      data = checkData(model.name, model.fields, ch.data, false);
      for (const f of model.fields) {
        if (!f.nullable && data[f.name] === undefined) throw new RecordFormatError(`${model.name}: create needs ${f.name}`);
      }
      const derived = model.derivedId(data);
      if (derived && !idEquals(derived, ch.uuid)) throw new RecordFormatError(`${model.name}: id does not match the item it points at`);
      break;
    }
    case 'update':
      data = checkData(model.name, model.fields, ch.data, false);
      for (const f of model.fields) {
        if (f.identity && data[f.name] !== undefined) throw new RecordFormatError(`${model.name}: ${f.name} cannot be changed by an update`);
      }
      break;
    case 'delete':
      data = checkData(model.name, model.fields, ch.data ?? {}, false);
      // An unpair names the statements its author had seen (membership.ts); any other delete carries nothing.
      if (Object.keys(data).some((f) => !(model.name === 'member' && f === 'after'))) throw new RecordFormatError(`${model.name}: a delete carries no fields`);
      break;
    default:
      throw new RecordFormatError(`${model.name}: unknown operation ${JSON.stringify(ch.op)}`);
  }
  if (model.name === 'member') checkMemberChange(ch.op, ch.uuid, ch.device, data);
  return { model: model.name, uuid: ch.uuid, hlc: ch.hlc, seq: ch.seq, op: ch.op, device: ch.device, incarnation: ch.incarnation, publicKey: ch.publicKey, signature: ch.signature, data };
}

/** Throws OwnershipError unless `ch` (already shape-checked) is signed by the key it carries, for this library. */
export function checkSignature(libraryId: Id, model: SharedModel, ch: SharedChange): void {
  if (!verify(ch.publicKey, changeSigningBytes(libraryId, model, ch), ch.signature)) {
    throw new OwnershipError(`${model.name} change ${idToString(ch.uuid)} claims to be written by device ${idToString(ch.device)}, but its signature does not verify`);
  }
}

/**
 * Checks a snapshot row's shape: valid stamps, and the values of the fields
 * it has stamps for (only those are merged). Returns the row with only those.
 */
export function checkSharedRow(model: SharedModel, row: SharedRow): SharedRow {
  if (!row || typeof row !== 'object') throw new RecordFormatError(`${model.name}: row must be an object`);
  if (!isId(row.uuid)) throw new RecordFormatError(`${model.name}: uuid must be a 16-byte id`);
  validateHlc(row.hlc);
  if (row.createdHlc) validateHlc(row.createdHlc);
  if (row.deletedHlc) validateHlc(row.deletedHlc);
  const stamped: RecordData = {};
  const fieldHlcs: Record<string, SharedRow['hlc'] | null> = {};
  for (const f of model.fields) {
    const h = row.fieldHlcs?.[f.name];
    if (!h) continue;
    validateHlc(h);
    fieldHlcs[f.name] = h;
    stamped[f.name] = row.data?.[f.name] ?? null;
  }
  const data = checkData(model.name, model.fields, stamped, false);
  // Identity fields are set by the create; a row only ever updated has none yet.
  const derived = row.createdHlc ? model.derivedId(data) : null;
  if (derived && !idEquals(derived, row.uuid)) throw new RecordFormatError(`${model.name}: id does not match the item it points at`);
  return { uuid: row.uuid, hlc: row.hlc, live: row.live, createdHlc: row.createdHlc ?? null, deletedHlc: row.deletedHlc ?? null, data, fieldHlcs };
}

function pick(data: RecordData | undefined, fields: readonly FieldSpec[]): RecordData {
  const out: RecordData = {};
  for (const f of fields) if (data && data[f.name] !== undefined) out[f.name] = data[f.name];
  return out;
}

/** Models that other models' records can wait for. */
function isParentModel(registry: Registry, name: string): boolean {
  return registry.all.some((m) => m.dependsOn.includes(name as never));
}

export class Applier {
  private readonly parents: Set<string>;
  /** The partner whose records are being applied (null: this device's own, or released ones); set by Library around an apply. */
  sender: Id | null = null;
  /** Keeps what relayed rows replace, to put back if they prove not to be what their owner sealed (set by Library). */
  undo: OwnerUndo | null = null;

  constructor(
    registry: Registry,
    private readonly log: PeerLog,
    private readonly parking: Parking,
    /** This device (its own rows need no membership). */
    private readonly self: Id,
  ) {
    // Member rows release the device rows that waited for their device to be paired.
    this.parents = new Set([...registry.all.filter((m) => isParentModel(registry, m.name)).map((m) => m.name), 'member']);
  }

  /** Applies already-validated device-owned state. */
  applyState(w: Writer, model: DeviceOwnedModel, records: readonly StateRecord[], report: ApplyReport): void {
    this.undo?.record(w, model, records);
    // In a library paired by invite, a device's own row (the root of all it owns) is taken only for a device of
    // the library: this one, a partner, or one with a member record. A stranger's waits for its member record
    // (bounded as any parked record), so no relay can fill the library with made-up devices (each named in every Hello).
    const waiting: { record: StateRecord; parent: ParentRef }[] = [];
    if (model.name === 'device') {
      const known: StateRecord[] = [];
      for (const rec of records) {
        if (this.inLibrary(w, rec.hlc.device)) known.push(rec);
        else waiting.push({ record: rec, parent: { model: 'member', uuid: memberId(rec.hlc.device) } });
      }
      records = known;
    }
    const res = model.applyState(w, records);
    report.stale += res.stale;
    for (const { record, parent } of [...waiting, ...res.parked]) {
      if (this.mayNotWait(w, report)) continue;
      this.parking.parkState(w, model, record, parent, this.sender);
      report.parked++;
    }
    for (const { record, error } of res.rejected) report.rejected.push({ model: model.name, uuid: record.uuid, error });
    report.addState(model.name, res.applied);
    if (model.name === 'location') {
      for (const rec of res.applied) if (rec.deleted) entry.purgeLocation(w, rec.uuid, encodeHlcTime(rec.hlc));
    }
    this.release(w, model, res.applied.map((r) => r.uuid), report);
  }

  /**
   * True (and counted as deferred) if one more record may not wait for its
   * parent: the room for all is full, or the partner that sent it has its
   * share of it (then a lying partner cannot crowd out everyone else's).
   */
  private mayNotWait(w: Writer, report: ApplyReport): boolean {
    const over = this.parking.fullFor(w, this.sender);
    if (!over && !this.parking.full(w)) return false;
    report.deferred++;
    if (over) report.overSenderLimit++;
    return true;
  }

  /**
   * Whether `device` is this one, a partner, or has a member record (live or
   * unpaired). A library with no member record at all (never paired by
   * invite: one device, or partners added directly as the in-memory demo
   * and tests do) takes every device.
   */
  private inLibrary(r: Reader, device: Id): boolean {
    return (
      idEquals(device, this.self) ||
      r.value('SELECT 1 FROM member LIMIT 1') === undefined ||
      r.value('SELECT 1 FROM partner WHERE device = ?', [device]) !== undefined ||
      r.value('SELECT 1 FROM member WHERE uuid = ?', [memberId(device)]) !== undefined
    );
  }

  /**
   * Applies a validated shared change. `logged`: it is already in the peer
   * log (a local change, or one released from parking).
   */
  applyChange(w: Writer, model: SharedModel, ch: SharedChange, report: ApplyReport, logged: boolean): void {
    const parent = model.parentOf(ch);
    const table = model.parentTable();
    const waits = !!parent && !!table && w.value(`SELECT 1 FROM ${table} WHERE uuid = ?`, [parent.uuid]) === undefined;
    // Checked before it is logged: a change that cannot wait must not count as received.
    if (waits && !logged && !this.log.holds(w, ch) && this.mayNotWait(w, report)) return;
    // A member statement that cannot be kept (its author is let in by nothing held here yet) is not
    // logged either: catch-up fetches it again, so a device never holds in its log what it does not fold.
    if (model.name === 'member' && !logged && !this.log.holds(w, ch) && !isLetIn(w, ch.device)) {
      report.deferred++;
      report.unkept++;
      return;
    }
    if (!logged && !this.log.append(w, ch)) {
      report.stale++;
      return;
    }
    if (model.name === 'member') {
      // A statement: the member rows are folded from all of them (Library.rebuildMembers, in this transaction).
      keepStatement(w, ch);
      report.shared.push(ch);
      return;
    }
    if (waits) {
      this.parking.parkChange(w, model, ch, parent!, logged ? null : this.sender);
      report.parked++;
      return;
    }
    if (model.applyChange(w, ch)) report.shared.push(ch);
    else report.stale++;
    this.release(w, model, [ch.uuid], report);
  }

  /** After the members were folded again: what waited for a live member (a device row of a device now paired) applies. */
  releaseMembers(w: Writer, report: ApplyReport): void {
    const live = w.rows('SELECT uuid FROM member WHERE live = 1').map((row) => row[0] as Uint8Array);
    this.release(w, member, live, report);
  }

  /** Merges a validated snapshot row, then applies what waited for it. */
  mergeRow(w: Writer, model: SharedModel, row: SharedRow, report: ApplyReport): void {
    if (model.mergeRow(w, row)) {
      const list = report.rows.get(model.name);
      if (list) list.push(row);
      else report.rows.set(model.name, [row]);
    } else report.stale++;
    this.release(w, model, [row.uuid], report);
  }

  private release(w: Writer, model: Model, uuids: readonly Id[], report: ApplyReport): void {
    if (!this.parents.has(model.name) || uuids.length === 0 || this.parking.size(w) === 0) return;
    // What waited and waits again is nobody's new record: not counted against the partner applying now.
    const sender = this.sender;
    this.sender = null;
    try {
      this.releaseEach(w, model, uuids, report);
    } finally {
      this.sender = sender;
    }
  }

  private releaseEach(w: Writer, model: Model, uuids: readonly Id[], report: ApplyReport): void {
    for (const uuid of uuids) {
      const waiting = this.parking.release(w, model.name, uuid);
      if (waiting.length === 0) continue;
      const states = new Map<DeviceOwnedModel, StateRecord[]>();
      for (const p of waiting) {
        if ('record' in p) {
          const list = states.get(p.model) ?? [];
          list.push(p.record);
          states.set(p.model, list);
        } else {
          this.applyChange(w, p.model, p.change, report, true);
        }
      }
      for (const [m, recs] of states) this.applyState(w, m, recs, report);
    }
  }
}
