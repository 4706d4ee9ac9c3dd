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
import { compareBytes } from '../core/hlc';
import { idEquals, idKey, idMapKey, idToString, type Id } from '../core/ids';
import type { Reader, SqlValue, Writer } from '../store';
import { OwnershipError } from './errors';
import { dataCodec, type FieldSpec } from './fields';
import { digestRows, type ApplyStateResult, type DeviceOwnedModel, type StateRecord } from './model';
import { OwnerStateDelta } from './owner-state';
import { rowVersion } from './row-version';
import { stampFromTime, time } from './sql';

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

/** Like SELECT for one owner's rows in stamp order, with the location as its row id. */
const SINCE =
  'SELECT e.uuid, e.hlc, e.deleted, e.location_id, p.uuid, e.name, e.kind, e.size, e.mtime ' +
  'FROM entry e LEFT JOIN entry p ON p.id = e.parent_id WHERE e.owner_no = ? AND e.hlc > ? ORDER BY e.hlc LIMIT ?';

interface LocationInfo {
  id: number;
  owner: Uint8Array;
  deleted: boolean;
  hlc: Uint8Array;
  /** The owner's local number, once looked up. */
  ownerNo?: number;
  /** idKey of the owner, once computed. */
  ownerKey?: string;
}

const COLUMNS = '(id, uuid, owner_no, hlc, deleted, location_id, parent_id, name, kind, size, mtime)';
const ROW = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
const INSERT_ROWS = 50;
/** Values per inserted row (COLUMNS). */
const ROW_VALUES = 11;
const INSERT_ONE = `INSERT INTO entry ${COLUMNS} VALUES ${ROW}`;
const INSERT_MANY = `INSERT INTO entry ${COLUMNS} VALUES ${Array(INSERT_ROWS).fill(ROW).join(', ')}`;
const UPDATE = 'UPDATE entry SET owner_no = ?, hlc = ?, deleted = ?, location_id = ?, parent_id = ?, name = ?, kind = ?, size = ?, mtime = ? WHERE id = ?';
const LOOKUP_IDS = 100;
const LOOKUP =
  'SELECT e.uuid, e.id, e.hlc, e.location_id, e.deleted, p.uuid, e.name, e.kind, e.size, e.mtime FROM entry e LEFT JOIN entry p ON p.id = e.parent_id ' +
  `WHERE e.uuid IN (${Array(LOOKUP_IDS).fill('?').join(', ')})`;

/** A stored entry as lookup finds it: `fields` are its parent's uuid, name, kind, size and mtime (what row-version.ts hashes after the location). */
interface Stored {
  id: number;
  hlc: Uint8Array | null;
  locationId: number;
  deleted: boolean;
  fields: SqlValue[];
}

/** An entry's field values in field order, as row-version.ts hashes them (a tombstone keeps only its location). */
/** The number `device` is stored under in entry.owner_no (device_no), or null if it owns none yet. */
function ownerNoOf(r: Reader, device: Id): number | null {
  const no = r.value('SELECT no FROM device_no WHERE device = ?', [device]);
  return typeof no === 'number' ? no : null;
}

function hashValues(location: Uint8Array, deleted: boolean, d: Record<string, unknown>): SqlValue[] {
  if (deleted) return [location, null, null, null, null, null];
  return [location, (d.parent as Uint8Array | null) ?? null, d.name as string, d.kind as number, d.size as number, d.mtime as number];
}

interface Candidate {
  rec: StateRecord;
  loc: LocationInfo;
  time: Uint8Array;
  ownerNo: number;
}

