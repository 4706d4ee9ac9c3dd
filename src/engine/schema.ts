/**
 * The library database's migrations. Version 1 creates the engine's own
 * tables and the first models' tables; later models come with the
 * migration that added them.
 */
import type { Migration } from '../store';
import { registry } from './registry';

const engineTables = [
  // Local settings and identity: library id/name, this device's id, last HLC stamp, own log sequence.
  'CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID',
  // Shared changes, own and received, until every partner has acked them.
  'CREATE TABLE peer_log (origin BLOB NOT NULL, seq INTEGER NOT NULL, hlc BLOB NOT NULL, model TEXT NOT NULL, uuid BLOB NOT NULL, ' +
    'op INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (origin, seq)) WITHOUT ROWID',
  // Version vector: per origin, the highest seq received with nothing missing below it; and what was pruned.
  'CREATE TABLE log_vector (origin BLOB PRIMARY KEY, seq INTEGER NOT NULL, hlc BLOB, pruned INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID',
  // Per partner and origin: the highest seq the partner has acknowledged.
  'CREATE TABLE log_ack (partner BLOB NOT NULL, origin BLOB NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (partner, origin)) WITHOUT ROWID',
  // Devices this one syncs with.
  'CREATE TABLE partner (device BLOB PRIMARY KEY, name TEXT, public_key BLOB, added_at INTEGER NOT NULL) WITHOUT ROWID',
  // Per (owner, model): the newest owner stamp received through catch-up with nothing missing below it.
  'CREATE TABLE state_watermark (owner BLOB NOT NULL, model TEXT NOT NULL, hlc BLOB NOT NULL, PRIMARY KEY (owner, model)) WITHOUT ROWID',
  // Records whose parent has not arrived yet.
  'CREATE TABLE parked (id INTEGER PRIMARY KEY, parent_model TEXT NOT NULL, parent_uuid BLOB NOT NULL, model TEXT NOT NULL, ' +
    'uuid BLOB NOT NULL, record BLOB NOT NULL)',
  'CREATE INDEX parked_parent ON parked(parent_model, parent_uuid)',
];

