/**
 * The peer log: every shared change this device has made or received, kept
 * until every partner has acknowledged it (DESIGN rules 4 and 5).
 *
 * Each origin numbers its changes 1, 2, 3, … The version vector records, per
 * origin, the highest seq received with nothing missing below it, so a
 * change that arrived early (after a drop or a reorder) never lets catch-up
 * skip the one before it.
 */
import type { SharedChange } from '../models/model';
import type { Reader, Writer } from '../store';
import { compareBytes, decodeHlc, encodeHlc, type Hlc } from '../core/hlc';
import { idKey, toHex, type Id } from '../core/ids';
import { opCode, opFromCode } from './records';
import type { Registry } from './registry';

export interface VectorEntry {
  readonly origin: Id;
  /** Highest seq held with no gap below it. */
  readonly seq: number;
  readonly hlc: Hlc | null;
  /** Entries up to this seq were pruned from the log. */
  readonly pruned: number;
}

/** origin (idKey) → entry. */
export type VersionVector = Map<string, VectorEntry>;

export interface LogRead {
  changes: SharedChange[];
  /** More changes follow after these (ask again with the vector advanced). */
  hasMore: boolean;
  /** Origins whose requested range was already pruned here: the requester needs a snapshot. */
  pruned: Id[];
}

/**
 * How far a snapshot served now reflects `v`'s origin: its contiguous seq,
 * held below any change of it still parked (in the vector, not yet in its
 * table; `waiting`: origin → lowest seq parked).
 */
export function baseSeq(v: { origin: Id; seq: number }, waiting: ReadonlyMap<string, number>): number {
  return Math.min(v.seq, (waiting.get(idKey(v.origin)) ?? Infinity) - 1);
}

/** The columns of a log row that `change()` reads, in its order. */
const CHANGE_COLUMNS = 'seq, hlc, model, uuid, op, data, signature';

export class PeerLog {
  constructor(
    private readonly registry: Registry,
    /** ms: when an entry is logged here (the library's clock) */
    private readonly now: () => number,
  ) {}

  /** Highest seq received from `origin` with nothing missing below it (0 if none). */
  contiguous(r: Reader, origin: Id): number {
    const v = r.value('SELECT seq FROM log_vector WHERE origin = ?', [origin]);
    return typeof v === 'number' ? v : 0;
  }

  /**
   * Adds a change; false if it is already held (at or below the vector, which
   * covers pruned entries, or in the log above a gap). Advances the vector
   * over any gap it closes.
   */
  append(w: Writer, ch: SharedChange): boolean {
    const origin = ch.hlc.device;
    const contiguous = this.contiguous(w, origin);
    if (ch.seq <= contiguous) return false;
    // The next change of its origin (always so for this device's own) cannot be here yet.
    if (ch.seq !== contiguous + 1 && w.value('SELECT 1 FROM peer_log WHERE origin = ? AND seq = ?', [origin, ch.seq]) !== undefined) return false;
    const hlc = this.insert(w, ch);
    if (ch.seq !== contiguous + 1) return true;
    const top = this.heldFrom(w, origin, ch.seq);
    w.run(
      'INSERT INTO log_vector (origin, seq, hlc) VALUES (?, ?, ?) ON CONFLICT(origin) DO UPDATE SET seq = excluded.seq, hlc = excluded.hlc',
      [origin, top.seq, top.hlc ?? hlc],
    );
    return true;
  }

  /**
   * Adds this run's own next change: its origin is new this run and numbers
   * from 1, so nothing of it can be held above the vector, and the origin
   * row is written with the first. Throws if the vector is not just below
   * it (a change numbered twice is a bug, never to be ignored).
   */
  appendOwn(w: Writer, ch: SharedChange): void {
    const hlc = this.insert(w, ch, ch.seq === 1);
    const moved = w.run(
      'INSERT INTO log_vector (origin, seq, hlc) VALUES (?, ?, ?) ON CONFLICT(origin) DO UPDATE SET seq = excluded.seq, hlc = excluded.hlc WHERE log_vector.seq = excluded.seq - 1',
      [ch.hlc.device, ch.seq, hlc],
    );
    if (moved !== 1) {
      throw new Error(`internal error: the peer log holds this device's own change ${ch.seq} of origin ${toHex(ch.hlc.device).slice(0, 12)} already`);
    }
  }

