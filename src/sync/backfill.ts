/**
 * Pulling device-owned data from partners: backfill for a new device, and
 * the same path for catch-up of one that was away.
 *
 * Work is per owner (a device whose rows we hold or lack): its models in
 * dependency order (device → volume → location → entry), each in pages from
 * this device's persisted watermark, which moves with every page in the
 * page's own transaction. So a restart, or the serving partner going away,
 * resumes at the last page applied, from whichever partner has the owner's
 * rows: one partner per owner at a time (no duplicate transfer), different
 * owners from different partners at once. The next page is requested before
 * the current one is applied, so the partner reads while this device writes.
 *
 * Progress is what the serving partners announce: per (owner, model), rows
 * received over rows received plus rows the partner says remain.
 *
 * This device's own rows are pulled too when a partner holds newer ones
 * than it does, or shows it a seal of its own made by a copy of its data
 * this one is not (it was restored from an old copy, or re-joined: its
 * peers give back what it wrote since). They are pulled as a whole set and
 * taken only if it hashes to the seal of its own the partner sends with it
 * (pullOwn says when else). And where a partner and this device both hold
 * an owner's rows complete up to the same newest stamp but their sums
 * differ (models/owner-state.ts), one of them holds rows the other lacks
 * (rows a restored device wrote before it went back in time, which it no
 * longer has): the whole set is pulled and merged, once per sum the
 * partner reports.
 */
import { compareBytes, encodeHlcTime } from '../core/hlc';
import { idEquals, idKey, idToString, toHex, type Id } from '../core/ids';
import { sameSum, type OwnerState } from '../models/owner-state';
import { checkSeal, matches, sameSeal, stateOfRows, type OwnerSeal } from '../engine/owner-seals';
import type { DeviceOwnedModel, StateRecord } from '../models/model';
import type { Library, OwnRows } from '../engine/library';
import type { HelloMessage, StateResponseMessage } from '../protocol';
import type { Session, SessionOptions } from './session';

export interface ModelProgress {
  received: number;
  announced: number;
}

export interface BackfillProgress {
  /** Per device-owned model: rows received and announced in this round. */
  readonly models: Readonly<Record<string, ModelProgress>>;
  readonly received: number;
  readonly announced: number;
  /** Partners serving rows right now. */
  readonly serving: number;
  /** Nothing left to pull from any connected partner. */
  readonly done: boolean;
}

export interface BackfillHost {
  readonly library: Library;
  readonly options: SessionOptions;
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Live sessions. */
  liveSessions(): Iterable<Session>;
  reportProgress(p: BackfillProgress): void;
}

export class Backfill {
  /** Owner (idKey) → the session pulling its rows. */
  private readonly claims = new Map<string, Session>();
  /** Sessions running a pull loop. */
  private readonly loops = new Map<Session, Promise<void>>();
  /** Per Hello received: owners already pulled from the partner that sent it (a newer Hello starts afresh). */
  private pulled = new WeakMap<HelloMessage, Set<string>>();
  /** `${owner}/${model}` → rows received and announced in this round. */
  private counts = new Map<string, ModelProgress>();
  /** Per serving partner (idKey): the same, for the rows it served this round (a peers view shows them). */
  private byPeer = new Map<string, Map<string, ModelProgress>>();
  private roundOver = true;
  /** While set and connected, only this partner serves (a manual "backfill from"). */
  private preferred: string | null = null;
  /** A manual backfill or full resync is running. */
  private resync = false;
  /** `${peer}/${owner}/${model}` → the partner's sum when its whole set was last pulled to reconcile (not again for the same sum). */
  private readonly reconciled = new Map<string, string>();
  /** Per Hello received: the (owner/model) sets to pull whole from its sender, with the sum it reported (decided once per Hello). */
  private whole = new WeakMap<HelloMessage, Map<string, string>>();
  /** Per Hello received: the seals of this device's own in it whose rows this device lost (Library.lostOwnSeal), not yet asked of its sender. */
  private lost = new WeakMap<HelloMessage, OwnerSeal[]>();
  /** `${peer}/${signature}`: lost seals of its own already asked of that partner in this run (not again: it gave what it held). */
  private readonly askedLost = new Set<string>();

