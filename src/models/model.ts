/**
 * What every syncable model declares about itself. The engine's registry
 * holds one of these per model and dispatches everything through it.
 */
import type { Reader, SqlValue, Writer } from '../store';
import { canonical } from './sql';
import type { Hlc } from '../core/hlc';
import type { Id } from '../core/ids';
import type { DataCodec, FieldSpec, RecordData } from './fields';
import type { SharedState } from './shared-state';

export type ModelKind = 'device-owned' | 'shared';

export type ModelName =
  | 'device'
  | 'volume'
  | 'location'
  | 'entry'
  | 'tag'
  | 'album'
  | 'user_metadata'
  | 'tag_assignment'
  | 'album_item'
  | 'member';

/** The state of one device-owned row, as its owner last wrote it. */
export interface StateRecord {
  readonly uuid: Id;
  /** The owner's version stamp; `hlc.device` is the owning device. */
  readonly hlc: Hlc;
  readonly deleted: boolean;
  /** All fields for a live row; only identity fields for a tombstone. */
  readonly data: RecordData;
}

export type SharedOp = 'create' | 'update' | 'delete';

/** One change to a shared row, as written to the peer log. */
export interface SharedChange {
  readonly model: ModelName;
  readonly uuid: Id;
  /** The change's stamp; `hlc.device` is its log origin, originId(device, incarnation). */
  readonly hlc: Hlc;
  /** Position in the origin's peer log: 1, 2, 3, … with no gaps. */
  readonly seq: number;
  /** The device that wrote it. */
  readonly device: Id;
  /** Which run of that device wrote it (INCARNATION_BYTES random bytes; empty: the device id is the origin). */
  readonly incarnation: Uint8Array;
  /** The writing device's public key: `device` is derived from it (core/signing.ts). */
  readonly publicKey: Uint8Array;
  /** Its Ed25519 signature, by `publicKey`, of everything else in the change and the library id (engine/records.ts changeSigningBytes). */
  readonly signature: Uint8Array;
  readonly op: SharedOp;
  /** create: the fields it sets (identity fields required); update: changed fields; delete: {}. */
  readonly data: RecordData;
}

/** A record that cannot be applied until `parent` exists locally. */
export interface ParentRef {
  readonly model: ModelName;
  readonly uuid: Id;
}

export interface ModelBase {
  readonly name: ModelName;
  readonly kind: ModelKind;
  readonly table: string;
  readonly fields: readonly FieldSpec[];
  /** Models whose rows must exist before this one's (backfill order, parking). */
  readonly dependsOn: readonly ModelName[];
  readonly codec: DataCodec;
  /** SQL creating this model's tables and indexes (first migration). */
  readonly schema: readonly string[];
  /** Number of live (not deleted) rows. */
  count(r: Reader): number;
  /**
   * Feeds one page of this model's synced contents, in canonical (uuid)
   * order, to `add`: the rows after `after` (null: from the first), at most
   * `limit`. Returns where the next page starts, or null after the last.
   */
  digestPage(r: Reader, after: Id | null, limit: number, add: (chunk: string) => void): Id | null;
}

/** Feeds a page of canonical rows (uuid first) to `add`; the cursor for the next page, or null if this was the last. */
export function digestRows(rows: readonly SqlValue[][], limit: number, add: (chunk: string) => void): Id | null {
  for (const row of rows) add(row.map(canonical).join(',') + '\n');
  return rows.length === limit ? (rows[rows.length - 1][0] as Id) : null;
}

/** Feeds all of a model's synced contents, in canonical order, to `add` (see digestPage). */
export function digestModel(m: Model, r: Reader, add: (chunk: string) => void, pageRows = 10_000): void {
  for (let after: Id | null = null; (after = m.digestPage(r, after, pageRows, add)) !== null; );
}

export interface ApplyStateResult {
  applied: StateRecord[];
  /** Older than or equal to what is stored (duplicate, reordered, superseded). */
  stale: number;
  parked: { record: StateRecord; parent: ParentRef }[];
  /** Refused: not the owner's row, or it conflicts with a row of another owner. */
  rejected: { record: StateRecord; error: Error }[];
}

export interface DeviceOwnedModel extends ModelBase {
  readonly kind: 'device-owned';
  /** Applies owner-stamped state; only the owner's rows; newer stamp wins. */
  applyState(w: Writer, records: readonly StateRecord[]): ApplyStateResult;
  /** Rows of `owner` with a stamp after `after` (8-byte HLC time, null = from the start), tombstones included, oldest first. */
  stateSince(r: Reader, owner: Id, after: Uint8Array | null, limit: number): StateRecord[];
  /** Rows of `owner` (tombstones included) with a stamp after `after`. */
  countSince(r: Reader, owner: Id, after: Uint8Array | null): number;
  /** The stored state of one row, or null. */
  get(r: Reader, uuid: Id): StateRecord | null;
  /** Which device owns the record described by `data` (null: unknown yet). */
  ownerOf(r: Reader, uuid: Id, data: RecordData): Id | null;
  /** Devices that own rows of this model here. */
  owners(r: Reader): Id[];
  /** The newest stamp (8-byte HLC time) of `owner`'s rows held here, tombstones included. */
  newestStamp(r: Reader, owner: Id): Uint8Array | null;
  /** Feeds every row version held (its row-version.ts bytes; directory stubs left out) to `add`, to compute owner states from the rows; only `owner`'s if given. */
  scanRows(r: Reader, add: (owner: Id, version: Uint8Array, time: Uint8Array, deleted: boolean) => void, owner?: Id): void;
  /** The row-version.ts bytes of a received record as it would be held (valid until the next call: hash them at once). */
  versionOf(rec: StateRecord): Uint8Array;
  /** Puts a row back as it was (`prior`, possibly older than what is held), in place (rows that point at it keep pointing at it). */
  restoreRow(w: Writer, prior: StateRecord): void;
  /** Takes a row away as if it had never arrived (a directory others point at stays as a stub). */
  dropRow(w: Writer, uuid: Id): void;
  /** Takes away every row of `owner`. */
  dropOwner(w: Writer, owner: Id): void;
}

export interface SharedRow {
  readonly uuid: Id;
  readonly hlc: Hlc;
  readonly live: boolean;
  readonly createdHlc: Hlc | null;
  readonly deletedHlc: Hlc | null;
  readonly data: RecordData;
  /** Per-field stamps of the values in `data`. */
  readonly fieldHlcs: Record<string, Hlc | null>;
}

export interface SharedModel extends ModelBase {
  readonly kind: 'shared';
  /** Merges one change into the row (per-field last writer by HLC); idempotent, order-independent. */
  applyChange(w: Writer, change: SharedChange): boolean;
  get(r: Reader, uuid: Id): SharedRow | null;
  /** The parent a change needs before it can be applied (membership rows: their tag or album). */
  parentOf(change: SharedChange): ParentRef | null;
  /** The table holding that parent, to check whether it has arrived. */
  parentTable(): string | null;
  /** For rows whose identity is what they point at: the id derived from their identity fields. */
  derivedId(data: RecordData): Id | null;
  /** Rows in uuid order after `after`, for snapshots of shared state. */
  rows(r: Reader, after: Id | null, limit: number): SharedRow[];
  /** Installs a row from a snapshot, merging per field like applyChange. */
  mergeRow(w: Writer, row: SharedRow): boolean;
  /** Rows held and their sum, computed from the rows (shared-state.ts). */
  computeState(r: Reader): SharedState;
}

export type Model = DeviceOwnedModel | SharedModel;
