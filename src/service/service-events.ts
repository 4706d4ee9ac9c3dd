/**
 * Events of the engine service. Each carries plain JSON data, so the
 * control channel pushes them to subscribers unchanged (event name = key).
 */
import type { LibraryInfo } from '../engine/library';
import type { InviteInfo } from './pairing-desk';
import type { BackfillStatus, LibrarySyncState, NetworkStatus } from './status';

export interface EngineServiceEvents {
  /** A library's sync state changed. */
  state: (e: { library: string; state: LibrarySyncState }) => void;
  /** Backfill or catch-up progress of a library. */
  progress: (e: { library: string; progress: BackfillStatus }) => void;
  /** A partner's link came up (caught up) or went down; or (with `paused`) the user paused or resumed sync with it. */
  peer: (e: { library: string; device: string; name: string | null; up: boolean; paused?: boolean }) => void;
  /**
   * A library's data changed: local commits once durable, changes from
   * partners as soon as they can be read (their flush to disk follows);
   * coalesced per turn of the event loop. `at`: when the first of them
   * became readable (ms since the epoch, with a fraction).
   */
  changed: (e: { library: string; at: number }) => void;
  /** Indexing a folder (add-location) progressed or finished. */
  indexing: (e: { library: string; path: string; scanned: number; written: number; deleted: number; done: boolean }) => void;
  /** The set of open libraries changed. */
  libraries: (e: { libraries: LibraryInfo[] }) => void;
  /** The network started, failed, was suspended or resumed. */
  network: (e: NetworkStatus) => void;
  /** An invite of this device changed: opened, a wrong attempt, joined, expired, revoked, exhausted. */
  invite: (e: InviteInfo) => void;
  /** A log line (never holds a library secret). */
  log: (e: { line: string }) => void;
  /** A library's sync activity grew (changes received or sent, refused stamps, errors: see the `activity` method); at most 4 a second. */
  activity: (e: { library: string }) => void;
}

/** Every event name, for subscribers that want them all and for forwarding. */
export const SERVICE_EVENTS: readonly (keyof EngineServiceEvents)[] = ['state', 'progress', 'peer', 'changed', 'indexing', 'libraries', 'network', 'invite', 'log', 'activity'];
