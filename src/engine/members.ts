/**
 * Library membership: who is paired into the library, and what follows for
 * this device's partners.
 *
 * Members are a shared model (models/catalog.ts `member`), so pairing on any
 * device reaches every other through sync, and so does unpairing; the rows
 * are folded from the library's anchors and signed statements
 * (membership.ts, member-statements.ts). The local `partner` table (acks,
 * last seen, the keys the firewall admits) follows the member rows in the
 * same transaction that changed them:
 *
 * - a live member other than this device is a partner, with the member's
 *   key and name;
 * - a member whose row was deleted (unpaired) is no longer a partner;
 * - if this device's own member row was deleted, it was unpaired from the
 *   library: it keeps its data but no longer syncs with any member.
 *
 * - a partner that a member's statement is about but that has no member
 *   row (the grant that let it in does not count) is no longer a partner.
 *
 * Partners no statement is about (added directly, as tests and the
 * in-memory demo do, or a joiner's before the statements reach it) are
 * left alone.
 */
import type { Reader, Writer } from '../store';
import { fromHex, idEquals, idKey, idToString, toHex, type Id } from '../core/ids';
import { isDeviceIdOf } from '../core/signing';
import type { RecordData } from '../models/fields';
import { OwnershipError } from '../models/errors';
import type { SharedOp } from '../models/model';
import { member } from '../models/catalog';
import { decodeAfter, memberId } from './membership';

export { memberId };

export interface Member {
  device: Id;
  /** The device's 32-byte network public key. */
  publicKey: Uint8Array;
  name: string;
  /** False once unpaired. */
  live: boolean;
}

/**
 * What a member change may say, whoever relays it (its author is already
 * proven by its signature): a member's key is the one its device id is
 * derived from, so a row can never bind an id to another key; and only the
 * device itself renames itself, and nothing else of a member changes.
 * Throws OwnershipError.
 */
export function checkMemberChange(op: SharedOp, uuid: Id, author: Id, data: RecordData): void {
  decodeAfter(data.after);
  if (op === 'create') {
    const key = typeof data.public_key === 'string' && /^[0-9a-f]{64}$/.test(data.public_key) ? fromHex(data.public_key) : null;
    if (!key || !isDeviceIdOf(data.device as Id, key)) {
      throw new OwnershipError(`member ${idToString(data.device as Id)}: its key is not the one its device id is made from`);
    }
  } else if (op === 'update') {
    if (!idEquals(uuid, memberId(author))) throw new OwnershipError(`member ${idToString(uuid)}: only that device itself may change its member record`);
    if (Object.keys(data).some((f) => f !== 'name' && f !== 'after')) throw new OwnershipError(`member ${idToString(uuid)}: an update may change only the name`);
  }
}

/** Every member row, live or unpaired. */
export function readMembers(r: Reader): Member[] {
  const out: Member[] = [];
  for (let after: Id | null = null; ; ) {
    const rows = member.rows(r, after, 1000);
    for (const row of rows) {
      out.push({
        device: row.data.device as Id,
        publicKey: fromHex(String(row.data.public_key ?? '')),
        name: String(row.data.name ?? ''),
        live: row.live,
      });
    }
    if (rows.length < 1000) return out;
    after = rows[rows.length - 1].uuid;
  }
}

/** Makes the partner table follow the member rows; true if it changed. */
export function reconcilePartners(w: Writer, self: Id, now: number, mentioned: ReadonlySet<string> = new Set()): boolean {
  const members = readMembers(w);
  // Unpaired, or a member's statement is about it and it has no row (the grant that let it in does not count).
  const own = members.find((m) => idEquals(m.device, self));
  const selfRemoved = own ? !own.live : mentioned.has(idKey(self));
  const current = new Map(
    w.rows('SELECT device, name, public_key FROM partner').map(([d, n, k]) => [idKey(d as Uint8Array), { device: d as Uint8Array, name: n as string | null, key: k as Uint8Array | null }]),
  );
  let changed = false;
  for (const m of members) {
    if (idEquals(m.device, self)) continue;
    const cur = current.get(idKey(m.device));
    const wanted = m.live && !selfRemoved && isDeviceIdOf(m.device, m.publicKey);
    if (wanted && (!cur || cur.name !== m.name || !cur.key || toHex(cur.key) !== toHex(m.publicKey))) {
      writePartner(w, m.device, m.name, m.publicKey, now);
      changed = true;
    } else if (!wanted && cur) {
      deletePartner(w, m.device);
      changed = true;
    }
  }
  // A partner that a member's statement is about but that has no row: the grant that let it in does not count.
  const rows = new Set(members.map((m) => idKey(m.device)));
  for (const [key, { device }] of current) {
    if (!rows.has(key) && mentioned.has(key)) {
      deletePartner(w, device);
      changed = true;
    }
  }
  return changed;
}

/** Adds a partner, or updates its name and key (keeping when it was added). */
export function writePartner(w: Writer, device: Id, name: string | null, publicKey: Uint8Array | null, now: number): void {
  w.run('INSERT INTO partner (device, name, public_key, added_at) VALUES (?, ?, ?, ?) ON CONFLICT(device) DO UPDATE SET name = excluded.name, public_key = excluded.public_key', [
    device,
    name,
    publicKey,
    now,
  ]);
}

/** Removes a partner and its acknowledgements (they must not hold the log back any more). */
export function deletePartner(w: Writer, device: Id): void {
  w.run('DELETE FROM partner WHERE device = ?', [device]);
  w.run('DELETE FROM log_ack WHERE partner = ?', [device]);
}