  constructor(private readonly host: BackfillHost) {}

  /** Some partner is serving rows (or about to). */
  get busy(): boolean {
    return this.loops.size > 0;
  }

  /** Rows `peer` served in this round (or the last one): received, and received plus what it said remains; null if none. */
  peerProgress(peer: Id): ModelProgress | null {
    const mine = this.byPeer.get(idKey(peer));
    if (!mine) return null;
    let received = 0;
    let announced = 0;
    for (const c of mine.values()) {
      received += c.received;
      announced += c.announced;
    }
    return { received, announced };
  }

  /** `s` is serving an owner's rows right now. */
  serving(s: Session): boolean {
    for (const holder of this.claims.values()) if (holder === s) return true;
    return false;
  }

  /**
   * A manual backfill or full resync: what was pulled from each partner's
   * last Hello counts for nothing now; with `peer`, only it serves while it
   * is connected.
   */
  restart(peer: Id | null): void {
    this.pulled = new WeakMap();
    this.whole = new WeakMap();
    this.lost = new WeakMap();
    this.resync = true;
    this.preferred = peer ? idKey(peer) : null;
  }

  /**
   * Pulls, from `s`, every owner's rows it has newer than this device's
   * watermark and no other partner is already serving. Resolves when there
   * are none left for it.
   */
  async pullFrom(s: Session): Promise<void> {
    for (let running = this.loops.get(s); running; running = this.loops.get(s)) await running.catch(() => undefined);
    // The whole run is what a second caller waits for: waiting on the pull loop alone, settled while dropOrphans
    // still awaited the disk, spun on a settled promise (microtasks only) and starved the I/O it waited for.
    const run = (async () => {
      await this.loop(s);
      await this.dropOrphans(s);
    })();
    this.loops.set(s, run);
    try {
      await run;
    } finally {
      if (this.loops.get(s) === run) this.loops.delete(s);
      this.finishRound();
    }
  }

  /**
   * The partner is the owner of rows it reports in its Hello: where this
   * device holds all of them, records of it still waiting for one of them
   * wait for a row it no longer has (Library.dropOrphans).
   */
  private async dropOrphans(s: Session): Promise<void> {
    const lib = this.host.library;
    const hello = s.hello;
    if (!hello || lib.parkedCount() === 0) return;
    const own = hello.watermarks.filter((w) => idEquals(w.owner, s.remote));
    if (own.length === 0) return;
    const asOf = own.reduce((a, w) => (compareBytes(w.hlc, a) > 0 ? w.hlc : a), own[0].hlc);
    for (const model of lib.registry.deviceOwned) {
      const newest = own.find((w) => w.model === model.name)?.hlc ?? null;
      const dropped = await this.host.exclusive(() => lib.dropOrphans(s.remote, model.name, newest, asOf));
      if (dropped) s.fail(new Error(`dropped ${dropped} record(s) of this partner that waited for a ${model.name} it no longer has (it went back to an older copy of its data)`));
    }
  }

  /** A session went away: owners it was serving go to other partners (from the persisted checkpoint). */
  sessionClosed(s: Session): void {
    for (const [owner, holder] of this.claims) if (holder === s) this.claims.delete(owner);
    this.wake(s);
  }

  private async loop(s: Session): Promise<void> {
    if (this.roundOver) {
      this.roundOver = false;
      this.counts = new Map();
      this.byPeer = new Map();
    }
    for (;;) {
      await this.announce(s);
      const owner = this.nextOwner(s);
      if (!owner) return;
      const key = idKey(owner);
      this.claims.set(key, s);
      try {
        await this.pullOwner(s, owner);
      } finally {
        if (this.claims.get(key) === s) this.claims.delete(key);
        if (s.hello) this.pulledFrom(s.hello).add(key);
        this.wake(s);
      }
    }
  }

