/**
 * The status webview's view model, free of `vscode` so plain mocha tests it:
 * what the engine answered (`status`, `peers`, `activity`) and the progress
 * events seen so far become one JSON snapshot the webview renders as it is.
 *
 * Every input may be missing: the engine may not be running yet, and a
 * method may be unknown to an older engine (ERR_UNKNOWN_METHOD). The
 * snapshot then says what is missing and why instead of failing; peers fall
 * back to the partner list of `status`, the log size to `status.logSize`.
 */
import type { EngineConnectionState } from '../engine-client';

// ---- what the engine answers (only the fields read here; all are JSON) ----

export type SyncStateName = 'uninitialized' | 'offline' | 'backfilling' | 'catching-up' | 'ready' | 'paused' | 'failed';

export interface BackfillInput {
  received: number;
  announced: number;
  serving?: number;
  done?: boolean;
  models?: Record<string, { received: number; announced: number }>;
}

export interface PartnerInput {
  device: string;
  name: string | null;
  publicKey?: string | null;
  online: boolean;
  ready: boolean;
  lastSeen: number | null;
  /** Not in every engine version: log entries it has not acknowledged, and when it stops holding the log back. */
  lag?: number;
  holdsLogUntil?: number | null;
  /** Not in every engine version: until when its links are refused for sending bad records (ms), null: not cut off. */
  cutOffUntil?: number | null;
  /** Not in every engine version: whether its files held here are exactly what it signed. */
  verified?: VerifiedInput;
}

/** `verified` of a partner in `status` and `peers` (src/service/status.ts VerifiedStatus). */
export interface VerifiedInput {
  state: string;
  since?: number | null;
  rows?: number;
  sealedRows?: number | null;
}

export interface LibraryStatusInput {
  library: string;
  name: string;
  device: string;
  /** Not in every engine version: the device's own name. */
  deviceName?: string | null;
  state: string;
  backfilled?: boolean;
  backfill: BackfillInput | null;
  partners?: PartnerInput[];
  logSize?: number;
  /** Not in every engine version: how long a partner may go unheard before it stops holding the log back (ms), null: no such horizon. */
  pruneAbsentAfterMs?: number | null;
  parked?: number;
  counts?: Record<string, number>;
  /** Not in every engine version: why sync stopped (state 'failed'). */
  error?: string | null;
}

export interface NetworkInput {
  state: string;
  announced?: boolean;
  error: string | null;
  bootstrap?: string[] | null;
}

export interface StatusInput {
  service?: { running?: boolean; pid?: number | null; publicKey?: string; network?: NetworkInput; problems?: { library: string; error: string }[] };
  libraries: LibraryStatusInput[];
}

export interface PeerInput {
  device: string;
  name: string | null;
  online: boolean;
  ready?: boolean;
  state?: string;
  lastSeen: number | null;
  backfill?: { received: number; announced: number } | null;
  lag?: number;
  /** Not in every engine version: when it stops holding the log back unless heard from and acknowledging meanwhile (ms), null: never. */
  holdsLogUntil?: number | null;
  /** Not in every engine version: until when its links are refused for sending bad records (ms), null: not cut off. */
  cutOffUntil?: number | null;
  /** Not in every engine version: whether its files held here are exactly what it signed. */
  verified?: VerifiedInput;
  paused?: boolean;
}

export interface ChangeInput {
  at: number;
  device: string;
  name: string | null;
  model: string;
  count: number;
}

export interface RefusedInput {
  at: number;
  /** The partner that sent it. */
  device: string;
  name: string | null;
  reason: string;
  /** How far ahead of this device's clock (null: refused as invalid). */
  skewMs: number | null;
  /** The device that wrote the stamp (may differ from the sender), if known. */
  origin?: string | null;
  model?: string | null;
}

export interface ErrorInput {
  at: number;
  message: string;
  device?: string | null;
  name?: string | null;
}

/** The peer log as `activity` reports it (src/service/methods/activity.ts). */
export interface LogInput {
  size: number;
  /** How many entries were pruned so far: the sum over origins of the seq each was pruned up to (null: none). */
  horizon: number | null;
  origins?: { device: string; name: string | null; pruned: number }[];
  /** The last prune by the running service (ms), null: none since it started. */
  prunedAt?: number | null;
  /** Entries the running service pruned since it started. */
  prunedEntries?: number;
}