  /**
   * Whether the log holds change `ch.seq` of its origin as something other
   * than `ch` (stamp, model, row, operation, data or signature); false if
   * that entry is not in the log (pruned: nothing to compare with).
   */
  heldOtherwise(r: Reader, ch: SharedChange): boolean {
    const row = r.rows('SELECT hlc, model, uuid, op, data, signature FROM peer_log WHERE origin = ? AND seq = ?', [ch.hlc.device, ch.seq])[0];
    if (!row) return false;
    const [hlc, model, uuid, op, data, signature] = row;
    try {
      const same = (a: unknown, b: unknown) => a instanceof Uint8Array && b instanceof Uint8Array && compareBytes(a, b) === 0;
      return !(
        same(hlc, encodeHlc(ch.hlc)) &&
        model === ch.model &&
        same(uuid, ch.uuid) &&
        op === opCode(ch.op) &&
        same(data, this.registry.sharedModel(ch.model).codec.encode(ch.data)) &&
        same(signature, ch.signature)
      );
    } catch {
      return true; // not even encodable: not what is held
    }
  }

  /** Whether `ch` is held already (append would refuse it). */
  holds(r: Reader, ch: SharedChange): boolean {
    const origin = ch.hlc.device;
    return ch.seq <= this.contiguous(r, origin) || r.value('SELECT 1 FROM peer_log WHERE origin = ? AND seq = ?', [origin, ch.seq]) !== undefined;
  }

  vector(r: Reader): VersionVector {
    const out: VersionVector = new Map();
    for (const [origin, seq, hlc, pruned] of r.rows('SELECT origin, seq, hlc, pruned FROM log_vector')) {
      const o = origin as Uint8Array;
      out.set(idKey(o), { origin: o, seq: seq as number, hlc: hlc instanceof Uint8Array ? decodeHlc(hlc) : null, pruned: pruned as number });
    }
    return out;
  }

  /**
   * Changes the requester lacks, given what it has (origin → contiguous
   * seq), oldest first per origin, at most `limit`.
   */
  since(r: Reader, have: ReadonlyMap<string, number>, limit: number): LogRead {
    const changes: SharedChange[] = [];
    const pruned: Id[] = [];
    let hasMore = false;
    for (const v of [...this.vector(r).values(), ...this.gappedOnly(r)]) {
      const from = have.get(idKey(v.origin)) ?? 0;
      if (from < v.pruned) {
        pruned.push(v.origin);
        continue;
      }
      if (hasMore) continue;
      const rows = r.rows(`SELECT ${CHANGE_COLUMNS} FROM peer_log WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?`, [
        v.origin,
        from,
        limit - changes.length + 1,
      ]);
      if (rows.length === 0) continue;
      const author = this.author(r, v.origin);
      for (const row of rows) {
        if (changes.length === limit) {
          hasMore = true;
          break;
        }
        const ch = this.change(v.origin, author, row);
        // Written before changes were signed (an upgraded library): nothing any device would accept; the requester gets a snapshot instead.
        if (!ch) {
          pruned.push(v.origin);
          break;
        }
        changes.push(ch);
      }
    }
    return { changes, hasMore, pruned };
  }

  /**
   * Origins whose changes are all held above a gap (no vector entry yet):
   * each change is signed, so it goes on to whoever lacks it like any
   * other, and a gap that can never close (its changes were lost with the
   * disk of the device that wrote them) keeps nothing from spreading.
   */
  private gappedOnly(r: Reader): VectorEntry[] {
    return r
      .rows('SELECT origin FROM origin o WHERE NOT EXISTS (SELECT 1 FROM log_vector v WHERE v.origin = o.origin) AND EXISTS (SELECT 1 FROM peer_log l WHERE l.origin = o.origin)')
      .map(([o]) => ({ origin: o as Uint8Array, seq: 0, hlc: null, pruned: 0 }));
  }

  /**
   * The changes at (origin, seq) for each `at` that the log holds, signed
   * (the heads a snapshot base names: proof that each origin really wrote
   * that far).
   */
  heads(r: Reader, at: readonly { origin: Id; seq: number }[]): SharedChange[] {
    const out: SharedChange[] = [];
    for (const { origin, seq } of at) {
      const row = r.rows(`SELECT ${CHANGE_COLUMNS} FROM peer_log WHERE origin = ? AND seq = ?`, [origin, seq])[0];
      const ch = row && this.change(origin, this.author(r, origin), row);
      if (ch) out.push(ch);
    }
    return out;
  }