  /** Other partners that have rows of an owner just released or left unfinished pull them now. */
  private wake(except: Session): void {
    for (const t of this.host.liveSessions()) {
      if (t === except || t.state !== 'ready' || this.loops.has(t) || !this.nextOwner(t)) continue;
      this.pullFrom(t).catch((e) => {
        t.fail(e as Error);
        t.close('backfill failed');
      });
    }
  }

  private finishRound(): void {
    if (this.loops.size > 0 || this.roundOver) return;
    this.roundOver = true;
    this.preferred = null;
    this.resync = false;
    this.report();
  }

  private pulledFrom(h: HelloMessage): Set<string> {
    let set = this.pulled.get(h);
    if (!set) this.pulled.set(h, (set = new Set()));
    return set;
  }

  /**
   * (owner, model) pairs to pull from the partner, and from where: its Hello
   * shows rows newer than this device's watermark (or, for this device's
   * own rows, than the newest it holds), or the same newest with another
   * sum (the whole set, to merge).
   */
  private ahead(s: Session): { owner: Id; model: string; from: Uint8Array | null }[] {
    const lib = this.host.library;
    const hello = s.hello;
    if (!hello) return [];
    const out: { owner: Id; model: string; from: Uint8Array | null }[] = [];
    // A resync also asks for owners held here that the partner's Hello (sent before it synced them, perhaps) did not list.
    const known = this.resync ? lib.newestStamps() : [];
    const mine = new Map(lib.ownerStates().map((o) => [`${idKey(o.owner)}/${o.model}`, o]));
    let whole = this.whole.get(hello);
    if (!whole) this.whole.set(hello, (whole = this.diverged(s, hello, mine)));
    let lost = this.lost.get(hello);
    if (!lost) this.lost.set(hello, (lost = hello.seals.filter((x) => !this.askedLost.has(askedKey(s, x)) && lostOwnSeal(lib, x))));
    for (const model of lib.registry.deviceOwned) {
      const listed = new Set<string>();
      for (const w of hello.watermarks) {
        if (w.model !== model.name) continue;
        const key = idKey(w.owner);
        listed.add(key);
        const own = idEquals(w.owner, lib.deviceId);
        const held = mine.get(`${key}/${model.name}`) ?? null;
        if (own) {
          // Own rows: the whole set (pullOwn), when the partner has newer ones, other ones, or ones this device lost.
          if (lost.length || !held?.newest || compareBytes(w.hlc, held.newest) > 0 || whole.has(`${key}/${model.name}`)) out.push({ owner: w.owner, model: model.name, from: null });
          continue;
        }
        // Others': from the watermark.
        const from = lib.watermark(w.owner, model.name);
        if (!from || compareBytes(w.hlc, from) > 0) {
          out.push({ owner: w.owner, model: model.name, from });
          continue;
        }
        if (whole.has(`${key}/${model.name}`)) out.push({ owner: w.owner, model: model.name, from: null });
      }
      for (const k of known) {
        if (k.model !== model.name || idEquals(k.owner, lib.deviceId) || listed.has(idKey(k.owner))) continue;
        if (!lib.watermark(k.owner, model.name)) out.push({ owner: k.owner, model: model.name, from: null });
      }
    }
    return out;
  }

  /**
   * The (owner/model) sets where the partner and this device both hold
   * every row up to the same newest stamp, yet their sums differ: each may
   * hold rows the other lacks, so the partner's whole set is pulled and
   * merged (once for each sum it reports).
   */
  private diverged(s: Session, hello: HelloMessage, mine: ReadonlyMap<string, OwnerState>): Map<string, string> {
    const lib = this.host.library;
    const out = new Map<string, string>();
    for (const w of hello.watermarks) {
      const key = `${idKey(w.owner)}/${w.model}`;
      const held = mine.get(key);
      const own = idEquals(w.owner, lib.deviceId);
      // This device's own rows: whatever a partner holds of them it may have lost (a restore), complete there or not.
      if (!held?.newest || (!w.complete && !own) || compareBytes(w.hlc, held.newest) !== 0 || sameSum(w.sum, held.sum)) continue;
      const mark = own ? held.newest : lib.watermark(w.owner, w.model);
      if (!mark || compareBytes(mark, held.newest) < 0) continue; // not complete here: a normal catch-up comes first
      const sum = toHex(w.sum);
      if (this.reconciled.get(`${idKey(s.remote)}/${key}`) === sum) continue;
      out.set(key, sum);
    }
    return out;
  }