export interface ActivityInput {
  received?: ChangeInput[];
  sent?: ChangeInput[];
  refused?: RefusedInput[];
  errors?: ErrorInput[];
  log?: LogInput;
}

/** One input of the snapshot: its value, or why there is none. */
export type Fetched<T> =
  | { ok: true; value: T }
  | { ok: false; code: string; message: string }
  /** Not asked yet. */
  | null;

export const UNKNOWN_METHOD = 'ERR_UNKNOWN_METHOD';

/** The `code` and message of a rejected call (a ControlError, or anything else). */
export function failure(e: unknown): { ok: false; code: string; message: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return {
    ok: false,
    code: typeof code === 'string' ? code : 'ERR_FAILED',
    message: e instanceof Error ? e.message : String(e),
  };
}

// ---- rate and ETA ----

export interface ProgressSample {
  /** ms */
  at: number;
  received: number;
  announced: number;
  done: boolean;
}

export interface RateEstimate {
  /** Rows per second over the window, null while there are not enough samples to tell. */
  rate: number | null;
  /** Seconds until received = announced at that rate; 0 when done; null when unknown (no rate, or stalled). */
  etaSeconds: number | null;
}

/**
 * Rows per second over a sliding window of progress samples. The rate is
 * the rows received between the oldest and the newest sample in the window
 * over the time between them; a new round (fewer rows received than before)
 * starts afresh. Samples older than the window are dropped, so a backfill
 * that stalls has no rate (and no ETA) once its last sample is that old.
 */
export class RateMeter {
  private samples: ProgressSample[] = [];

  constructor(
    /** Width of the window, ms. */
    readonly windowMs = 10_000,
    /** The shortest span between samples a rate is computed over, ms (shorter ones are noise). */
    readonly minSpanMs = 500,
  ) {}

  add(s: ProgressSample): void {
    const last = this.samples[this.samples.length - 1];
    if (last && (s.received < last.received || s.at < last.at)) this.samples = [];
    this.samples.push(s);
    this.trim(s.at);
  }

  reset(): void {
    this.samples = [];
  }

  get last(): ProgressSample | null {
    return this.samples[this.samples.length - 1] ?? null;
  }

  estimate(now: number): RateEstimate {
    this.trim(now);
    const last = this.last;
    if (!last) return { rate: null, etaSeconds: null };
    if (last.done) return { rate: this.rateOf(), etaSeconds: 0 };
    const rate = this.rateOf();
    if (rate === null) return { rate: null, etaSeconds: null };
    const left = Math.max(0, last.announced - last.received);
    return { rate, etaSeconds: rate > 0 ? left / rate : left === 0 ? 0 : null };
  }

  private rateOf(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last) return null;
    const span = last.at - first.at;
    if (span < this.minSpanMs) return null;
    return ((last.received - first.received) * 1000) / span;
  }

  private trim(now: number): void {
    const from = now - this.windowMs;
    let i = 0;
    while (i < this.samples.length && this.samples[i]!.at < from) i++;
    if (i > 0) this.samples = this.samples.slice(i);
  }
}

// ---- the snapshot the webview renders ----

export const SYNC_STATES: readonly { state: SyncStateName; label: string; description: string }[] = [
  { state: 'uninitialized', label: 'Uninitialized', description: 'Sync has not started.' },
  { state: 'offline', label: 'Offline', description: 'Started, but no partner is linked (none online, or none yet).' },
  { state: 'backfilling', label: 'Backfilling', description: 'Pulling everything for the first time (since joining, or a full resync).' },
  { state: 'catching-up', label: 'Catching up', description: 'Pulling what changed while away.' },
  { state: 'ready', label: 'Ready', description: 'Linked and caught up.' },
  { state: 'paused', label: 'Paused', description: 'Sync is paused.' },
  { state: 'failed', label: 'Failed', description: 'This device could not write its journal (disk full, I/O error): nothing is sent or received until the library is opened again.' },
];

export interface StateView {
  state: SyncStateName;
  label: string;
  description: string;
  current: boolean;
}

