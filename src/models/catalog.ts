/**
 * The syncable models, each declared once. The registry (engine/registry.ts)
 * is built from this list; adding a model is one entry here.
 */
import { DeviceOwnedTable } from './device-owned-table';
import { EntryTable } from './entry';
import type { FieldSpec } from './fields';
import { SharedTable } from './shared-table';

const itemKey: FieldSpec[] = [
  { name: 'workspace_key', type: 'text', identity: true, maxLength: 1024 },
  { name: 'path', type: 'text', identity: true, maxLength: 4096 },
];

export const device = new DeviceOwnedTable({
  name: 'device',
  table: 'device',
  dependsOn: [],
  fields: [
    { name: 'name', type: 'text', maxLength: 256 },
    { name: 'os', type: 'text', maxLength: 64 },
    { name: 'hostname', type: 'text', maxLength: 256 },
    { name: 'app_version', type: 'text', nullable: true, maxLength: 64 },
    { name: 'created_at', type: 'int', min: 0 },
    { name: 'updated_at', type: 'int', min: 0 },
    { name: 'last_seen_at', type: 'int', min: 0 },
  ],
});

export const volume = new DeviceOwnedTable({
  name: 'volume',
  table: 'volume',
  dependsOn: ['device'],
  ownerField: 'device',
  parent: { model: 'device', table: 'device', field: 'device' },
  fields: [
    { name: 'device', type: 'id', identity: true },
    { name: 'mount_point', type: 'text', maxLength: 4096 },
    { name: 'name', type: 'text', maxLength: 256 },
    { name: 'filesystem', type: 'text', nullable: true, maxLength: 64 },
    { name: 'total_bytes', type: 'int', nullable: true, min: 0 },
    { name: 'available_bytes', type: 'int', nullable: true, min: 0 },
    { name: 'removable', type: 'bool' },
  ],
});

export const location = new DeviceOwnedTable({
  name: 'location',
  table: 'location',
  dependsOn: ['device', 'volume'],
  ownerField: 'device',
  parent: { model: 'device', table: 'device', field: 'device' },
  fields: [
    { name: 'device', type: 'id', identity: true },
    { name: 'volume', type: 'id', nullable: true },
    { name: 'path', type: 'text', maxLength: 4096 },
    { name: 'name', type: 'text', maxLength: 256 },
    { name: 'workspace_key', type: 'text', maxLength: 1024 },
    { name: 'entry_count', type: 'int', min: 0 },
    { name: 'total_bytes', type: 'int', min: 0 },
  ],
  localColumns: ['scan_state TEXT', 'scanned_at INTEGER'],
  extraSchema: ['CREATE INDEX location_workspace ON location(workspace_key)'],
});

export const entry = new EntryTable();

export const tag = new SharedTable({
  name: 'tag',
  table: 'tag',
  dependsOn: [],
  fields: [
    { name: 'name', type: 'text', maxLength: 256 },
    { name: 'color', type: 'text', nullable: true, maxLength: 32 },
    { name: 'icon', type: 'text', nullable: true, maxLength: 64 },
    { name: 'description', type: 'text', nullable: true, maxLength: 4096 },
    { name: 'namespace', type: 'text', nullable: true, maxLength: 256 },
  ],
});

export const album = new SharedTable({
  name: 'album',
  table: 'album',
  dependsOn: [],
  fields: [
    { name: 'name', type: 'text', maxLength: 256 },
    { name: 'description', type: 'text', nullable: true, maxLength: 4096 },
  ],
});

export const userMetadata = new SharedTable({
  name: 'user_metadata',
  table: 'user_metadata',
  dependsOn: [],
  idFrom: ['workspace_key', 'path'],
  fields: [
    ...itemKey,
    { name: 'note', type: 'text', nullable: true, maxLength: 65536 },
    { name: 'favorite', type: 'bool', nullable: true },
    { name: 'hidden', type: 'bool', nullable: true },
    { name: 'custom', type: 'json', nullable: true, maxLength: 65536 },
  ],
  extraSchema: ['CREATE INDEX user_metadata_item ON user_metadata(workspace_key, path)'],
});

export const tagAssignment = new SharedTable({
  name: 'tag_assignment',
  table: 'tag_assignment',
  dependsOn: ['tag'],
  parent: { model: 'tag', table: 'tag', field: 'tag' },
  idFrom: ['tag', 'workspace_key', 'path'],
  fields: [{ name: 'tag', type: 'id', identity: true }, ...itemKey],
  extraSchema: [
    'CREATE INDEX tag_assignment_tag ON tag_assignment(tag)',
    'CREATE INDEX tag_assignment_item ON tag_assignment(workspace_key, path)',
  ],
});

export const albumItem = new SharedTable({
  name: 'album_item',
  table: 'album_item',
  dependsOn: ['album'],
  parent: { model: 'album', table: 'album', field: 'album' },
  idFrom: ['album', 'workspace_key', 'path'],
  fields: [
    { name: 'album', type: 'id', identity: true },
    ...itemKey,
    { name: 'position', type: 'int', nullable: true },
  ],
  extraSchema: ['CREATE INDEX album_item_album ON album_item(album)', 'CREATE INDEX album_item_item ON album_item(workspace_key, path)'],
});

/**
 * The library's members: the devices paired into it and the network keys
 * they were paired with. Shared, so every partner learns of a new device
 * (and of an unpaired one) through sync. A member's row id is derived from
 * its device id; unpairing deletes the row, and only a later pairing (a
 * create) brings it back: a stale update from the removed device cannot.
 * The rows are derived from the library's anchors and its signed member
 * statements (engine/membership.ts), never merged from a snapshot.
 */
export const member = new SharedTable({
  name: 'member',
  table: 'member',
  dependsOn: [],
  idFrom: ['device'],
  fields: [
    { name: 'device', type: 'id', identity: true },
    /** Hex of the device's 32-byte Hyperswarm public key. */
    { name: 'public_key', type: 'text', maxLength: 64 },
    { name: 'name', type: 'text', maxLength: 256 },
    /**
     * Never stored: JSON list of the ids of the member statements its
     * author held when it wrote this one (the heads of the graph it saw;
     * engine/membership.ts).
     */
    { name: 'after', type: 'json', nullable: true, maxLength: 4096 },
  ],
});

/** Every model, in dependency order (parents before children). */
export const MODELS = [device, volume, location, entry, tag, album, userMetadata, tagAssignment, albumItem, member] as const;
