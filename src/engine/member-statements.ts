/**
 * Where membership is kept: the library's anchors (meta) and every signed
 * member statement this device holds (`member_statement`, by statement id,
 * never pruned), and the `member` table derived from them (membership.ts)
 * in the same transaction as any statement that arrives.
 */
import type { Reader, Writer } from '../store';
import { decodeHlc, encodeHlc, type Hlc } from '../core/hlc';
import { fromHex, idEquals, idKey, toHex, type Id } from '../core/ids';
import type { SharedChange } from '../models/model';
import { member } from '../models/catalog';
import { opCode, opFromCode } from './records';
import { addDigest, sumBytes, sumLanes } from '../models/owner-state';
import { decodeAnchors, encodeAnchors, foldMembership, memberId, statementId, type Anchor, type Membership } from './membership';

const COLUMNS = 's.seq, s.hlc, s.uuid, s.op, s.data, s.signature, o.origin, o.device, o.incarnation, o.public_key';

/** The library's anchors (none pinned yet: empty). */
export function readAnchors(r: Reader): Anchor[] {
  const v = r.value("SELECT value FROM meta WHERE key = 'member_anchors'");
  return typeof v === 'string' ? decodeAnchors(v) : [];
}

export function writeAnchors(w: Writer, anchors: readonly Anchor[]): void {
  w.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('member_anchors', ?)", [encodeAnchors(anchors)]);
}

/**
 * Whether a verified member statement can be kept: its author must be an
 * anchor or a device some statement held here grants (a key no one ever
 * let in fills nothing). Which statements a device keeps is so the same
 * closure on every device, whatever order they came in: no count decides
 * (a cap would keep different ones on different devices, and a statement
 * one kept and another refused would leave them apart for good).
 */
export function isLetIn(r: Reader, device: Id): boolean {
  return readAnchors(r).some((a) => idEquals(a.device, device)) || r.value('SELECT 1 FROM member_statement WHERE uuid = ? AND op = ? LIMIT 1', [memberId(device), opCode('create')]) !== undefined;
}

/**
 * Keeps what it can of `statements` (verified): those whose author is let
 * in, by one held or by another of them (in any order: a grant kept lets
 * its device's statements in). Returns those kept now and those left out.
 */
export function keepLetIn(w: Writer, statements: readonly SharedChange[]): { kept: SharedChange[]; held: number; left: SharedChange[] } {
  const waiting = new Map<string, SharedChange[]>();
  const queue: SharedChange[] = [];
  const kept: SharedChange[] = [];
  let held = 0;
  for (const s of statements) {
    if (isLetIn(w, s.device)) queue.push(s);
    else {
      const list = waiting.get(idKey(s.device));
      if (list) list.push(s);
      else waiting.set(idKey(s.device), [s]);
    }
  }
  while (queue.length) {
    const s = queue.shift()!;
    if (keepStatement(w, s) === 'held') {
      held++;
      continue;
    }
    kept.push(s);
    if (s.op === 'create' && s.data.device instanceof Uint8Array) {
      const next = waiting.get(idKey(s.data.device));
      if (next) {
        waiting.delete(idKey(s.data.device));
        queue.push(...next);
      }
    }
  }
  return { kept, held, left: [...waiting.values()].flat() };
}

/** Keeps a verified member statement (and who its origin is) whose author isLetIn; 'held' if kept already. */
export function keepStatement(w: Writer, ch: SharedChange): 'kept' | 'held' {
  w.run('INSERT OR IGNORE INTO origin (origin, device, incarnation, public_key) VALUES (?, ?, ?, ?)', [ch.hlc.device, ch.device, ch.incarnation, ch.publicKey]);
  const inserted = w.run('INSERT OR IGNORE INTO member_statement (id, origin, seq, hlc, uuid, op, data, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
    fromHex(statementId(ch)),
    ch.hlc.device,
    ch.seq,
    encodeHlc(ch.hlc),
    ch.uuid,
    opCode(ch.op),
    member.codec.encode(ch.data),
    ch.signature,
  ]);
  return inserted === 1 ? 'kept' : 'held';
}

function toStatement(row: readonly unknown[]): SharedChange {
  const [seq, hlc, uuid, op, data, signature, , device, incarnation, publicKey] = row;
  return {
    model: member.name,
    uuid: uuid as Uint8Array,
    hlc: decodeHlc(hlc as Uint8Array),
    seq: seq as number,
    op: opFromCode(op as number),
    device: device as Uint8Array,
    incarnation: incarnation as Uint8Array,
    publicKey: publicKey as Uint8Array,
    signature: signature as Uint8Array,
    data: member.codec.decode(data as Uint8Array),
  };
}

