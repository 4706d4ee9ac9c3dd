/**
 * Entries: the files and directories of a location. The one large table
 * (millions of rows), so it is laid out for size and apply speed: local
 * integer ids for the location and parent links, the owner as a small local
 * number, the stamp as its 8-byte time.
 *
 * Order independence: an entry whose directory has not arrived yet gets a
 * stub row for that directory (no stamp, not live) that the directory's own
 * state fills in when it arrives. An entry whose location has not arrived is
 * parked. Deleting a location removes its entries older than the deletion.
 */
import { compareBytes } from '../engine/hlc';
import { idEquals, idKey, idToString, type Id } from '../engine/ids';
import type { Reader, SqlValue, Writer } from '../store';
import { OwnershipError } from './errors';
import { dataCodec, type FieldSpec } from './fields';
import type { ApplyStateResult, DeviceOwnedModel, StateRecord } from './model';
import { canonical, stampFromTime, time } from './sql';

export const ENTRY_KIND = { file: 0, dir: 1, symlink: 2 } as const;
export type EntryKind = keyof typeof ENTRY_KIND;

const fields: readonly FieldSpec[] = [
  { name: 'location', type: 'id', identity: true },
  { name: 'parent', type: 'id', nullable: true },
  { name: 'name', type: 'text', maxLength: 1024 },
  { name: 'kind', type: 'int', min: 0, max: 2 },
  { name: 'size', type: 'int', min: 0 },
  { name: 'mtime', type: 'int', min: 0 },
];

const SELECT =
  'SELECT e.uuid, e.hlc, e.deleted, l.uuid, p.uuid, e.name, e.kind, e.size, e.mtime, l.owner ' +
  'FROM entry e JOIN location l ON l.id = e.location_id LEFT JOIN entry p ON p.id = e.parent_id';

