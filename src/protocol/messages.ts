/**
 * The messages peers exchange, one interface each, told apart by `type`.
 * Their binary layout is in codec.ts; DESIGN.md "Wire protocol" says what
 * each is for.
 */
import type { Id } from '../core/ids';
import type { ModelName, SharedChange, SharedRow, StateRecord } from '../models/model';
import type { OwnerSeal } from '../engine/owner-seals';
import { type ErrorCode, ProtocolError } from './errors';
import { MAX_ERROR_MESSAGE_CHARS } from './limits';

/** How far one origin's peer log has been received (highest seq with no gap below it). */
export interface OriginSeq {
  readonly origin: Id;
  readonly seq: number;
}

/** What the sender holds of one owner's rows of one device-owned model. */
export interface Watermark {
  readonly owner: Id;
  readonly model: ModelName;
  /** 8-byte HLC time (see encodeHlcTime) of the newest row held. */
  readonly hlc: Uint8Array;
  /** How many rows it holds (tombstones included). */
  readonly rows: number;
  /** Their sum (models/owner-state.ts): equal for equal sets of rows. */
  readonly sum: Uint8Array;
  /** It holds every row up to `hlc` (always so for its own rows): two complete holders at the same `hlc` must have the same sum. */
  readonly complete: boolean;
}

/** First message on a connection, both ways. */
export interface HelloMessage {
  readonly type: 'hello';
  readonly protocolVersion: number;
  readonly libraryId: Id;
  readonly deviceId: Id;
  /** Shared data: per origin, the contiguous seq held. */
  readonly vector: readonly OriginSeq[];
  /** Device-owned data: per (owner, model), the newest stamp held. */
  readonly watermarks: readonly Watermark[];
  /** Shared data: per model, the rows held and their sum (models/shared-state.ts). */
  readonly shared: readonly SharedSum[];
  /** Nothing waits here for a parent: every change the vector counts is applied (informational: its shared sums then cover the whole vector). */
  readonly settled: boolean;
  /** The sender's seal of its own rows, and those of owners whose rows it holds verified (engine/owner-seals.ts). */
  readonly seals: readonly OwnerSeal[];
}

/** What the sender holds of one shared model. */
export interface SharedSum {
  readonly model: ModelName;
  readonly rows: number;
  readonly sum: Uint8Array;
}

/** One live device-owned row state (device-owned models only). */
export interface StateChangeMessage {
  readonly type: 'state-change';
  readonly model: ModelName;
  readonly record: StateRecord;
  /** The sender's seal of its rows with this change. */
  readonly seal: OwnerSeal | null;
}

/** Live device-owned row states coalesced under load. */
export interface StateBatchMessage {
  readonly type: 'state-batch';
  readonly model: ModelName;
  readonly records: readonly StateRecord[];
  /** The sender's seal of its rows with these changes. */
  readonly seal: OwnerSeal | null;
}

/** One live shared change (shared models only; the change names its model). */
export interface SharedChangeMessage {
  readonly type: 'shared-change';
  readonly change: SharedChange;
}

/** Live shared changes coalesced under load. */
export interface SharedChangeBatchMessage {
  readonly type: 'shared-change-batch';
  readonly changes: readonly SharedChange[];
}

/** Rows of `owner`'s `model` stamped after `after`, oldest first, tombstones included. */
export interface StateRequestMessage {
  readonly type: 'state-request';
  readonly requestId: number;
  readonly model: ModelName;
  readonly owner: Id;
  /** 8-byte HLC time cursor; null: from the start. */
  readonly after: Uint8Array | null;
  /** 1 … MAX_RECORDS. */
  readonly limit: number;
  /**
   * Asked by the owner itself: its rows as held here, not as it last sealed
   * them (a device that lost rows in a restore takes back what no seal
   * covers, within bounds: Backfill.pullOwn). Otherwise ignored.
   */
  readonly asHeld: boolean;
}