export interface PeerView {
  device: string;
  name: string;
  online: boolean;
  state: string;
  lastSeen: number | null;
  backfill: { received: number; announced: number; percent: number | null } | null;
  /** Shared changes this device holds that the peer has not acknowledged (null: not reported). */
  lag: number | null;
  /** When it stops holding the peer log back unless heard from and acknowledging meanwhile: last seen, or its oldest unacknowledged entry, + the horizon (null: no horizon, or not reported). */
  holdsLogUntil: number | null;
  /**
   * Whether the log is still kept for it: true within the horizon, false
   * once it has been away, or connected without acknowledging, longer (its
   * entries may be pruned; it gets a snapshot for them); null: not reported.
   */
  holdsLog: boolean | null;
  /** Until when this device refuses its links because it sent too many bad frames or records (null: not cut off). */
  cutOffUntil: number | null;
  /**
   * Whether what this device holds of its files and folders is exactly what
   * it signed: 'verified' (since when, ms), 'behind' (catching up),
   * 'unproven', 'mismatch' (forged or missing records, being repaired),
   * 'none' (nothing of it here); rows held and rows its newest signature
   * states. Null: the engine does not say.
   */
  verified: { state: string; since: number | null; rows: number; sealedRows: number | null } | null;
  paused: boolean;
}

export interface BackfillView {
  received: number;
  announced: number;
  /** 0–100, null when nothing was announced. */
  percent: number | null;
  serving: number | null;
  done: boolean;
  rate: number | null;
  etaSeconds: number | null;
  models: { model: string; received: number; announced: number }[];
}

export interface Section<T> {
  /** Whether the engine gave this section (false: `note` says why). */
  available: boolean;
  note: string | null;
  items: T[];
}

export interface StatusSnapshot {
  /** When the snapshot was made (ms). */
  at: number;
  engine: {
    connection: EngineConnectionState;
    /** The engine answered `status`. */
    available: boolean;
    /** Why not (the connection's error or the call's), null when available. */
    message: string | null;
  };
  libraries: { library: string; name: string }[];
  /** The library shown (null: none). */
  selected: string | null;
  library: {
    library: string;
    name: string;
    device: string;
    deviceName: string | null;
    state: string;
    backfilled: boolean | null;
    parked: number | null;
    counts: Record<string, number>;
    /** Why sync stopped for this library (state 'failed'), else null. */
    error: string | null;
  } | null;
  states: StateView[];
  network: { state: string; announced: boolean | null; error: string | null; bootstrap: string[] | null } | null;
  service: { running: boolean | null; pid: number | null; publicKey: string | null } | null;
  problems: { library: string; error: string }[];
  backfill: BackfillView | null;
  log: {
    /** Shared changes held (until every partner acknowledged them); null: unknown. */
    size: number | null;
    /** Entries pruned so far, summed over origins (null: none, or not reported). */
    horizon: number | null;
    /** Per origin device: the seq its entries were pruned up to. */
    origins: { device: string; name: string; pruned: number }[];
    prunedAt: number | null;
    prunedEntries: number | null;
    /** How long a partner may go unheard before it stops holding the log back (ms); 'none': no horizon; null: not reported. */
    pruneAbsentAfterMs: number | 'none' | null;
  };
  peers: Section<PeerView> & { source: 'peers' | 'status' | null };
  received: Section<ChangeInput>;
  sent: Section<ChangeInput>;
  refused: Section<RefusedInput>;
  errors: Section<ErrorInput>;
}

export interface SnapshotInputs {
  now: number;
  connection: EngineConnectionState;
  connectionError: string | null;
  /** The library the user picked (id), null: the first one. */
  preferred: string | null;
  status: Fetched<StatusInput>;
  peers: Fetched<PeerInput[]>;
  activity: Fetched<ActivityInput>;
  /** Latest 'state' event of the selected library, newer than `status` (null: none). */
  liveState?: string | null;
  /** Latest 'progress' event of the selected library, newer than `status` (null: none). */
  liveProgress?: BackfillInput | null;
  /** Latest 'network' event, newer than `status`. */
  liveNetwork?: NetworkInput | null;
  rate: RateEstimate;
  /** The device's own name when `status` does not carry it (e.g. from `devices`). */
  deviceName?: string | null;
}

const CONNECTION_MESSAGE: Partial<Record<EngineConnectionState, string>> = {
  failed: 'Engine not available: it could not start here',
  stopped: 'Engine not running (Leaderless Sync is disabled, or VS Code is shutting down)',
};

function isFinite(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n);
}

function percentOf(received: number, announced: number): number | null {
  if (!isFinite(announced) || announced <= 0) return null;
  return Math.min(100, Math.max(0, (received / announced) * 100));
}