  private nextOwner(s: Session): Id | null {
    if (this.preferred && this.preferred !== idKey(s.remote) && [...this.host.liveSessions()].some((t) => idKey(t.remote) === this.preferred)) return null;
    const done = s.hello ? this.pulledFrom(s.hello) : new Set<string>();
    for (const a of this.ahead(s)) {
      const key = idKey(a.owner);
      if (!done.has(key) && !this.claims.has(key)) return a.owner;
    }
    return null;
  }

  /** Asks the partner how many rows it has for each (owner, model) not yet counted, so progress has its whole denominator early. */
  private async announce(s: Session): Promise<void> {
    const fresh = this.ahead(s).filter((a) => !this.counts.has(countKey(a.owner, a.model)));
    if (fresh.length === 0) return;
    for (const a of fresh) this.counts.set(countKey(a.owner, a.model), { received: 0, announced: 0 });
    await Promise.all(
      fresh.map(async (a) => {
        const resp = await s.requestState(a.model, a.owner, a.from, 1);
        const c = this.counts.get(countKey(a.owner, a.model))!;
        c.announced = Math.max(c.announced, c.received + resp.records.length + resp.remaining);
      }),
    );
    this.report();
  }

  private async pullOwner(s: Session, owner: Id): Promise<void> {
    const lib = this.host.library;
    if (idEquals(owner, lib.deviceId)) return this.pullOwn(s);
    // Rows of another device from a relay that this device held none of: at the end, they must be what the owner sealed.
    const relayed = !idEquals(owner, s.remote) && lib.ownerProof(owner).held === null && !lib.hasParked(owner);
    const pull: Pull = { seal: null };
    // ahead() lists models in dependency order.
    for (const a of this.ahead(s)) {
      if (!idEquals(a.owner, owner)) continue;
      // Rows refused for clock drift stay unapplied: stop here (later models depend on them) and try again later.
      if (!(await this.pullModel(s, owner, a.model, a.from, pull))) return;
      // A whole set pulled to reconcile: not again for the same sum from this partner (it did not help, or it did).
      const key = `${idKey(owner)}/${a.model}`;
      const sum = s.hello ? this.whole.get(s.hello)?.get(key) : undefined;
      if (sum !== undefined && a.from === null) this.reconciled.set(`${idKey(s.remote)}/${key}`, sum);
    }
    if (!idEquals(owner, s.remote) && pull.seal && !pull.incomplete) await this.checkRelayed(s, owner, pull.seal, relayed);
  }