export interface StateResponseMessage {
  readonly type: 'state-response';
  readonly requestId: number;
  readonly model: ModelName;
  readonly owner: Id;
  /** Every record's `hlc.device` is `owner`. */
  readonly records: readonly StateRecord[];
  readonly hasMore: boolean;
  /** Rows after this page, for honest progress. */
  readonly remaining: number;
  /**
   * The server holds every row of `owner`'s `model` stamped up to this (8-byte
   * HLC time): all of them when it is the owner, else what its own catch-up
   * confirmed. A requester's watermark never moves past it, so rows a relaying
   * peer lacks are never skipped. Null: it vouches for none.
   */
  readonly completeThrough: Uint8Array | null;
  /**
   * The owner's seal that the rows the server holds of it are exactly
   * (always its own when it is the owner; a relay answers only for owners
   * whose rows it holds verified). Null: none.
   */
  readonly seal: OwnerSeal | null;
}

/** Shared changes the requester lacks, given what it has. */
export interface SharedChangeRequestMessage {
  readonly type: 'shared-change-request';
  readonly requestId: number;
  readonly have: readonly OriginSeq[];
  /** 1 … MAX_RECORDS. */
  readonly limit: number;
  /** Set: asks for a page of the snapshot instead (after its log range was pruned). */
  readonly snapshot: SnapshotCursor | null;
}

/** Where the next snapshot page starts: a shared model, and after which uuid (null: its first row). */
export interface SnapshotCursor {
  readonly model: ModelName;
  readonly after: Id | null;
}

/** A page of shared state for a requester whose range was pruned from the log. */
export interface SharedSnapshotPage {
  readonly model: ModelName;
  readonly rows: readonly SharedRow[];
  /** Cursor: ask again after this uuid (null: from the start). */
  readonly after: Id | null;
  readonly hasMore: boolean;
  /**
   * Per origin, the changes this snapshot's rows already reflect (every page
   * does, as state only grows): the requester adopts it as its version vector
   * once it has every page, then asks the log for the rest.
   */
  readonly base: readonly OriginSeq[];
}

export interface SharedChangeResponseMessage {
  readonly type: 'shared-change-response';
  readonly requestId: number;
  readonly changes: readonly SharedChange[];
  readonly hasMore: boolean;
  readonly snapshot: SharedSnapshotPage | null;
  /** Origins whose requested range was pruned here. */
  readonly pruned: readonly Id[];
}

/** What the sender now holds, per origin (lets the receiver prune). */
export interface AckMessage {
  readonly type: 'ack';
  readonly vector: readonly OriginSeq[];
}

export interface HeartbeatMessage {
  readonly type: 'heartbeat';
  /** The sender's wall clock, ms since the epoch. */
  readonly nowMs: number;
}

export interface ErrorMessage {
  readonly type: 'error';
  /** The request this answers; 0 if it is not about a request. */
  readonly requestId: number;
  readonly code: ErrorCode;
  /** At most MAX_ERROR_MESSAGE_CHARS characters. */
  readonly message: string;
}

export type Message =
  | HelloMessage
  | StateChangeMessage
  | StateBatchMessage
  | SharedChangeMessage
  | SharedChangeBatchMessage
  | StateRequestMessage
  | StateResponseMessage
  | SharedChangeRequestMessage
  | SharedChangeResponseMessage
  | AckMessage
  | HeartbeatMessage
  | ErrorMessage;

export type MessageType = Message['type'];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;

/**
 * An Error message for `error` (a ProtocolError keeps its code; anything
 * else is 'internal'), its text cut to the wire limit.
 */
export function errorMessage(error: unknown, requestId?: number): ErrorMessage;
export function errorMessage(code: ErrorCode, text: string, requestId?: number): ErrorMessage;
export function errorMessage(a: unknown, b?: string | number, c?: number): ErrorMessage {
  let code: ErrorCode;
  let text: string;
  let requestId: number;
  if (typeof b === 'string') {
    code = a as ErrorCode;
    text = b;
    requestId = c ?? 0;
  } else {
    code = a instanceof ProtocolError ? a.code : 'internal';
    text = a instanceof Error ? a.message : String(a);
    requestId = b ?? (a instanceof ProtocolError ? a.requestId : 0);
  }
  return { type: 'error', requestId, code, message: truncate(text, MAX_ERROR_MESSAGE_CHARS) };
}

function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = max - 1;
  // Do not split a surrogate pair.
  const last = s.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return s.slice(0, cut) + '…';
}
