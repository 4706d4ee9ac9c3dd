/**
 * What the service reports, as plain JSON data (ids as UUID strings, keys
 * as hex, times as ms since the epoch). The control channel sends these
 * objects as they are, and `leaderless status --json` prints them: fields
 * are only ever added, never renamed or removed.
 */
import type { OwnerProof } from '../engine/owner-proofs';
import type { BackfillProgress } from '../sync/backfill';
import type { SyncState } from '../sync/peer-sync';

/**
 * A library's sync state: the engine's, or 'stopped' when no service runs
 * for the data directory (a one-shot command opened the library itself).
 */
export type LibrarySyncState = SyncState | 'stopped';

export interface PartnerStatus {
  device: string;
  name: string | null;
  /** The network key it was paired with (hex), null if none. */
  publicKey: string | null;
  /** A link to it is up. */
  online: boolean;
  /** The link is up and caught up. */
  ready: boolean;
  /** When it was last heard from (ms), null if never. */
  lastSeen: number | null;
  addedAt: number;
  /** Shared changes in this device's peer log it has not acknowledged: the log is kept for it. */
  lag: number;
  /**
   * When it stops holding the peer log back unless it is heard from and
   * acknowledges meanwhile (ms): its last contact (or when it was paired),
   * or when the oldest entry it has not acknowledged was logged, whichever
   * is earlier, + the library's `pruneAbsentAfterMs`. After that its
   * unacknowledged entries may be pruned (also while it is connected), and
   * it gets a snapshot for them. Null: no horizon (it holds the log back
   * however long).
   */
  holdsLogUntil: number | null;
  /** Until when this device refuses its links because it sent too many bad frames or records (ms); null: not cut off. */
  cutOffUntil?: number | null;
  /** Whether what this device holds of the partner's files and folders is exactly what it signed (missing from an older service's answer). */
  verified?: VerifiedStatus;
}

/**
 * - verified: what is held here of the device's own rows (its device,
 *   volumes, locations, entries) is exactly what it signed;
 * - behind: it has signed newer rows than are held here (catching up);
 * - unproven: rows are held that no signature of it covers yet (none came
 *   yet, or rows came that no seal covers yet);
 * - mismatch: the rows held are not what it signed (forged, or some are
 *   missing): being repaired;
 * - none: no rows of it and no signature of it here.
 */
export type VerifiedState = 'verified' | 'behind' | 'unproven' | 'mismatch' | 'none';

export interface VerifiedStatus {
  state: VerifiedState;
  /** Since when (ms) what is held has been exactly what it signed (state 'verified'); null otherwise. */
  since: number | null;
  /** Its rows held here (0: none). */
  rows: number;
  /** The rows its newest signature held here covers; null: no signature of it here. */
  sealedRows: number | null;
}

/** A device's OwnerProof as reported (undefined: none, i.e. no rows and no seal of it here). */
export function verifiedStatus(p: OwnerProof | undefined): VerifiedStatus {
  if (!p) return { state: 'none', since: null, rows: 0, sealedRows: null };
  return { state: p.state, since: p.state === 'verified' ? p.since : null, rows: p.held?.rows ?? 0, sealedRows: p.newest?.rows ?? null };
}

export interface BackfillStatus {
  /** Rows received and announced in the current round, all models together. */
  received: number;
  announced: number;
  /** Partners serving rows right now. */
  serving: number;
  done: boolean;
  /** Per device-owned model. */
  models: Record<string, { received: number; announced: number }>;
}

export interface LibraryStatus {
  library: string;
  name: string;
  /** This device's id in the library. */
  device: string;
  state: LibrarySyncState;
  /** This device has completed a backfill since it joined (or since the last full resync). */
  backfilled: boolean;
  /** The last backfill or catch-up progress reported since the service started (null: none). */
  backfill: BackfillStatus | null;
  partners: PartnerStatus[];
  /**
   * Other devices whose own rows (or a signature of them) are held here, and
   * how many of those are held exactly as they signed (missing from an older
   * service's answer).
   */
  verified?: { owners: number; verified: number };
  /** Shared changes held in the peer log (until every partner acknowledged them). */
  logSize: number;
  /**
   * How long a partner may go unheard before it stops holding the peer log
   * back (ms; the `leaderlessSync.pruneAbsentAfterDays` setting, `serve
   * --prune-absent-after DAYS`; default 30 days). Null: no horizon.
   */
  pruneAbsentAfterMs: number | null;
  /** Records waiting for their parent to arrive. */
  parked: number;
  counts: Record<string, number>;
  /** Canonical digest of every replicated row (null when not asked for). */
  digest: string | null;
  /**
   * Why sync stopped for this library (state 'failed'): its journal could
   * not be written (disk full, I/O error). Nothing more is sent or received
   * until the library is opened again; null while it works.
   */
  error: string | null;
}

/**
 * - off: no networking was started (a one-shot command);
 * - up: on the swarm (`announced`: this device's key is on the DHT);
 * - suspended: left the swarm on request (resume() rejoins);
 * - unavailable: networking could not start here (`error` says why); the
 *   libraries work locally.
 */
export type NetworkState = 'off' | 'up' | 'suspended' | 'unavailable';

export interface NetworkStatus {
  state: NetworkState;
  announced: boolean;
  error: string | null;
  /** The DHT bootstrap nodes as host:port, or null for Hyperswarm's public ones. */
  bootstrap: string[] | null;
}

export interface ServiceInfo {
  /** A service runs for this data directory and answered (false: the command opened the libraries itself). */
  running: boolean;
  /** The service's process id (null when not running). */
  pid: number | null;
  dataDir: string;
  /** This device's network public key (hex). */
  publicKey: string;
  network: NetworkStatus;
  /** Libraries found in the data directory that could not be opened. */
  problems: { library: string; error: string }[];
}

export interface StatusReport {
  service: ServiceInfo;
  libraries: LibraryStatus[];
}

export function backfillStatus(p: BackfillProgress): BackfillStatus {
  const models: Record<string, { received: number; announced: number }> = {};
  for (const [m, v] of Object.entries(p.models)) models[m] = { received: v.received, announced: v.announced };
  return { received: p.received, announced: p.announced, serving: p.serving, done: p.done, models };
}