  /**
   * This device's own rows, from a partner that holds some it lacks. First
   * the partner's whole set of them as this device last sealed them, every
   * model, each page with that seal, taken (merged, the newer version of
   * each row winning) only if the whole set hashes to the seal: then every
   * row in it is one this device wrote. A set that does not, under one
   * seal throughout (or more rows than the seal counts), is the partner's
   * lie: it is cut off. Rows without a seal of this device's are a lie too
   * (an honest partner sends none: Session serves a device its own rows
   * only as sealed); a seal that changes while pulling (the partner matched
   * a newer one meanwhile) leaves it for the next Hello.
   *
   * Then, only when the partner's Hello showed seals of its own it lost
   * (Library.lostOwnSeal), the rows of its own the partner holds beyond
   * that set, on its word, page by page: those stamped where this copy of
   * its data may have lost rows (Library.recoveryWindow), never a version
   * older than one it holds. A lost seal is not asked of the same partner
   * twice in a run, and is recovered (not asked for again, after a restart
   * either) once its whole set came, or rows no seal covers came with it.
   */
  private async pullOwn(s: Session): Promise<void> {
    const lib = this.host.library;
    const lost = (s.hello && this.lost.get(s.hello)) || [];
    const sealed = await this.sealedOwnSet(s);
    if (sealed === 'forged') return;
    if (sealed && !(await this.applyOwn(s, sealed.sets, { seal: sealed.seal }))) return;
    const window = lost.length ? lib.recoveryWindow(lost) : null;
    let taken = 0;
    if (window) {
      const n = await this.heldOwnRows(s, window);
      if (n === null) return;
      taken = n;
    }
    for (const x of lost) this.askedLost.add(askedKey(s, x));
    // Recovered: the lost seal whose whole set came, and all it showed when it gave rows no seal covers.
    const recovered = taken > 0 ? lost : lost.filter((x) => sealed && sameSeal(x, sealed.seal));
    if (recovered.length) await this.host.exclusive(() => lib.recovered(recovered));
    // A whole set pulled to reconcile a sum (diverged): not again for the same sum from this partner.
    const whole = s.hello ? this.whole.get(s.hello) : undefined;
    for (const [key, sum] of whole ?? []) if (key.startsWith(`${idKey(lib.deviceId)}/`)) this.reconciled.set(`${idKey(s.remote)}/${key}`, sum);
  }

  /**
   * The partner's whole set of this device's own rows as this device last
   * sealed them, with that seal, shown to hash to it; null when it has
   * none to give or its seal changed meanwhile; 'forged' when it lied
   * about them (cut off).
   */
  private async sealedOwnSet(s: Session): Promise<{ sets: { model: DeviceOwnedModel; records: StateRecord[] }[]; seal: OwnerSeal } | null | 'forged'> {
    const lib = this.host.library;
    const self = lib.deviceId;
    const sets: { model: DeviceOwnedModel; records: StateRecord[] }[] = [];
    let seal: OwnerSeal | null = null;
    let rows = 0;
    const forged = (reason: string): 'forged' => {
      s.forged(reason);
      return 'forged';
    };
    for (const model of lib.registry.deviceOwned) {
      const records: StateRecord[] = [];
      for await (const resp of this.ownPages(s, model.name, false)) {
        const n = resp.records.length;
        // An honest partner never sends them otherwise (Session.serveState): a lie, and it is cut off.
        if (n && !resp.seal) return forged(`it sent ${n} ${model.name} row(s) in this device's own name without a seal of this device's`);
        if (resp.seal && seal && !sameSeal(seal, resp.seal)) return null;
        if (resp.seal && !seal) {
          if (!idEquals(resp.seal.owner, self)) return forged(`it sent this device's own rows with a seal of device ${idToString(resp.seal.owner)}`);
          try {
            checkSeal(lib.id, resp.seal);
          } catch (e) {
            return forged(`it sent this device's own rows with a seal this device did not make: ${(e as Error).message}`);
          }
          seal = resp.seal;
        }
        rows += n;
        // Held until the whole set is checked: never more than the seal counts.
        if (seal && rows > seal.rows) return forged(`it sent more rows of this device's own than the seal it sent them with counts (${seal.rows})`);
        for (const r of resp.records) records.push(r);
      }
      if (records.length) sets.push({ model, records });
    }
    if (!seal) return null;
    const got = stateOfRows(sets);
    if (!matches(got, seal)) return forged(`the rows of this device's own it sent are not what this device sealed (${got?.rows ?? 0} rows sent, ${seal.rows} sealed)`);
    return { sets, seal };
  }

  /**
   * The rows of this device's own the partner holds, as held, applied page
   * by page where they may be rows this device lost (`window`): the number
   * taken, or null if a stamp was refused (later models wait).
   */
  private async heldOwnRows(s: Session, window: { after: Uint8Array; through: Uint8Array }): Promise<number | null> {
    const lib = this.host.library;
    let taken = 0;
    for (const model of lib.registry.deviceOwned) {
      for await (const resp of this.ownPages(s, model.name, true)) {
        // Rows it holds at that stamp or newer (its own writes of this run among them) need nothing; others only in the window.
        const wanted = resp.records.filter((r) => {
          const t = encodeHlcTime(r.hlc);
          return compareBytes(t, window.after) > 0 && compareBytes(t, window.through) <= 0 && !lib.holdsVersion(model.name, r);
        });
        if (wanted.length === 0) continue;
        const report = await s.apply(() => lib.applyState(model.name, wanted, undefined, null, window));
        if (report.refused.length) return null;
        taken += report.applied;
      }
    }
    return taken;
  }