  /**
   * Keeps `ch` (verified: the head of a snapshot base just adopted) in the
   * log without applying it (the snapshot's rows hold its effect), so that
   * this device can prove the base to others in turn.
   */
  keepHead(w: Writer, ch: SharedChange): void {
    this.insert(w, ch);
  }

  /** Writes `ch` as a log row (and, unless known to be there, who its origin is); returns its encoded stamp. */
  private insert(w: Writer, ch: SharedChange, newOrigin = true): Uint8Array {
    const model = this.registry.sharedModel(ch.model);
    const hlc = encodeHlc(ch.hlc);
    // Which device (and key) and run an origin is (checked: the origin is derived from them).
    if (newOrigin) w.run('INSERT OR IGNORE INTO origin (origin, device, incarnation, public_key) VALUES (?, ?, ?, ?)', [ch.hlc.device, ch.device, ch.incarnation, ch.publicKey]);
    w.run('INSERT INTO peer_log (origin, seq, hlc, model, uuid, op, data, signature, logged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
      ch.hlc.device,
      ch.seq,
      hlc,
      ch.model,
      ch.uuid,
      opCode(ch.op),
      model.codec.encode(ch.data),
      ch.signature,
      this.now(),
    ]);
    return hlc;
  }

  /** A log row as a change (null: written before signatures, or its author's key unknown). */
  private change(origin: Id, author: { device: Id; incarnation: Uint8Array; publicKey: Uint8Array }, row: readonly unknown[]): SharedChange | null {
    const [seq, hlc, model, uuid, op, data, signature] = row;
    if (!(signature instanceof Uint8Array) || signature.byteLength === 0 || author.publicKey.byteLength === 0) return null;
    const m = this.registry.sharedModel(model as string);
    return {
      model: m.name,
      uuid: uuid as Uint8Array,
      hlc: decodeHlc(hlc as Uint8Array),
      seq: seq as number,
      op: opFromCode(op as number),
      device: author.device,
      incarnation: author.incarnation,
      publicKey: author.publicKey,
      signature,
      data: m.codec.decode(data as Uint8Array),
    };
  }

  /** The device (and its key) and run that an origin's changes come from (for an origin written before incarnations: the origin itself). */
  author(r: Reader, origin: Id): { device: Id; incarnation: Uint8Array; publicKey: Uint8Array } {
    const row = r.rows('SELECT device, incarnation, public_key FROM origin WHERE origin = ?', [origin])[0];
    return row
      ? { device: row[0] as Uint8Array, incarnation: row[1] as Uint8Array, publicKey: row[2] as Uint8Array }
      : { device: origin, incarnation: new Uint8Array(0), publicKey: new Uint8Array(0) };
  }

  /**
   * Records that `partner` holds `origin`'s changes up to `seq` (acks only
   * move forward). Only for origins this device holds: what a partner says
   * about others cannot grow the table.
   */
  recordAck(w: Writer, partner: Id, origin: Id, seq: number): void {
    w.run(
      'INSERT INTO log_ack (partner, origin, seq) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM log_vector WHERE origin = ?) ' +
        'ON CONFLICT(partner, origin) DO UPDATE SET seq = max(seq, excluded.seq)',
      [partner, origin, seq, origin],
    );
  }

  acks(r: Reader, partner: Id): Map<string, number> {
    const out = new Map<string, number>();
    for (const [origin, seq] of r.rows('SELECT origin, seq FROM log_ack WHERE partner = ?', [partner])) out.set(idKey(origin as Uint8Array), seq as number);
    return out;
  }

  /**
   * Removes entries every partner has acknowledged. A partner that never
   * acked an origin counts as zero; with no partners nothing is pruned.
   * `waiting` (origin → lowest seq still parked) holds the horizon below
   * changes not yet applied. Partners not waited for, once `absentSince`
   * (ms) is given: those last heard from before it, and those that left an
   * entry logged before it unacknowledged (present, but not acknowledging:
   * a broken or hostile device must not make the log grow for good). Either
   * gets a snapshot for what was pruned when it asks. Returns the number of
   * entries removed.
   */
  prune(w: Writer, waiting: ReadonlyMap<string, number>, absentSince = -Infinity): number {
    const all = w.rows('SELECT device, coalesce(last_seen, added_at) FROM partner');
    if (all.length === 0) return 0;
    const partners = all.filter((row) => (row[1] as number) >= absentSince && !this.stalled(w, row[0] as Uint8Array, absentSince)).map((row) => row[0] as Uint8Array);
    let removed = 0;
    // Only origins with entries still in the log have anything to prune.
    const inLog = new Set(w.rows('SELECT DISTINCT origin FROM peer_log').map((row) => idKey(row[0] as Uint8Array)));
    for (const v of this.vector(w).values()) {
      if (!inLog.has(idKey(v.origin))) continue;
      // Below the change a snapshot base would name for this origin: that one stays, to prove the base (heads()).
      let horizon = baseSeq(v, waiting) - 1;
      for (const p of partners) {
        const acked = w.value('SELECT seq FROM log_ack WHERE partner = ? AND origin = ?', [p, v.origin]);
        horizon = Math.min(horizon, typeof acked === 'number' ? acked : 0);
      }
      if (horizon <= v.pruned) continue;
      removed += w.run('DELETE FROM peer_log WHERE origin = ? AND seq <= ?', [v.origin, horizon]);
      w.run('UPDATE log_vector SET pruned = ? WHERE origin = ?', [horizon, v.origin]);
    }
    return removed;
  }

  /** Whether `partner` has left an entry logged before `since` (ms) unacknowledged. */
  private stalled(r: Reader, partner: Id, since: number): boolean {
    if (since === -Infinity) return false;
    const oldest = this.unackedBy(r, partner).oldestLoggedAt;
    return oldest !== null && oldest < since;
  }

  /**
   * After a snapshot that reflects `base` (origin → seq): this device now
   * holds the effect of those changes without their log entries. The vector
   * moves up to `base` (marked pruned below it: the change at `seq`, its
   * proof, is kept by keepHead), entries it covers go, and entries already
   * held above it close the gap where they can.
   */
  adopt(w: Writer, base: readonly { origin: Id; seq: number }[]): void {
    for (const { origin, seq } of base) {
      const held = this.contiguous(w, origin);
      if (seq <= held) continue;
      w.run('DELETE FROM peer_log WHERE origin = ? AND seq <= ?', [origin, seq]);
      const top = this.heldFrom(w, origin, seq);
      w.run(
        'INSERT INTO log_vector (origin, seq, hlc, pruned) VALUES (?, ?, ?, ?) ' +
          'ON CONFLICT(origin) DO UPDATE SET seq = excluded.seq, hlc = coalesce(excluded.hlc, log_vector.hlc), pruned = excluded.pruned',
        [origin, top.seq, top.hlc, seq - 1],
      );
    }
  }

  /**
   * Everything up to `seq` of `origin` is held: how far the log entries
   * above it continue without a gap (and the stamp of the last of them,
   * null if none).
   */
  private heldFrom(r: Reader, origin: Id, seq: number): { seq: number; hlc: Uint8Array | null } {
    let hlc: Uint8Array | null = null;
    for (;;) {
      const next = r.value('SELECT hlc FROM peer_log WHERE origin = ? AND seq = ?', [origin, seq + 1]);
      if (!(next instanceof Uint8Array)) return { seq, hlc };
      seq++;
      hlc = next;
    }
  }

  /**
   * Entries held in the log that `partner` has not acknowledged (per origin,
   * above its acked seq: a range on the (origin, seq) key, no scan), and
   * when the oldest of them was logged here (ms; null if it lacks none).
   */
  unackedBy(r: Reader, partner: Id): { entries: number; oldestLoggedAt: number | null } {
    const acked = this.acks(r, partner);
    let entries = 0;
    let oldestLoggedAt: number | null = null;
    for (const [origin] of r.rows('SELECT origin FROM log_vector')) {
      const o = origin as Uint8Array;
      const [n, at] = r.rows('SELECT count(*), min(logged_at) FROM peer_log WHERE origin = ? AND seq > ?', [o, acked.get(idKey(o)) ?? 0])[0];
      entries += Number(n);
      if (typeof at === 'number' && (oldestLoggedAt === null || at < oldestLoggedAt)) oldestLoggedAt = at;
    }
    return { entries, oldestLoggedAt };
  }

  /** How many entries `partner` has not acknowledged (see unackedBy). */
  unacked(r: Reader, partner: Id): number {
    return this.unackedBy(r, partner).entries;
  }

  /** Per origin, the highest seq pruned from the log (0: none): below it, a returning partner needs a snapshot. */
  pruned(r: Reader): { origin: Id; seq: number }[] {
    return r.rows('SELECT origin, pruned FROM log_vector WHERE pruned > 0').map(([o, s]) => ({ origin: o as Uint8Array, seq: s as number }));
  }

  size(r: Reader): number {
    return Number(r.value('SELECT count(*) FROM peer_log'));
  }
}