/** Models added after version 1, by the migration that creates their tables (as they were then). */
const ADDED_IN: Readonly<Record<string, number>> = { member: 3 };
const TABLES_AS_ADDED: Readonly<Record<string, readonly string[]>> = {
  member: [
    'CREATE TABLE member (uuid BLOB PRIMARY KEY, hlc BLOB NOT NULL, created_hlc BLOB, deleted_hlc BLOB, live INTEGER NOT NULL, ' +
      'device BLOB, device_hlc BLOB, public_key TEXT, public_key_hlc BLOB, name TEXT, name_hlc BLOB) WITHOUT ROWID',
  ],
};
const modelTables = (version: number) => registry.all.filter((m) => (ADDED_IN[m.name] ?? 1) === version).flatMap((m) => TABLES_AS_ADDED[m.name] ?? m.schema);

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'engine tables and models',
    statements: [...engineTables, ...modelTables(1)],
  },
  {
    version: 2,
    name: 'when each partner was last heard from',
    statements: ['ALTER TABLE partner ADD COLUMN last_seen INTEGER'],
  },
  {
    version: 3,
    name: 'library members (paired devices and their keys), synced',
    statements: modelTables(3),
  },
  {
    version: 4,
    name: 'log origins per run; owner states; parked rows know their owner and stamp',
    statements: [
      // Which device and run each log origin is (before: the origin was the device).
      'CREATE TABLE origin (origin BLOB PRIMARY KEY, device BLOB NOT NULL, incarnation BLOB NOT NULL) WITHOUT ROWID',
      "INSERT OR IGNORE INTO origin (origin, device, incarnation) SELECT origin, origin, x'' FROM log_vector",
      "INSERT OR IGNORE INTO origin (origin, device, incarnation) SELECT DISTINCT origin, origin, x'' FROM peer_log",
      // Per (owner, device-owned model): rows held, live rows, newest stamp, sum (models/owner-state.ts); filled on open.
      'CREATE TABLE owner_state (owner BLOB NOT NULL, model TEXT NOT NULL, rows INTEGER NOT NULL, live INTEGER NOT NULL, newest BLOB, sum BLOB NOT NULL, ' +
        'PRIMARY KEY (owner, model)) WITHOUT ROWID',
      // Per shared model: rows held and their sum (models/shared-state.ts); filled on open.
      'CREATE TABLE shared_state (model TEXT PRIMARY KEY, rows INTEGER NOT NULL, sum BLOB NOT NULL) WITHOUT ROWID',
      // A relay never vouches past a parked row of an owner (Library.completeThrough).
      'ALTER TABLE parked ADD COLUMN owner BLOB',
      'ALTER TABLE parked ADD COLUMN stamp BLOB',
      'CREATE INDEX parked_owner ON parked(model, owner, stamp)',
    ],
  },
  {
    version: 5,
    name: "signed shared changes: each origin's key, each change's signature",
    statements: [
      // The writer's public key (its device id is derived from it); empty for origins from before.
      "ALTER TABLE origin ADD COLUMN public_key BLOB NOT NULL DEFAULT x''",
      // Each change's signature by its writer, relayed with it (none before signatures).
      'ALTER TABLE peer_log ADD COLUMN signature BLOB',
      // Shared changes parked before signatures: in a layout without key and signature, and no device would accept them relayed.
      // They are let go (their parent never came); the log's unsigned rows are served as pruned (PeerLog.since).
      "DELETE FROM parked WHERE model IN ('tag', 'album', 'user_metadata', 'tag_assignment', 'album_item', 'member')",
    ],
  },
  {
    version: 6,
    name: 'when each peer-log entry was logged here',
    statements: [
      // ms on this device's clock. A partner that leaves an entry unacknowledged past the absence horizon stops
      // holding the log back (PeerLog.prune). Entries logged before this count as logged now (the upgrade).
      'ALTER TABLE peer_log ADD COLUMN logged_at INTEGER',
      "UPDATE peer_log SET logged_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    ],
  },
  {
    version: 7,
    name: 'member statements: membership is derived from signed grants and unpairs',
    statements: [
      // The field every statement carries (never stored: the column stays empty).
      'ALTER TABLE member ADD COLUMN after TEXT',
      'ALTER TABLE member ADD COLUMN after_hlc BLOB',
      // Every member statement this device holds, by id (two versions of one seq are two), kept for good: the log
      // prunes; membership is folded from these (membership.ts).
      'CREATE TABLE member_statement (id BLOB PRIMARY KEY, origin BLOB NOT NULL, seq INTEGER NOT NULL, hlc BLOB NOT NULL, uuid BLOB NOT NULL, ' +
        'op INTEGER NOT NULL, data BLOB NOT NULL, signature BLOB NOT NULL) WITHOUT ROWID',
      'CREATE INDEX member_statement_origin ON member_statement(origin)',
      'CREATE INDEX member_statement_uuid ON member_statement(uuid)',
    ],
  },
  {
    version: 8,
    name: 'parked records know the partner that sent them',
    statements: [
      // A partner's share of the records waiting for a parent is bounded (Parking.maxPerSender). Rows from before: nobody's.
      'ALTER TABLE parked ADD COLUMN sender BLOB',
      'CREATE INDEX parked_sender ON parked(sender)',
    ],
  },
  {
    version: 9,
    name: "owner states hash every synced field (LtHash); owners' signed seals",
    statements: [
      // The LtHash of an owner's rows of a model (owner-state.ts); filled on open (meta owner_state = 2), with sums from it.
      'ALTER TABLE owner_state ADD COLUMN hash BLOB',
      // Per owner, the newest seal held: the owner's signature over the digest of its rows' hashes (owner-seal.ts).
      'CREATE TABLE owner_seal (owner BLOB PRIMARY KEY, sealed_at BLOB NOT NULL, newest BLOB NOT NULL, rows INTEGER NOT NULL, digest BLOB NOT NULL, ' +
        'public_key BLOB NOT NULL, signature BLOB NOT NULL) WITHOUT ROWID',
      // Per owner, the seal that what is held here was last found to be exactly (it may be older than the newest held), and since when (ms).
      'CREATE TABLE owner_verified (owner BLOB PRIMARY KEY, sealed_at BLOB NOT NULL, newest BLOB NOT NULL, rows INTEGER NOT NULL, digest BLOB NOT NULL, ' +
        'public_key BLOB NOT NULL, signature BLOB NOT NULL, since INTEGER NOT NULL) WITHOUT ROWID',
      // Per row a relay brought of an owner since its rows last matched a seal: the version it replaced (null: none), to put back (owner-undo.ts).
      'CREATE TABLE owner_undo (owner BLOB NOT NULL, model TEXT NOT NULL, uuid BLOB NOT NULL, prior BLOB, PRIMARY KEY (owner, model, uuid)) WITHOUT ROWID',
    ],
  },
  {
    version: 10,
    name: "seals name the latest seal their owner's copy knew of when it opened",
    statements: [
      // Seals signed before `base` was part of what is signed no longer verify: gone (each owner's next one comes soon).
      'DELETE FROM owner_seal',
      'DELETE FROM owner_verified',
      'DELETE FROM owner_undo',
      // Rows in this device's own name that waited for a parent were taken on a partner's word (it takes them only as sealed now).
      "DELETE FROM parked WHERE owner = (SELECT value FROM meta WHERE key = 'device_id')",
      'ALTER TABLE owner_seal ADD COLUMN base BLOB',
      'ALTER TABLE owner_verified ADD COLUMN base BLOB',
      // Per owner, the latest seal made by a copy of its data its newest seal's copy does not descend from (owner-proofs.ts).
      'CREATE TABLE owner_orphan (owner BLOB PRIMARY KEY, sealed_at BLOB NOT NULL, newest BLOB NOT NULL, rows INTEGER NOT NULL, digest BLOB NOT NULL, ' +
        'public_key BLOB NOT NULL, signature BLOB NOT NULL, base BLOB NOT NULL) WITHOUT ROWID',
    ],
  },
];