  /** The pages of this device's own `model` rows the partner serves, from the start (as last sealed, or `asHeld`), counted as progress. */
  private async *ownPages(s: Session, model: string, asHeld: boolean): AsyncGenerator<StateResponseMessage> {
    const self = this.host.library.deviceId;
    const count = this.countFor(s, self, model);
    let after: Uint8Array | null = null;
    for (;;) {
      const resp = await s.requestState(model, self, after, this.host.options.pageSize, asHeld);
      if (resp.model !== model || !idEquals(resp.owner, self)) {
        throw new Error(`asked for this device's own ${model} rows, the partner answered with the ${resp.model} rows of device ${idToString(resp.owner)}`);
      }
      const n = resp.records.length;
      for (const c of count) {
        c.received += n;
        c.announced = c.received + resp.remaining;
      }
      this.report();
      yield resp;
      if (!resp.hasMore || n === 0) return;
      after = encodeHlcTime(resp.records[n - 1].hlc);
    }
  }

  /** Applies rows of this device's own as `own` allows, in dependency order; false if a stamp was refused (later models wait). */
  private async applyOwn(s: Session, sets: readonly { model: DeviceOwnedModel; records: readonly StateRecord[] }[], own: OwnRows): Promise<boolean> {
    const lib = this.host.library;
    for (const { model, records } of sets) {
      for (let i = 0; i < records.length; i += OWN_APPLY_ROWS) {
        const part = records.slice(i, i + OWN_APPLY_ROWS);
        const report = await s.apply(() => lib.applyState(model.name, part, undefined, null, own));
        if (report.refused.length) return false;
      }
    }
    return true;
  }

  /** The progress counts a pull of `owner`'s `model` rows from `s` adds to: this round's, and this partner's. */
  private countFor(s: Session, owner: Id, model: string): ModelProgress[] {
    const key = countKey(owner, model);
    let count = this.counts.get(key);
    if (!count) this.counts.set(key, (count = { received: 0, announced: 0 }));
    const peerKey = idKey(s.remote);
    let served = this.byPeer.get(peerKey);
    if (!served) this.byPeer.set(peerKey, (served = new Map()));
    let mine = served.get(key);
    if (!mine) served.set(key, (mine = { received: 0, announced: 0 }));
    return [count, mine];
  }

  /**
   * The partner relayed `owner`'s rows and sent the owner's seal with
   * them: when what is held now ends at that seal's newest row, it must be
   * exactly what the seal states. If this device held none of the owner's
   * rows before and only this partner brought any, what is held is what
   * the partner sent, so a mismatch is the partner's lie: its rows are
   * taken away (Library.rollBack), a catch-up from another partner brings
   * them, and it is cut off. Otherwise what is held is left as it is (not
   * served, shown as not matching): the rows held before may be ones the
   * owner lost in a restore from an old copy, which its newest seal does
   * not have, and putting back what the partner brought kept this device
   * from ever catching up (the simulator found it). (Rows the owner sent
   * itself meanwhile end past the seal: no verdict; nor while some rows of
   * the owner wait here for a parent.)
   */
  private async checkRelayed(s: Session, owner: Id, seal: OwnerSeal, fromEmpty: boolean): Promise<void> {
    const lib = this.host.library;
    const held = lib.ownerProof(owner).held;
    if (!held || compareBytes(held.newest, seal.newest) !== 0 || matches(held, seal) || lib.hasParked(owner)) return;
    const reason = `the rows of device ${idToString(owner)} it relayed are not what that device sealed (${held.rows} rows held, ${seal.rows} sealed, up to the same stamp)`;
    const relays = lib.relaysSinceSealed(owner);
    if (!fromEmpty || !relays || !relays.every((r) => idEquals(r, s.remote))) {
      s.fail(new Error(`${reason}; left as they are, not served`));
      return;
    }
    await this.host.exclusive(() => lib.rollBack(owner));
    s.forged(reason);
  }