interface LocationInfo {
  id: number;
  owner: Uint8Array;
  deleted: boolean;
  hlc: Uint8Array;
  /** The owner's local number, once looked up. */
  ownerNo?: number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class EntryTable implements DeviceOwnedModel {
  readonly kind = 'device-owned' as const;
  readonly name = 'entry' as const;
  readonly table = 'entry';
  readonly fields = fields;
  readonly dependsOn = ['location'] as const;
  readonly codec = dataCodec('entry', fields);
  readonly schema = [
    'CREATE TABLE device_no (no INTEGER PRIMARY KEY, device BLOB NOT NULL UNIQUE)',
    'CREATE TABLE entry (id INTEGER PRIMARY KEY, uuid BLOB NOT NULL UNIQUE, owner_no INTEGER NOT NULL, hlc BLOB, ' +
      'deleted INTEGER NOT NULL DEFAULT 0, location_id INTEGER NOT NULL, parent_id INTEGER, name TEXT, kind INTEGER, size INTEGER, mtime INTEGER)',
    'CREATE INDEX entry_since ON entry(owner_no, hlc)',
    'CREATE INDEX entry_children ON entry(location_id, parent_id, name)',
  ];

  private static readonly UPSERT =
    'INSERT INTO entry (uuid, owner_no, hlc, deleted, location_id, parent_id, name, kind, size, mtime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ' +
    'ON CONFLICT(uuid) DO UPDATE SET hlc = excluded.hlc, deleted = excluded.deleted, parent_id = excluded.parent_id, ' +
    'name = excluded.name, kind = excluded.kind, size = excluded.size, mtime = excluded.mtime ' +
    'WHERE (entry.hlc IS NULL OR excluded.hlc > entry.hlc) AND entry.location_id = excluded.location_id';

  ownerOf(r: Reader, _uuid: Id, data: Record<string, unknown>): Id | null {
    const loc = data.location;
    if (!(loc instanceof Uint8Array)) return null;
    const owner = r.value('SELECT owner FROM location WHERE uuid = ?', [loc]);
    return owner instanceof Uint8Array ? owner : null;
  }

  applyState(w: Writer, records: readonly StateRecord[]): ApplyStateResult {
    const result: ApplyStateResult = { applied: [], stale: 0, parked: [], rejected: [] };
    const locations = new Map<string, LocationInfo | null>();
    const ids = new Map<string, number>();
    // Records of one batch mostly share a location and run in sibling groups:
    // compare bytes with the previous record's before touching the maps.
    let lastLocUuid: Uint8Array | null = null;
    let lastLoc: LocationInfo | null = null;
    let lastParent: Uint8Array | null = null;
    let lastParentId = 0;
    for (const rec of records) {
      const locUuid = rec.data.location as Uint8Array;
      let loc: LocationInfo | null | undefined;
      if (lastLocUuid && sameBytes(lastLocUuid, locUuid)) loc = lastLoc;
      else {
        const lk = idKey(locUuid);
        loc = locations.get(lk);
        if (loc === undefined) {
          const row = w.rows('SELECT id, owner, deleted, hlc FROM location WHERE uuid = ?', [locUuid])[0];
          loc = row ? { id: row[0] as number, owner: row[1] as Uint8Array, deleted: row[2] === 1, hlc: row[3] as Uint8Array } : null;
          locations.set(lk, loc);
        }
        lastLocUuid = locUuid;
        lastLoc = loc;
      }
      if (!loc) {
        result.parked.push({ record: rec, parent: { model: 'location', uuid: locUuid } });
        continue;
      }
      const owner = rec.hlc.device;
      if (!idEquals(loc.owner, owner)) {
        const error = new OwnershipError(`entry ${idToString(rec.uuid)} is in location ${idToString(locUuid)} of another device`);
        result.rejected.push({ record: rec, error });
        continue;
      }
      const t = time(rec.hlc);
      if (loc.deleted && compareBytes(loc.hlc, t) >= 0) {
        result.stale++; // its location was deleted after this state was written
        continue;
      }
      if (loc.ownerNo === undefined) loc.ownerNo = this.ownerNo(w, owner);
      const ownerNo = loc.ownerNo;
      let parentId: number | null = null;
      const parent = rec.deleted ? null : (rec.data.parent as Uint8Array | null);
      if (parent && lastParent && sameBytes(parent, lastParent)) {
        parentId = lastParentId;
      } else if (parent) {
        const pk = idKey(parent);
        let pid = ids.get(pk);
        if (pid === undefined) {
          pid = w.value('SELECT id FROM entry WHERE uuid = ?', [parent]) as number | undefined;
          if (pid === undefined) {
            w.run('INSERT INTO entry (uuid, owner_no, hlc, deleted, location_id) VALUES (?, ?, NULL, 0, ?)', [parent, ownerNo, loc.id]);
            pid = w.value('SELECT last_insert_rowid()') as number;
          }
          ids.set(pk, pid);
        }
        parentId = pid;
        lastParent = parent;
        lastParentId = pid;
      }
      const d = rec.data;
      const changed = rec.deleted
        ? w.run(EntryTable.UPSERT, [rec.uuid, ownerNo, t, 1, loc.id, null, null, null, null, null])
        : w.run(EntryTable.UPSERT, [rec.uuid, ownerNo, t, 0, loc.id, parentId, d.name as string, d.kind as number, d.size as number, d.mtime as number]);
      if (changed === 0) {
        result.stale++;
        continue;
      }
      if (!rec.deleted && d.kind === ENTRY_KIND.dir) {
        ids.set(idKey(rec.uuid), w.value('SELECT id FROM entry WHERE uuid = ?', [rec.uuid]) as number);
      }
      result.applied.push(rec);
    }
    return result;
  }

  /** Removes the entries of a deleted location that are older than its deletion. */
  purgeLocation(w: Writer, location: Id, deletedAt: Uint8Array): void {
    const id = w.value('SELECT id FROM location WHERE uuid = ?', [location]);
    if (typeof id === 'number') w.run('DELETE FROM entry WHERE location_id = ? AND (hlc IS NULL OR hlc < ?)', [id, deletedAt]);
  }

  private ownerNo(w: Writer, device: Id): number {
    const no = w.value('SELECT no FROM device_no WHERE device = ?', [device]);
    if (typeof no === 'number') return no;
    w.run('INSERT INTO device_no (device) VALUES (?)', [device]);
    return w.value('SELECT no FROM device_no WHERE device = ?', [device]) as number;
  }

  private toRecord(row: readonly SqlValue[]): StateRecord {
    const deleted = row[2] === 1;
    return {
      uuid: row[0] as Uint8Array,
      hlc: stampFromTime(row[1], row[9] as Uint8Array),
      deleted,
      data: deleted
        ? { location: row[3] as Uint8Array }
        : {
            location: row[3] as Uint8Array,
            parent: (row[4] as Uint8Array | null) ?? null,
            name: row[5] as string,
            kind: row[6] as number,
            size: row[7] as number,
            mtime: row[8] as number,
          },
    };
  }

  stateSince(r: Reader, owner: Id, after: Uint8Array | null, limit: number): StateRecord[] {
    const no = r.value('SELECT no FROM device_no WHERE device = ?', [owner]);
    if (typeof no !== 'number') return [];
    return r
      .rows(`${SELECT} WHERE e.owner_no = ? AND e.hlc > ? ORDER BY e.hlc LIMIT ?`, [no, after ?? new Uint8Array(0), limit])
      .map((row) => this.toRecord(row));
  }

  countSince(r: Reader, owner: Id, after: Uint8Array | null): number {
    const no = r.value('SELECT no FROM device_no WHERE device = ?', [owner]);
    if (typeof no !== 'number') return 0;
    return Number(r.value('SELECT count(*) FROM entry WHERE owner_no = ? AND hlc > ?', [no, after ?? new Uint8Array(0)]));
  }

  get(r: Reader, uuid: Id): StateRecord | null {
    const row = r.rows(`${SELECT} WHERE e.uuid = ? AND e.hlc IS NOT NULL`, [uuid])[0];
    return row ? this.toRecord(row) : null;
  }

  owners(r: Reader): Id[] {
    return r.rows('SELECT device FROM device_no WHERE no IN (SELECT DISTINCT owner_no FROM entry)').map((row) => row[0] as Uint8Array);
  }

  count(r: Reader): number {
    return Number(r.value('SELECT count(*) FROM entry WHERE deleted = 0 AND hlc IS NOT NULL'));
  }

  digest(r: Reader, add: (chunk: string) => void): void {
    const rows = r.rows(`${SELECT} WHERE e.hlc IS NOT NULL ORDER BY e.uuid`);
    for (const row of rows) add(row.map(canonical).join(',') + '\n');
  }
}
