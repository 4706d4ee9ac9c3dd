/**
 * The shapes of the control methods' answers the views and commands read
 * (src/service/methods/*: the method files' header comments are the
 * reference). Written down here so the UI type-checks against one place;
 * the service only ever adds fields, so every field the UI does not need
 * is left out and new ones may be optional.
 */
export type { StatusReport, LibraryStatus, PartnerStatus, BackfillStatus, NetworkStatus, LibrarySyncState } from '../../service/status';
export type { InviteInfo, JoinResult } from '../../service/pairing-desk';
export type { LibraryInfo } from '../../engine/library';

export interface TagJson {
  id: string;
  name: string;
  color: string | null;
  icon?: string | null;
  description?: string | null;
  namespace?: string | null;
}

/** `tags` */
export interface TagWithCount extends TagJson {
  count: number;
}

/** `albums` */
export interface AlbumWithCount {
  id: string;
  name: string;
  description: string | null;
  count: number;
}

/** `devices`: every member device, this one first. */
export interface DeviceJson {
  device: string;
  name: string;
  self: boolean;
  online: boolean;
  lastSeen: number | null;
  locations: number;
  /** False for a device no longer paired (its locations are still known). */
  member?: boolean;
}

/** `locations {device?}` */
export interface LocationJson {
  id: string;
  device: string;
  deviceName: string;
  self: boolean;
  name: string;
  workspaceKey: string;
  /** The folder's path on its device. */
  path: string;
  entries: number;
  bytes?: number;
  /** This device's own scan: 'scanning', 'done', 'aborted', 'error: …'; null for other devices'. */
  scanState?: string | null;
}

/** One entry of `children {location, path?, limit?}`. */
export interface ChildJson {
  name: string;
  /** Relative to the location ('' is its root). */
  path: string;
  kind: 'file' | 'dir';
  symlink?: boolean;
  hidden?: boolean;
  size: number | null;
  modifiedAt: number | null;
  tags: TagJson[];
  note: boolean;
  favorite: boolean;
  /** This device's copy (same workspace key and path), else null. */
  localPath: string | null;
}

export interface ChildrenJson {
  items: ChildJson[];
  truncated: boolean;
}

/** `taggedItems {tag}`, `albumItems {album}`, `favorites`. */
export interface ItemJson {
  workspaceKey: string;
  path: string;
  localPath?: string | null;
  devices?: { device: string; name: string }[];
}

/** `marks`: tagged, favorite or noted items with a copy on this device. */
export interface MarkJson {
  localPath: string;
  tags: { name: string; color: string | null }[];
  favorite: boolean;
  note: boolean;
}

/** `peers` */
export type { RunnerPeer as PeerJson } from '../../service/library-runner';
export type { PeerState } from '../../sync/peer-sync';

/** `members` */
export interface MemberJson {
  device: string;
  name: string;
  publicKey: string;
  live: boolean;
  self: boolean;
}

/** `note {item…}` */
export interface MetadataJson {
  note: string | null;
  favorite: boolean;
  hidden: boolean;
}

/** How the UI names an item in a call: by this device's absolute path, or by workspace key + relative path. */
export type ItemParams = { path: string } | { workspace: string; path: string };
