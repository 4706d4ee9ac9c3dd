/**
 * Where membership is kept: the library's anchors (meta) and every signed
 * member statement this device holds (`member_statement`, never pruned),
 * and the `member` table derived from them (membership.ts) in the same
 * transaction as any statement that arrives.
 */
import type { Reader, Writer } from '../store';
import { decodeHlc, encodeHlc, type Hlc } from '../core/hlc';
import { fromHex, idEquals, toHex, type Id } from '../core/ids';
import type { SharedChange } from '../models/model';
import { member } from '../models/catalog';
import { opCode, opFromCode } from './records';
import { decodeAnchors, encodeAnchors, encodeCutoff, foldMembership, memberId, type Anchor, type Membership } from './membership';

const COLUMNS = 's.seq, s.hlc, s.uuid, s.op, s.data, s.signature, o.origin, o.device, o.incarnation, o.public_key';

/** The library's anchors (none pinned yet: empty). */
export function readAnchors(r: Reader): Anchor[] {
  const v = r.value("SELECT value FROM meta WHERE key = 'member_anchors'");
  return typeof v === 'string' ? decodeAnchors(v) : [];
}

export function writeAnchors(w: Writer, anchors: readonly Anchor[]): void {
  w.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('member_anchors', ?)", [encodeAnchors(anchors)]);
}

/** Keeps a verified member statement (and who its origin is); false if held already. */
export function keepStatement(w: Writer, ch: SharedChange): boolean {
  w.run('INSERT OR IGNORE INTO origin (origin, device, incarnation, public_key) VALUES (?, ?, ?, ?)', [ch.hlc.device, ch.device, ch.incarnation, ch.publicKey]);
  return (
    w.run('INSERT OR IGNORE INTO member_statement (origin, seq, hlc, uuid, op, data, signature) VALUES (?, ?, ?, ?, ?, ?, ?)', [
      ch.hlc.device,
      ch.seq,
      encodeHlc(ch.hlc),
      ch.uuid,
      opCode(ch.op),
      member.codec.encode(ch.data),
      ch.signature,
    ]) === 1
  );
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

/** Every statement held. */
export function readStatements(r: Reader): SharedChange[] {
  return r.rows(`SELECT ${COLUMNS} FROM member_statement s JOIN origin o ON o.origin = s.origin`).map(toStatement);
}

/**
 * The statements about the members after `after` (member row id), whole
 * members at a time, about `limit` statements (at least one member's).
 */
export function statementsPage(r: Reader, after: Id | null, limit: number): { statements: SharedChange[]; after: Id | null; hasMore: boolean } {
  const uuids = r.rows('SELECT DISTINCT uuid FROM member_statement WHERE uuid > ? ORDER BY uuid LIMIT ?', [after ?? new Uint8Array(0), limit + 1]).map((x) => x[0] as Uint8Array);
  const statements: SharedChange[] = [];
  let last: Id | null = after;
  let i = 0;
  for (; i < uuids.length && (i === 0 || statements.length < limit); i++) {
    statements.push(...r.rows(`SELECT ${COLUMNS} FROM member_statement s JOIN origin o ON o.origin = s.origin WHERE s.uuid = ?`, [uuids[i]]).map(toStatement));
    last = uuids[i];
  }
  return { statements, after: last, hasMore: i < uuids.length };
}

/** What an unpair of `device` by this device carries: how far each of its runs' statements are held here. */
export function cutoffOf(r: Reader, device: Id): string {
  const rows = r.rows('SELECT s.origin, max(s.seq) FROM member_statement s JOIN origin o ON o.origin = s.origin WHERE o.device = ? GROUP BY s.origin', [device]);
  return encodeCutoff(new Map(rows.map(([o, s]) => [toHex(o as Uint8Array), s as number])));
}

/** Whether any statement is held. */
export function hasStatements(r: Reader): boolean {
  return r.value('SELECT 1 FROM member_statement LIMIT 1') !== undefined;
}

/** An anchor's row, as if created before anything else. */
function anchorRow(a: Anchor): SharedChange {
  const hlc: Hlc = { ms: 0, counter: 0, device: a.device };
  return {
    model: member.name,
    uuid: memberId(a.device),
    hlc,
    seq: 0,
    op: 'create',
    device: a.device,
    incarnation: new Uint8Array(0),
    publicKey: a.publicKey,
    signature: new Uint8Array(0),
    data: { device: a.device, public_key: toHex(a.publicKey), name: a.name },
  };
}

/**
 * Derives the `member` table (and its state) from the anchors and the
 * statements held: the same on every device holding the same statements.
 */
export function rebuildMembers(w: Writer): Membership {
  const result = foldMembership(readAnchors(w), readStatements(w));
  w.run('DELETE FROM member');
  w.run("DELETE FROM shared_state WHERE model = 'member'");
  for (const a of readAnchors(w)) member.applyChange(w, anchorRow(a));
  for (const s of result.effective) member.applyChange(w, s);
  return result;
}

/**
 * A library from before statements were kept: the member changes still
 * in its log become statements, and the members it has (live rows) its
 * anchors (none: the first device to invite will be).
 */
export function upgradeMembership(w: Writer): void {
  if (readAnchors(w).length === 0) {
    const live = member.rows(w, null, 100_000).filter((row) => row.live && typeof row.data.public_key === 'string');
    if (live.length) {
      writeAnchors(
        w,
        live.map((row) => ({ device: row.data.device as Id, publicKey: fromHex(String(row.data.public_key)), name: String(row.data.name ?? '') })),
      );
    }
  }
  w.run(
    'INSERT OR IGNORE INTO member_statement (origin, seq, hlc, uuid, op, data, signature) ' +
      "SELECT origin, seq, hlc, uuid, op, data, signature FROM peer_log WHERE model = 'member' AND signature IS NOT NULL",
  );
  rebuildMembers(w);
}

/** Whether `device` may make member statements now (a live member here). */
export function isLiveMember(r: Reader, device: Id): boolean {
  const row = member.get(r, memberId(device));
  return !!row && row.live && idEquals(row.data.device as Id, device);
}