function unavailable<T>(f: Fetched<T>, what: string, engineUp: boolean): string {
  if (!engineUp) return 'Waiting for the engine.';
  if (f === null) return 'Loading…';
  if (f.ok) return '';
  if (f.code === UNKNOWN_METHOD) return `This engine does not report ${what}.`;
  return `Could not read ${what}: ${f.message}`;
}

function section<T>(items: T[] | undefined, f: Fetched<unknown>, what: string, engineUp: boolean): Section<T> {
  if (f?.ok && Array.isArray(items)) return { available: true, note: null, items };
  // An answer without this list: an engine that does not report it (yet).
  const why: Fetched<unknown> = f?.ok ? { ok: false, code: UNKNOWN_METHOD, message: '' } : f;
  return { available: false, note: unavailable(why, what, engineUp), items: [] };
}

/** Picks the library shown: the preferred one if it still exists, else the first. */
export function pickLibrary(libraries: readonly { library: string }[], preferred: string | null): string | null {
  if (preferred && libraries.some((l) => l.library === preferred)) return preferred;
  return libraries[0]?.library ?? null;
}

/** Merges everything known into the snapshot the webview renders. Never throws on missing or partial data. */
export function buildSnapshot(i: SnapshotInputs): StatusSnapshot {
  const status = i.status?.ok ? i.status.value : null;
  const libs = Array.isArray(status?.libraries) ? status!.libraries : [];
  const selected = pickLibrary(libs, i.preferred);
  const lib = libs.find((l) => l.library === selected) ?? null;
  const engineUp = status !== null;
  let message: string | null = null;
  if (!engineUp) {
    const reason = i.connectionError ?? (i.status && !i.status.ok ? i.status.message : null);
    if (i.connection === 'starting') message = reason ? `Engine starting… (${reason})` : 'Engine starting…';
    else if (reason) message = `Engine not available: ${reason}`;
    else if (i.connection === 'owner' || i.connection === 'client') message = 'Connecting to the engine…';
    else message = CONNECTION_MESSAGE[i.connection] ?? 'Engine not available';
  }

  const stateName = i.liveState ?? lib?.state ?? null;
  const states: StateView[] = SYNC_STATES.map((s) => ({ ...s, current: s.state === stateName }));

  const net = i.liveNetwork ?? status?.service?.network ?? null;
  const network = net
    ? { state: String(net.state), announced: typeof net.announced === 'boolean' ? net.announced : null, error: net.error ?? null, bootstrap: net.bootstrap ?? null }
    : null;

  const progress = i.liveProgress ?? lib?.backfill ?? null;
  let backfill: BackfillView | null = null;
  if (progress && isFinite(progress.received) && isFinite(progress.announced)) {
    const done = progress.done === true;
    backfill = {
      received: progress.received,
      announced: progress.announced,
      percent: done ? 100 : percentOf(progress.received, progress.announced),
      serving: isFinite(progress.serving) ? progress.serving : null,
      done,
      rate: i.rate.rate,
      etaSeconds: done ? 0 : i.rate.etaSeconds,
      models: Object.entries(progress.models ?? {})
        .map(([model, v]) => ({ model, received: v.received, announced: v.announced }))
        .sort((a, b) => a.model.localeCompare(b.model)),
    };
  }

  const activity = i.activity?.ok ? i.activity.value : null;
  const l = activity?.log;
  const log: StatusSnapshot['log'] = {
    size: isFinite(l?.size) ? l!.size : isFinite(lib?.logSize) ? lib!.logSize! : null,
    horizon: isFinite(l?.horizon) ? l!.horizon : null,
    origins: Array.isArray(l?.origins) ? l!.origins.map((o) => ({ device: o.device, name: o.name ?? shortId(o.device), pruned: o.pruned })) : [],
    prunedAt: isFinite(l?.prunedAt) ? l!.prunedAt : null,
    prunedEntries: isFinite(l?.prunedEntries) ? l!.prunedEntries : null,
    pruneAbsentAfterMs: isFinite(lib?.pruneAbsentAfterMs) ? lib!.pruneAbsentAfterMs : lib?.pruneAbsentAfterMs === null ? 'none' : null,
  };
  /** What the log keeps for a partner: its unacknowledged entries while online or within the horizon. */
  const hold = (online: boolean, lag: unknown, until: unknown): Pick<PeerView, 'lag' | 'holdsLogUntil' | 'holdsLog'> => {
    const holdsLogUntil = isFinite(until) ? until : null;
    let holdsLog: boolean | null = null;
    if (holdsLogUntil !== null) holdsLog = i.now < holdsLogUntil;
    else if (online) holdsLog = true;
    else if (until === null && log.pruneAbsentAfterMs === 'none') holdsLog = true;
    return { lag: isFinite(lag) ? lag : null, holdsLogUntil, holdsLog };
  };

  const verified = (v: VerifiedInput | undefined): PeerView['verified'] =>
    v && typeof v === 'object' && typeof v.state === 'string'
      ? { state: v.state, since: v.state === 'verified' && isFinite(v.since) ? v.since : null, rows: isFinite(v.rows) ? v.rows : 0, sealedRows: isFinite(v.sealedRows) ? v.sealedRows : null }
      : null;

  let peers: StatusSnapshot['peers'];
  if (i.peers?.ok && Array.isArray(i.peers.value)) {
    peers = {
      source: 'peers',
      available: true,
      note: null,
      items: i.peers.value.map((p) => ({
        device: p.device,
        name: p.name ?? shortId(p.device),
        online: !!p.online,
        state: p.state ?? (p.online ? (p.ready ? 'ready' : 'connecting') : 'offline'),
        lastSeen: p.lastSeen ?? null,
        backfill: p.backfill ? { ...p.backfill, percent: percentOf(p.backfill.received, p.backfill.announced) } : null,
        ...hold(!!p.online, p.lag, p.holdsLogUntil),
        cutOffUntil: isFinite(p.cutOffUntil) && p.cutOffUntil > i.now ? p.cutOffUntil : null,
        verified: verified(p.verified),
        paused: !!p.paused,
      })),
    };
  } else if (lib && Array.isArray(lib.partners)) {
    // Older engine (no `peers` method) or the call failed: the partner list of `status` still says who is online.
    peers = {
      source: 'status',
      available: true,
      note: i.peers && !i.peers.ok && i.peers.code !== UNKNOWN_METHOD ? `Per-peer progress unavailable: ${i.peers.message}` : null,
      items: lib.partners.map((p) => ({
        device: p.device,
        name: p.name ?? shortId(p.device),
        online: !!p.online,
        state: p.online ? (p.ready ? 'ready' : 'connecting') : 'offline',
        lastSeen: p.lastSeen ?? null,
        backfill: null,
        ...hold(!!p.online, p.lag, p.holdsLogUntil),
        cutOffUntil: isFinite(p.cutOffUntil) && p.cutOffUntil > i.now ? p.cutOffUntil : null,
        verified: verified(p.verified),
        paused: false,
      })),
    };
  } else {
    peers = { source: null, ...section<PeerView>(undefined, i.peers, 'its peers', engineUp && !!lib) };
    if (engineUp && !lib) peers.note = 'No library yet.';
  }

  const actUp = engineUp && !!lib;
  const act = (items: unknown, what: string) => {
    const s = section(Array.isArray(items) ? (items as never[]) : undefined, i.activity, what, actUp);
    if (engineUp && !lib) s.note = 'No library yet.';
    return s;
  };

  return {
    at: i.now,
    engine: { connection: i.connection, available: engineUp, message },
    libraries: libs.map((l) => ({ library: l.library, name: l.name })),
    selected,
    library: lib
      ? {
          library: lib.library,
          name: lib.name,
          device: lib.device,
          deviceName: lib.deviceName ?? i.deviceName ?? null,
          state: stateName ?? lib.state,
          backfilled: typeof lib.backfilled === 'boolean' ? lib.backfilled : null,
          parked: isFinite(lib.parked) ? lib.parked : null,
          counts: lib.counts ?? {},
          error: lib.error ?? null,
        }
      : null,
    states,
    network,
    service: status?.service
      ? { running: status.service.running ?? null, pid: status.service.pid ?? null, publicKey: status.service.publicKey ?? null }
      : null,
    problems: status?.service?.problems ?? [],
    backfill,
    log,
    peers,
    received: act(activity?.received, 'changes received'),
    sent: act(activity?.sent, 'changes sent'),
    refused: act(activity?.refused, 'refused stamps'),
    errors: act(activity?.errors, 'errors'),
  };
}

export function shortId(id: string): string {
  return typeof id === 'string' ? id.slice(0, 8) : '?';
}