/** A row to insert: its column values (id first), stamp (null for a stub) and the values it is hashed with. */
interface Pending {
  row: SqlValue[];
  hlc: Uint8Array | null;
  hashed?: SqlValue[];
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
    'CREATE INDEX entry_children ON entry(location_id, parent_id)',
  ];

  ownerOf(r: Reader, _uuid: Id, data: Record<string, unknown>): Id | null {
    const loc = data.location;
    if (!(loc instanceof Uint8Array)) return null;
    const owner = r.value('SELECT owner FROM location WHERE uuid = ?', [loc]);
    return owner instanceof Uint8Array ? owner : null;
  }

  /**
   * Applies owner-stamped entry state. Built for backfill volume: one lookup
   * for the whole batch finds which records exist (and so which are stale),
   * row ids are assigned here so a file can point at a directory inserted in
   * the same batch, and new rows go in with multi-row INSERTs (a third faster
   * than one statement per row in sql.js).
   */
  applyState(w: Writer, records: readonly StateRecord[]): ApplyStateResult {
    const result: ApplyStateResult = { applied: [], stale: 0, parked: [], rejected: [] };
    const candidates = this.checkLocations(w, records, result);
    if (candidates.length === 0) return result;

    const existing = this.lookup(w, candidates);
    let nextId = ((w.value('SELECT max(id) FROM entry') as number | null) ?? 0) + 1;
    const ids = new Map<string, number>(); // uuid key → row id, for parent links
    const inserts: Pending[] = [];
    const pending = new Map<string, Pending>(); // rows to insert, by uuid key
    const updates: { id: number; row: SqlValue[] }[] = [];
    const delta = new OwnerStateDelta(this.name);

    const parentId = (parent: Uint8Array, c: Candidate): number => {
      const pk = idMapKey(parent);
      let pid = ids.get(pk) ?? existing.get(pk)?.id ?? pending.get(pk)?.row[0];
      if (pid === undefined) {
        pid = w.value('SELECT id FROM entry WHERE uuid = ?', [parent]) as number | undefined;
        if (pid === undefined) {
          // A stub for the directory until its own state arrives (hlc NULL: not live).
          pid = nextId++;
          const stub: Pending = { row: [pid, parent, c.ownerNo, null, 0, c.loc.id, null, null, null, null, null], hlc: null };
          inserts.push(stub);
          pending.set(pk, stub);
        }
      }
      ids.set(pk, pid as number);
      return pid as number;
    };

    for (const c of candidates) {
      const rec = c.rec;
      const key = idMapKey(rec.uuid);
      const d = rec.data;
      const parent = rec.deleted ? null : (d.parent as Uint8Array | null);
      const values = (id: number): SqlValue[] =>
        rec.deleted
          ? [id, rec.uuid, c.ownerNo, c.time, 1, c.loc.id, null, null, null, null, null]
          : [id, rec.uuid, c.ownerNo, c.time, 0, c.loc.id, parent ? parentId(parent, c) : null, d.name as string, d.kind as number, d.size as number, d.mtime as number];
      const inBatch = pending.get(key);
      const stored = existing.get(key);
      const ownerKey = (c.loc.ownerKey ??= idKey(c.loc.owner));
      const location = d.location as Uint8Array;
      const hashed = hashValues(location, rec.deleted, d);
      let id: number;
      if (inBatch) {
        // Twice in one batch, or a stub made for it above: the newer state wins.
        if (inBatch.hlc && compareBytes(c.time, inBatch.hlc) <= 0) {
          result.stale++;
          continue;
        }
        if (inBatch.hlc) delta.remove(c.loc.owner, rowVersion(this.name, rec.uuid, inBatch.hlc, inBatch.row[4] === 1, inBatch.hashed!), inBatch.row[4] === 1, false, ownerKey);
        id = inBatch.row[0] as number;
        inBatch.row = values(id);
        inBatch.hlc = c.time;
        inBatch.hashed = hashed;
      } else if (stored) {
        if (stored.locationId !== c.loc.id) {
          result.rejected.push({ record: rec, error: new OwnershipError(`entry ${idToString(rec.uuid)} belongs to another location`) });
          continue;
        }
        if (stored.hlc && compareBytes(c.time, stored.hlc) <= 0) {
          result.stale++;
          continue;
        }
        if (stored.hlc) delta.remove(c.loc.owner, rowVersion(this.name, rec.uuid, stored.hlc, stored.deleted, [location, ...stored.fields]), stored.deleted, false, ownerKey);
        id = stored.id;
        updates.push({ id, row: values(id) });
        stored.hlc = c.time;
        stored.deleted = rec.deleted;
        stored.fields = hashed.slice(1);
      } else {
        id = nextId++;
        const p: Pending = { row: values(id), hlc: c.time, hashed };
        inserts.push(p);
        pending.set(key, p);
      }
      if (!rec.deleted && d.kind === ENTRY_KIND.dir) ids.set(key, id);
      delta.add(c.loc.owner, rowVersion(this.name, rec.uuid, c.time, rec.deleted, hashed), c.time, rec.deleted, ownerKey);
      result.applied.push(rec);
    }

    let i = 0;
    for (; i + INSERT_ROWS <= inserts.length; i += INSERT_ROWS) {
      const params: SqlValue[] = new Array(INSERT_ROWS * ROW_VALUES);
      for (let k = 0; k < INSERT_ROWS; k++) {
        const row = inserts[i + k].row;
        for (let j = 0; j < ROW_VALUES; j++) params[k * ROW_VALUES + j] = row[j];
      }
      w.run(INSERT_MANY, params);
    }
    for (; i < inserts.length; i++) w.run(INSERT_ONE, inserts[i].row);
    for (const u of updates) w.run(UPDATE, [...u.row.slice(2), u.id]);
    if (!delta.empty) delta.flush(w, (o) => this.newestStamp(w, o));
    return result;
  }

  /** Checks each record's location (park, refuse, or drop as older than the location's deletion). */
  private checkLocations(w: Writer, records: readonly StateRecord[], result: ApplyStateResult): Candidate[] {
    const out: Candidate[] = [];
    const locations = new Map<string, LocationInfo | null>();
    let lastLocUuid: Uint8Array | null = null;
    let lastLoc: LocationInfo | null = null;
    for (const rec of records) {
      const locUuid = rec.data.location as Uint8Array;
      let loc: LocationInfo | null | undefined;
      if (lastLocUuid && sameBytes(lastLocUuid, locUuid)) loc = lastLoc;
      else {
        const lk = idMapKey(locUuid);
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
      if (!idEquals(loc.owner, rec.hlc.device)) {
        const error = new OwnershipError(`entry ${idToString(rec.uuid)} is in location ${idToString(locUuid)} of another device`);
        result.rejected.push({ record: rec, error });
        continue;
      }
      const t = time(rec.hlc);
      if (loc.deleted && compareBytes(loc.hlc, t) >= 0) {
        result.stale++; // its location was deleted after this state was written
        continue;
      }
      if (loc.ownerNo === undefined) loc.ownerNo = this.ownerNo(w, rec.hlc.device);
      out.push({ rec, loc, time: t, ownerNo: loc.ownerNo });
    }
    return out;
  }

  /** The stored rows (id, stamp, location) of the candidates, by uuid key: one indexed IN query per LOOKUP_IDS records. */
  private lookup(w: Writer, candidates: readonly Candidate[]): Map<string, Stored> {
    const out = new Map<string, Stored>();
    for (let i = 0; i < candidates.length; i += LOOKUP_IDS) {
      const params: SqlValue[] = new Array(LOOKUP_IDS).fill(null);
      for (let k = 0; k < LOOKUP_IDS && i + k < candidates.length; k++) params[k] = candidates[i + k].rec.uuid;
      for (const row of w.rows(LOOKUP, params)) {
        const [uuid, id, hlc, locationId, deleted] = row;
        out.set(idMapKey(uuid as Uint8Array), { id: id as number, hlc: hlc as Uint8Array | null, locationId: locationId as number, deleted: deleted === 1, fields: row.slice(5) });
      }
    }
    return out;
  }

  /** Removes the entries of a deleted location that are older than its deletion. */
  purgeLocation(w: Writer, location: Id, deletedAt: Uint8Array): void {
    const loc = w.rows('SELECT id, owner FROM location WHERE uuid = ?', [location])[0];
    if (!loc) return;
    const [id, owner] = loc as [number, Uint8Array];
    const delta = new OwnerStateDelta(this.name);
    const rows = w.rows(
      'SELECT e.uuid, e.hlc, e.deleted, p.uuid, e.name, e.kind, e.size, e.mtime FROM entry e LEFT JOIN entry p ON p.id = e.parent_id WHERE e.location_id = ? AND e.hlc < ?',
      [id, deletedAt],
    );
    for (const row of rows) {
      const deleted = row[2] === 1;
      delta.remove(owner, rowVersion(this.name, row[0] as Uint8Array, row[1] as Uint8Array, deleted, [location, ...row.slice(3)]), deleted, true);
    }
    w.run('DELETE FROM entry WHERE location_id = ? AND (hlc IS NULL OR hlc < ?)', [id, deletedAt]);
    if (!delta.empty) delta.flush(w, (o) => this.newestStamp(w, o));
  }

  scanRows(r: Reader, add: (owner: Id, version: Uint8Array, time: Uint8Array, deleted: boolean) => void, owner?: Id): void {
    const owners = new Map<number, Id>(r.rows('SELECT no, device FROM device_no').map((row) => [row[0] as number, row[1] as Id]));
    const select =
      'SELECT e.owner_no, e.uuid, e.hlc, e.deleted, l.uuid, p.uuid, e.name, e.kind, e.size, e.mtime FROM entry e JOIN location l ON l.id = e.location_id ' +
      'LEFT JOIN entry p ON p.id = e.parent_id WHERE e.hlc IS NOT NULL';
    const no = owner ? ownerNoOf(r, owner) : null;
    if (owner && no === null) return;
    const rows = no !== null ? r.rows(`${select} AND e.owner_no = ?`, [no]) : r.rows(select);
    for (const row of rows) {
      const deleted = row[3] === 1;
      add(owners.get(row[0] as number)!, rowVersion(this.name, row[1] as Uint8Array, row[2] as Uint8Array, deleted, row.slice(4)), row[2] as Uint8Array, deleted);
    }
  }

  /** The entries of a location stamped before `before` (what its deletion at that stamp removes). */
  inLocation(r: Reader, location: Id, before: Uint8Array): StateRecord[] {
    return r.rows(`${SELECT} WHERE l.uuid = ? AND e.hlc IS NOT NULL AND e.hlc < ?`, [location, before]).map((row) => this.toRecord(row));
  }

  versionOf(rec: StateRecord): Uint8Array {
    return rowVersion(this.name, rec.uuid, time(rec.hlc), rec.deleted, hashValues(rec.data.location as Uint8Array, rec.deleted, rec.data));
  }

  restoreRow(w: Writer, prior: StateRecord): void {
    const row = w.rows('SELECT id FROM entry WHERE uuid = ?', [prior.uuid])[0];
    if (!row) {
      this.applyState(w, [prior]);
      return;
    }
    const d = prior.data;
    const parent = prior.deleted ? null : ((d.parent as Uint8Array | null) ?? null);
    const parentId = parent ? ((w.value('SELECT id FROM entry WHERE uuid = ?', [parent]) as number | undefined) ?? null) : null;
    w.run('UPDATE entry SET hlc = ?, deleted = ?, parent_id = ?, name = ?, kind = ?, size = ?, mtime = ? WHERE id = ?', [
      time(prior.hlc),
      prior.deleted ? 1 : 0,
      parentId,
      prior.deleted ? null : (d.name as string),
      prior.deleted ? null : (d.kind as number),
      prior.deleted ? null : (d.size as number),
      prior.deleted ? null : (d.mtime as number),
      row[0] as number,
    ]);
  }

  dropRow(w: Writer, uuid: Id): void {
    // Back to a stub (no stamp, not live): a directory other rows point at keeps its row id.
    w.run('UPDATE entry SET hlc = NULL, deleted = 0, parent_id = NULL, name = NULL, kind = NULL, size = NULL, mtime = NULL WHERE uuid = ?', [uuid]);
  }

  dropOwner(w: Writer, owner: Id): void {
    const no = ownerNoOf(w, owner);
    if (no !== null) w.run('DELETE FROM entry WHERE owner_no = ?', [no]);
  }

  /** `owner`'s stubs that nothing points at any more, or whose location is gone. */
  dropLooseStubs(w: Writer, owner: Id): void {
    const no = ownerNoOf(w, owner);
    if (no === null) return;
    w.run(
      'DELETE FROM entry WHERE owner_no = ? AND hlc IS NULL AND (location_id NOT IN (SELECT id FROM location) OR ' +
        'NOT EXISTS (SELECT 1 FROM entry c WHERE c.location_id = entry.location_id AND c.parent_id = entry.id))',
      [no],
    );
  }

  private ownerNo(w: Writer, device: Id): number {
    const no = ownerNoOf(w, device);
    if (no !== null) return no;
    w.run('INSERT INTO device_no (device) VALUES (?)', [device]);
    return ownerNoOf(w, device)!;
  }

  /** A row of SELECT (or of SINCE, with its location and owner looked up). */
  private toRecord(row: readonly SqlValue[], location = row[3] as Uint8Array, owner = row[9] as Uint8Array): StateRecord {
    const deleted = row[2] === 1;
    return {
      uuid: row[0] as Uint8Array,
      hlc: stampFromTime(row[1], owner),
      deleted,
      data: deleted
        ? { location }
        : {
            location,
            parent: (row[4] as Uint8Array | null) ?? null,
            name: row[5] as string,
            kind: row[6] as number,
            size: row[7] as number,
            mtime: row[8] as number,
          },
    };
  }

  stateSince(r: Reader, owner: Id, after: Uint8Array | null, limit: number): StateRecord[] {
    const no = ownerNoOf(r, owner);
    if (no === null) return [];
    // Serving a backfill reads a million of these: the location's uuid and the owner are the same for
    // whole pages, so they are looked up once per page rather than read (and allocated) per row.
    const locations = new Map<number, Uint8Array>();
    return r.rows(SINCE, [no, after ?? new Uint8Array(0), limit]).map((row) => {
      const locationId = row[3] as number;
      let location = locations.get(locationId);
      if (!location) locations.set(locationId, (location = r.value('SELECT uuid FROM location WHERE id = ?', [locationId]) as Uint8Array));
      return this.toRecord(row, location, owner);
    });
  }

  countSince(r: Reader, owner: Id, after: Uint8Array | null): number {
    const no = ownerNoOf(r, owner);
    if (no === null) return 0;
    return Number(r.value('SELECT count(*) FROM entry WHERE owner_no = ? AND hlc > ?', [no, after ?? new Uint8Array(0)]));
  }

  get(r: Reader, uuid: Id): StateRecord | null {
    const row = r.rows(`${SELECT} WHERE e.uuid = ? AND e.hlc IS NOT NULL`, [uuid])[0];
    return row ? this.toRecord(row) : null;
  }

  owners(r: Reader): Id[] {
    return r.rows('SELECT device FROM device_no WHERE no IN (SELECT DISTINCT owner_no FROM entry)').map((row) => row[0] as Uint8Array);
  }

  newestStamp(r: Reader, owner: Id): Uint8Array | null {
    const no = ownerNoOf(r, owner);
    if (no === null) return null;
    const v = r.value('SELECT max(hlc) FROM entry WHERE owner_no = ?', [no]);
    return v instanceof Uint8Array ? v : null;
  }

  count(r: Reader): number {
    return Number(r.value('SELECT count(*) FROM entry WHERE deleted = 0 AND hlc IS NOT NULL'));
  }

  digestPage(r: Reader, after: Id | null, limit: number, add: (chunk: string) => void): Id | null {
    return digestRows(r.rows(`${SELECT} WHERE e.hlc IS NOT NULL AND e.uuid > ? ORDER BY e.uuid LIMIT ?`, [after ?? new Uint8Array(0), limit]), limit, add);
  }
}