/** Whether any statement is held. */
export function hasStatements(r: Reader): boolean {
  return r.value('SELECT 1 FROM member_statement LIMIT 1') !== undefined;
}

/** Every statement held. */
export function readStatements(r: Reader): SharedChange[] {
  return r.rows(`SELECT ${COLUMNS} FROM member_statement s JOIN origin o ON o.origin = s.origin`).map(toStatement);
}

/** The statements after statement id `after` (16 bytes; null: from the first), by id: a page of a snapshot. */
export function statementsPage(r: Reader, after: Id | null, limit: number): { statements: SharedChange[]; ids: Id[]; hasMore: boolean } {
  const rows = r.rows(`SELECT ${COLUMNS}, s.id FROM member_statement s JOIN origin o ON o.origin = s.origin WHERE s.id > ? ORDER BY s.id LIMIT ?`, [after ?? new Uint8Array(0), limit + 1]);
  const page = rows.slice(0, limit);
  return { statements: page.map(toStatement), ids: page.map((row) => row[10] as Uint8Array), hasMore: rows.length > limit };
}

/** The membership the statements held make (see membership.ts). */
export function readMembership(r: Reader): Membership {
  return foldMembership(readAnchors(r), readStatements(r));
}

/**
 * Derives the `member` table (and its state) from the anchors and the
 * statements held: the same on every device holding the same statements.
 * Every device a statement that counts granted (or an anchor) has a row,
 * live or not, with its key and latest name; stamps are fixed (liveness is
 * the fold's, never a stamp's).
 */
export function rebuildMembers(w: Writer): Membership {
  const result = readMembership(w);
  w.run('DELETE FROM member');
  for (const [key, m] of result.known) {
    const at = (counter: number): Hlc => ({ ms: 0, counter, device: m.device });
    const row = { model: member.name, uuid: memberId(m.device), seq: 0, device: m.device, incarnation: new Uint8Array(0), publicKey: m.publicKey, signature: new Uint8Array(0) };
    member.applyChange(w, { ...row, hlc: at(0), op: 'create', data: { device: m.device, public_key: toHex(m.publicKey), name: m.name } });
    if (!result.live.has(key)) member.applyChange(w, { ...row, hlc: at(1), op: 'delete', data: {} });
  }
  // What a Hello says of the members is the set of statements held (the rows follow from it): devices that
  // hold different statements (a second version, one a partner never logged) see it and pull each other's.
  const lanes = sumLanes(null);
  const ids = w.rows('SELECT id FROM member_statement').map((row) => row[0] as Uint8Array);
  for (const id of ids) addDigest(lanes, id, 1);
  w.run("DELETE FROM shared_state WHERE model = 'member'");
  if (ids.length) w.run("INSERT INTO shared_state (model, rows, sum) VALUES ('member', ?, ?)", [ids.length, sumBytes(lanes)]);
  return result;
}

/**
 * A library from before statements were kept: the member changes still
 * in its log become statements (naming none before them), and the members
 * it has (live rows) its anchors (none: the first device to invite will be).
 */
export function upgradeMembership(w: Writer): void {
  if (readAnchors(w).length === 0) {
    const live = member.rows(w, null, 100_000).filter((row) => row.live && typeof row.data.public_key === 'string');
    if (live.length) {
      const anchors = live.map((row) => ({ device: row.data.device as Id, publicKey: fromHex(String(row.data.public_key)), name: String(row.data.name ?? '') }));
      writeAnchors(w, anchors.sort((a, b) => (idKey(a.device) < idKey(b.device) ? -1 : 1)));
    }
  }
  const legacy = w
    .rows("SELECT l.seq, l.hlc, l.uuid, l.op, l.data, l.signature, o.origin, o.device, o.incarnation, o.public_key FROM peer_log l JOIN origin o ON o.origin = l.origin WHERE l.model = 'member' AND l.signature IS NOT NULL")
    .filter((row) => (row[9] as Uint8Array).byteLength === 32)
    .map(toStatement);
  keepLetIn(w, legacy);
  rebuildMembers(w);
}

/** Whether `device` may make member statements now (a live member here). */
export function isLiveMember(r: Reader, device: Id): boolean {
  const row = member.get(r, memberId(device));
  return !!row && row.live && idEquals(row.data.device as Id, device);
}