  private async pullModel(s: Session, owner: Id, model: string, from: Uint8Array | null, pull: Pull): Promise<boolean> {
    const lib = this.host.library;
    const { pageSize } = this.host.options;
    const [count, mine] = this.countFor(s, owner, model);
    let next = s.requestState(model, owner, from, pageSize);
    for (;;) {
      const resp = await next;
      if (resp.model !== model || !idEquals(resp.owner, owner)) {
        throw new Error(`asked for the ${model} rows of device ${idToString(owner)}, the partner answered with the ${resp.model} rows of device ${idToString(resp.owner)}`);
      }
      const n = resp.records.length;
      if (n && resp.seal && !idEquals(owner, s.remote)) {
        // A relay sends another device's seal only with rows it holds exactly as sealed: none past its newest row.
        if (resp.records.some((r) => compareBytes(encodeHlcTime(r.hlc), resp.seal!.newest) > 0)) {
          throw new Error(`the partner relayed a ${model} row of device ${idToString(owner)} newer than that device's seal it sent`);
        }
      }
      // The partner's seal of the owner's rows, taken with the page (once per pull while it does not change).
      const seal = resp.seal && !(pull.seal && sameSeal(pull.seal, resp.seal)) ? resp.seal : null;
      const more = resp.hasMore && n > 0;
      if (more) {
        // Pipelined: the partner reads the next page while this one is written.
        next = s.requestState(model, owner, encodeHlcTime(resp.records[n - 1].hlc), pageSize);
        next.catch(() => undefined);
      }
      if (n || seal) {
        const report = await s.apply(() => lib.applyState(model, resp.records, { owner, through: resp.completeThrough }, seal));
        if (report.deferred || report.rejected.length) pull.incomplete = true;
        // Judged only against a seal that was taken (signed by its owner).
        if (seal && report.badSeals.length === 0) pull.seal = seal;
        if (report.refused.length) return false;
      }
      count.received += n;
      count.announced = count.received + resp.remaining;
      mine.received += n;
      mine.announced = mine.received + resp.remaining;
      this.report();
      if (!more) return true;
    }
  }

  private report(): void {
    const models: Record<string, ModelProgress> = {};
    let received = 0;
    let announced = 0;
    for (const [key, c] of this.counts) {
      const model = key.slice(key.indexOf('/') + 1);
      const m = (models[model] ??= { received: 0, announced: 0 });
      m.received += c.received;
      m.announced += c.announced;
      received += c.received;
      announced += c.announced;
    }
    this.host.reportProgress({ models, received, announced, serving: new Set(this.claims.values()).size, done: this.loops.size === 0 });
  }
}

/** One pull of an owner's rows from a partner: the last seal the partner sent with them. */
interface Pull {
  seal: OwnerSeal | null;
  /** Some rows were not taken (no room to wait for a parent, or refused): no verdict on the rest. */
  incomplete?: boolean;
}

/** A lost seal of its own asked of the partner of `s` (Backfill.askedLost). */
function askedKey(s: Session, seal: OwnerSeal): string {
  return `${idKey(s.remote)}/${toHex(seal.signature)}`;
}

/** Rows of this device's own taken back per apply (one transaction each). */
const OWN_APPLY_ROWS = 2000;

/** Whether a seal in a partner's Hello is one of this device's own whose rows it lost; one that does not verify is not (the Hello's seals are checked, and refused, as they are taken). */
function lostOwnSeal(lib: Library, seal: OwnerSeal): boolean {
  try {
    return lib.lostOwnSeal(seal);
  } catch {
    return false;
  }
}

function countKey(owner: Id, model: string): string {
  return `${idKey(owner)}/${model}`;
}
