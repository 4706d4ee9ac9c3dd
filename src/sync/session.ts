/**
 * One link to one partner: the Hello handshake, requests with ids and
 * timeouts, serving the partner's catch-up requests, catching up from it,
 * live changes both ways, acks and heartbeats. Frames that fail to decode or
 * validate get an Error back and are counted; too many close the link.
 */
import {
  MAX_RECORDS,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeMessage,
  encodeMessage,
  errorMessage,
  type ErrorCode,
  type HelloMessage,
  type Message,
  type OriginSeq,
  type SharedChangeResponseMessage,
  type SnapshotCursor,
  type StateResponseMessage,
} from '../protocol';
import type { SharedChange, StateRecord } from '../models/model';
import type { ApplyReport } from '../engine/apply';
import { compareBytes, encodeHlcTime } from '../core/hlc';
import { catchUpShared } from './shared-catch-up';
import { idEquals, idKey, idToString, type Id } from '../core/ids';
import type { OwnerSeal } from '../engine/owner-seals';
import type { Committed, Library } from '../engine/library';
import type { Link, Scheduler } from '../engine/transport';


/** Live changes are acknowledged at most this often (see sendAckSoon). */
const LIVE_ACK_DELAY_MS = 200;
export interface SessionOptions {
  scheduler: Scheduler;
  /** Page size for catch-up requests. */
  pageSize: number;
  heartbeatMs: number;
  /** A link silent this long is dead. */
  deadAfterMs: number;
  requestTimeoutMs: number;
  /** Live changes held while catching up; past this many (or maxBufferedBytes) the buffer is dropped and catch-up runs again. */
  maxBuffered: number;
  /** Bytes of live changes held while catching up, at most. */
  maxBufferedBytes: number;
  /** Bad frames tolerated before the link is closed and the partner cut off. */
  maxErrors: number;
  /**
   * How long a partner cut off for too many bad frames is refused (its
   * links closed at once); each further cut-off doubles it, up to
   * 64 times as long.
   */
  cutOffMs: number;
  /** Catch-up requests served per second, on average; past that (and a burst of as many again) each is answered with a rate-limited Error and counts as a bad frame. */
  maxRequestsPerSecond: number;
  /** How often a ready session exchanges Hellos again and catches up on anything a lost frame kept from it. */
  antiEntropyMs: number;
  /** At most this often, log entries every partner has acknowledged are pruned. */
  pruneIntervalMs: number;
  /**
   * A partner not heard from for this long stops holding the log back; it
   * gets a snapshot when it returns (default 30 days; Infinity: wait for
   * every partner, however long it is away).
   */
  pruneAbsentAfterMs: number;
}

export interface SessionHost {
  readonly library: Library;
  readonly options: SessionOptions;
  /** Runs library work one operation at a time (deterministic order). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Caught up; `first`: for the first time on this link (later catch-ups are anti-entropy). */
  sessionReady(s: Session, first: boolean): void;
  sessionClosed(s: Session): void;
  /** Pulls the device-owned rows this partner has and this device lacks (the backfill decides who serves what). */
  pullDeviceOwned(s: Session): Promise<void>;
  /** The partner acknowledged shared changes (recorded): the log may be prunable. */
  acked(): void;
  report(event: SessionEvent): void;
}

export type SessionEvent =
  | { type: 'error'; peer: Id; error: Error }
  | { type: 'applied'; peer: Id; report: ApplyReport }
  /** Records refused (stamps too far ahead) or rejected (invalid) in what the partner sent. */
  | { type: 'refused'; peer: Id; report: ApplyReport }
  /** Records sent to the partner: live changes, or pages served to its catch-up (per model). */
  | { type: 'sent'; peer: Id; model: string; count: number }
  /** A snapshot of the partner's shared rows was merged (its log no longer had what this device lacked). */
  | { type: 'snapshot'; peer: Id; rows: number }
  /** Data read for the partner waited `ms` for this device's journal before it was sent (DESIGN rule 11). */
  | { type: 'held'; peer: Id; ms: number }
  /** The partner sent more bad frames or records than maxErrors: the link closes and the partner is cut off for a while. */
  | { type: 'misbehaved'; peer: Id; reason: string };

export type SessionState = 'handshake' | 'catching-up' | 'ready' | 'closed';

interface Pending {
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
  timer: unknown;
}

export class Session {
  state: SessionState = 'handshake';
  /** Reached 'ready' once (later catch-ups are anti-entropy, not news). */
  private wasReady = false;

  get caughtUpOnce(): boolean {
    return this.wasReady;
  }
  /** This device committed while the session was not ready yet (nothing was sent live): set by PeerSync. */
  missedLive = false;
  private remoteHello: HelloMessage | null = null;
  private nextRequestId = 1;
  private readonly pending = new Map<number, Pending>();
  private lastHeard: number;
  private heartbeatTimer: unknown = null;
  private ackTimer: unknown = null;
  private buffered: Message[] = [];
  private bufferedBytes = 0;
  private catchingUp: Promise<void> | null = null;
  /** Sends of data read from the library, each released once what it read is durable, in order. */
  private released: Promise<void> = Promise.resolve();
  /** Per origin (idKey): the seq last acknowledged to the partner (acks carry only what moved). */
  private readonly ackedToPeer = new Map<string, number>();
  /** Shared models (`model/sum`) whose rows were merged from the partner to reconcile (not again for the same sum). */
  readonly reconciledShared = new Set<string>();
  /** Origins whose place in this partner's snapshot base no signed change proved: not asked of this partner again this session. */
  readonly unprovenOrigins = new Map<string, Id>();
  private again = false;
  private overflowed = false;
  /** Live changes were left out while the link was congested. */
  private skipped = false;
  private errors = 0;
  private outbox: { state: Map<string, StateRecord[]>; shared: SharedChange[] } | null = null;
  private lastHello: number;
  /** Pages being served, per (model, owner): where the next page starts and how many rows were left after it. */
  private readonly serving = new Map<string, { next: Uint8Array; remaining: number }>();
  /** Catch-up requests the partner may still make now (admitRequest), as of requestTokensAt. */
  private requestTokens: number;
  private requestTokensAt: number;

  constructor(
    readonly link: Link,
    readonly host: SessionHost,
  ) {
    this.lastHeard = host.options.scheduler.now();
    this.lastHello = this.lastHeard;
    this.requestTokens = 2 * host.options.maxRequestsPerSecond;
    this.requestTokensAt = this.lastHeard;
    link.on('frame', (f) => this.onFrame(f));
    link.on('close', () => this.closed());
    link.on('drain', () => this.drained());
    this.sendHello();
    this.heartbeat();
  }

  get remote(): Id {
    return this.link.remote;
  }

  /** When a frame last arrived from the partner (scheduler time, ms). */
  get lastHeardAt(): number {
    return this.lastHeard;
  }

  close(reason: string): void {
    this.link.close(reason);
    this.closed();
  }

  /**
   * Queues local changes for the partner; sent together on the next turn
   * (batched under load). While the link is congested (a slow partner) they
   * are not queued at all: once it drains, a Hello makes the partner catch up
   * on them by vector and watermark, so memory stays bounded and nothing is
   * lost.
   */
  broadcast(c: Committed): void {
    if (this.state === 'closed') return;
    if (this.skipped || this.link.congested) {
      this.skipped = true;
      return;
    }
    if (!this.outbox) {
      this.outbox = { state: new Map(), shared: [] };
      this.host.options.scheduler.setTimeout(() => this.flush(), 0);
    }
    for (const [model, recs] of c.state) {
      const list = this.outbox.state.get(model) ?? [];
      list.push(...recs);
      this.outbox.state.set(model, list);
    }
    this.outbox.shared.push(...c.shared);
  }

  private drained(): void {
    if (!this.skipped || this.state === 'closed') return;
    this.skipped = false;
    this.lastHello = this.host.options.scheduler.now();
    this.sendHello();
  }

  private flush(): void {
    const box = this.outbox;
    this.outbox = null;
    if (!box || this.state === 'closed') return;
    try {
      // Only this device's own rows are broadcast: its seal goes with them, so partners can check them at once.
      const seal = box.state.size ? this.host.library.ownSeal() : null;
      for (const [model, records] of box.state) {
        this.sendAll(records, (part) =>
          part.length === 1 ? { type: 'state-change', model: model as never, record: part[0], seal } : { type: 'state-batch', model: model as never, records: part, seal },
        );
        this.reportSent(model, records.length);
      }
      this.sendAll(box.shared, (part) => (part.length === 1 ? { type: 'shared-change', change: part[0] } : { type: 'shared-change-batch', changes: part }));
      this.reportSharedSent(box.shared);
    } catch (e) {
      // Not sent: the partner's next catch-up (anti-entropy) fetches it.
      this.fail(e as Error);
    }
  }

  /** Sends `items` in as few messages as fit in frames (at most MAX_RECORDS each). */
  private sendAll<T>(items: readonly T[], make: (part: readonly T[]) => Message): void {
    for (let i = 0; i < items.length && this.state !== 'closed'; ) {
      const { bytes, count } = encodeFitting(items.slice(i, i + MAX_RECORDS), make);
      this.link.send(bytes);
      i += count;
    }
  }

  private reportSent(model: string, count: number): void {
    if (count > 0 && this.state !== 'closed') this.host.report({ type: 'sent', peer: this.remote, model, count });
  }

  private reportSharedSent(changes: readonly SharedChange[]): void {
    const per = new Map<string, number>();
    for (const c of changes) per.set(c.model, (per.get(c.model) ?? 0) + 1);
    for (const [model, count] of per) this.reportSent(model, count);
  }

  /**
   * Sends a Hello on the next turn (several calls meanwhile send one), once
   * ready: what this device holds and vouches for changed, so the partner
   * catches up now rather than at the next anti-entropy round.
   */
  helloSoon(): void {
    if (this.helloQueued || this.state !== 'ready') return;
    this.helloQueued = true;
    this.host.options.scheduler.setTimeout(() => {
      this.helloQueued = false;
      if (this.state !== 'ready') return;
      this.lastHello = this.host.options.scheduler.now();
      this.sendHello();
    }, 0);
  }

  private helloQueued = false;

  private sendHello(): void {
    this.sendRead(encodeMessage(this.helloMessage()));
  }

  private helloMessage(): HelloMessage {
    const lib = this.host.library;
    return {
      type: 'hello',
      protocolVersion: PROTOCOL_VERSION,
      libraryId: lib.id,
      deviceId: lib.deviceId,
      vector: lib.have(),
      watermarks: lib.ownerStates().flatMap((o) => {
        // Every owner's rows held are offered, as serveState serves them.
        if (!o.newest) return [];
        // Complete: every row up to the newest is here (its own rows always; others' once caught up to it).
        const mark = idEquals(o.owner, lib.deviceId) ? o.newest : lib.watermark(o.owner, o.model);
        return [{ owner: o.owner, model: o.model as never, hlc: o.newest, rows: o.rows, sum: o.sum, complete: !!mark && compareBytes(mark, o.newest) >= 0 }];
      }),
      shared: lib.sharedStates().map((x) => ({ model: x.model as never, rows: x.rows, sum: x.sum })),
      seals: lib.sealsToShare(),
      settled: lib.parkedCount() === 0,
    };
  }

  private send(msg: Message): void {
    if (this.state === 'closed') return;
    this.link.send(encodeMessage(msg));
  }

  /**
   * Sends bytes built from what the library holds now, once everything
   * committed so far is durable (DESIGN rule 11): a device that crashes
   * right after never comes back without something a partner got from it.
   * Released in order. If the journal has failed, nothing is sent and the
   * link closes.
   */
  private sendRead(bytes: Uint8Array): void {
    if (this.state === 'closed') return;
    const { scheduler } = this.host.options;
    const readAt = scheduler.now();
    const durable = this.host.library.durable();
    this.released = this.released.then(
      () =>
        durable.then(
          () => {
            if (this.state === 'closed') return;
            const ms = scheduler.now() - readAt;
            if (ms > 0) this.host.report({ type: 'held', peer: this.remote, ms });
            this.link.send(bytes);
          },
          (e: Error) => {
            if (this.state === 'closed') return;
            this.fail(new Error(`nothing more is sent: this device's journal failed (${e.message})`));
            this.close('journal failed');
          },
        ),
    );
  }

  private sendError(requestId: number, code: ErrorCode, message: string): void {
    this.send(errorMessage(code, message, requestId));
  }

  private heartbeat(): void {
    const { scheduler, heartbeatMs, deadAfterMs } = this.host.options;
    if (this.state === 'closed') return;
    if (scheduler.now() - this.lastHeard > deadAfterMs) {
      this.close('no heartbeat');
      return;
    }
    const sinceHello = scheduler.now() - this.lastHello;
    // Our Hello may have been lost: repeat it while the partner has not answered,
    // and now and then once ready (anti-entropy: catch up on anything a lost frame kept from us).
    if ((this.state === 'handshake' && sinceHello >= this.host.options.requestTimeoutMs) || (this.state === 'ready' && sinceHello >= this.host.options.antiEntropyMs)) {
      this.lastHello = scheduler.now();
      this.sendHello();
    } else this.send({ type: 'heartbeat', nowMs: scheduler.now() });
    this.heartbeatTimer = scheduler.setTimeout(() => this.heartbeat(), heartbeatMs);
  }

  private closed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.host.options.scheduler.clearTimeout(this.heartbeatTimer);
    this.host.options.scheduler.clearTimeout(this.ackTimer);
    for (const p of this.pending.values()) {
      this.host.options.scheduler.clearTimeout(p.timer);
      p.reject(new Error('link closed'));
    }
    this.pending.clear();
    this.host.sessionClosed(this);
  }

  private onFrame(bytes: Uint8Array): void {
    if (this.state === 'closed') return;
    this.lastHeard = this.host.options.scheduler.now();
    let msg: Message;
    try {
      msg = decodeMessage(bytes);
    } catch (e) {
      const pe = e instanceof ProtocolError ? e : new ProtocolError('bad-frame', String(e));
      this.misbehaved(pe.requestId, pe.code, pe.message);
      return;
    }
    this.dispatch(msg, bytes.byteLength);
  }

  /**
   * A token bucket over the partner's catch-up requests (each reads up to a
   * page of rows): maxRequestsPerSecond on average, twice that in a burst.
   * Past it a request is refused as a bad frame (an honest backfill asks for
   * far fewer: one page per owner and model at a time).
   */
  private admitRequest(requestId: number): boolean {
    const rate = this.host.options.maxRequestsPerSecond;
    const now = this.host.options.scheduler.now();
    this.requestTokens = Math.min(2 * rate, this.requestTokens + ((now - this.requestTokensAt) * rate) / 1000);
    this.requestTokensAt = now;
    if (this.requestTokens >= 1) {
      this.requestTokens--;
      return true;
    }
    this.misbehaved(requestId, 'rate-limited', `more than ${rate} requests a second`);
    return false;
  }

  private misbehaved(requestId: number, code: ErrorCode, message: string): void {
    this.host.report({ type: 'error', peer: this.remote, error: new ProtocolError(code, message) });
    this.sendError(requestId, code, message);
    if (++this.errors > this.host.options.maxErrors && !this.isClosed()) {
      const reason = `too many bad frames or records (${this.errors - 1} tolerated; the last: ${code}: ${message})`;
      this.host.report({ type: 'misbehaved', peer: this.remote, reason });
      this.close(reason);
    }
  }

  private dispatch(msg: Message, size: number): void {
    switch (msg.type) {
      case 'hello':
        return this.onHello(msg);
      case 'heartbeat':
        return;
      case 'state-change':
      case 'state-batch':
      case 'shared-change':
      case 'shared-change-batch':
        if (this.state !== 'ready') {
          const { maxBuffered, maxBufferedBytes } = this.host.options;
          if (this.buffered.length >= maxBuffered || this.bufferedBytes + size > maxBufferedBytes) {
            // Never drop silently: forget the buffer and catch up again from watermarks and vectors.
            this.buffered = [];
            this.bufferedBytes = 0;
            this.overflowed = true;
          } else if (!this.overflowed) {
            this.buffered.push(msg);
            this.bufferedBytes += size;
          }
          return;
        }
        void this.applyLive(msg);
        return;
      case 'state-request':
        if (!this.admitRequest(msg.requestId)) return;
        void this.serveState(msg.requestId, msg.model, msg.owner, msg.after, msg.limit, msg.asHeld);
        return;
      case 'shared-change-request':
        if (!this.admitRequest(msg.requestId)) return;
        void this.serveShared(msg.requestId, msg.have, msg.limit, msg.snapshot);
        return;
      case 'ack':
        this.host
          .exclusive(() => this.host.library.recordAcks(this.remote, msg.vector))
          .then(() => this.host.acked())
          .catch((e) => this.fail(e));
        return;
      case 'state-response':
      case 'shared-change-response':
        return this.resolve(msg.requestId, msg);
      case 'error': {
        this.host.report({ type: 'error', peer: this.remote, error: new Error(`${idToString(this.remote)} says ${msg.code}: ${msg.message}`) });
        const p = this.pending.get(msg.requestId);
        if (p) {
          this.pending.delete(msg.requestId);
          this.host.options.scheduler.clearTimeout(p.timer);
          p.reject(new ProtocolError(msg.code, msg.message));
        }
        return;
      }
    }
  }

  private onHello(h: HelloMessage): void {
    const lib = this.host.library;
    if (h.protocolVersion !== PROTOCOL_VERSION) return this.refuse('version', `protocol version ${h.protocolVersion} is not ${PROTOCOL_VERSION}`);
    if (!idEquals(h.libraryId, lib.id)) return this.refuse('bad-record', 'not the same library');
    if (!idEquals(h.deviceId, this.remote)) return this.refuse('not-owner', 'the hello names another device than the link');
    this.remoteHello = h;
    // What a partner's Hello says it holds, it holds durably: as good as an ack (only for origins held here).
    if (h.vector.length) {
      this.host
        .exclusive(() => this.host.library.recordAcks(this.remote, h.vector))
        .then(() => this.host.acked())
        .catch((e) => this.fail(e));
    }
    // The first Hello starts catch-up; a later one (anti-entropy) does it again.
    void this.catchUp();
  }

  private refuse(code: ErrorCode, message: string): void {
    this.sendError(0, code, message);
    this.close(message);
  }

  private request<T extends StateResponseMessage | SharedChangeResponseMessage>(msg: Message & { requestId: number }): Promise<T> {
    const { scheduler, requestTimeoutMs } = this.host.options;
    return new Promise<T>((resolve, reject) => {
      const timer = scheduler.setTimeout(() => {
        this.pending.delete(msg.requestId);
        reject(new Error(`request ${msg.type} timed out`));
      }, requestTimeoutMs);
      this.pending.set(msg.requestId, { resolve: resolve as (m: Message) => void, reject, timer });
      this.send(msg);
    });
  }

  private resolve(requestId: number, msg: Message): void {
    const p = this.pending.get(requestId);
    if (!p) return; // late or duplicate answer
    this.pending.delete(requestId);
    this.host.options.scheduler.clearTimeout(p.timer);
    p.resolve(msg);
  }

  /**
   * Pulls what the partner has and this device lacks: shared changes by
   * vector (or a snapshot where the log was pruned), then device-owned rows
   * by watermark through the backfill, which decides which partner serves
   * which owner. Ready afterwards: buffered live changes are applied in order.
   */
  catchUp(): Promise<void> {
    if (this.catchingUp) {
      // A newer Hello, a resync or a lost live frame: go round once more when this round ends.
      this.again = true;
      return this.catchingUp;
    }
    this.catchingUp = this.catchUpRounds().finally(() => (this.catchingUp = null));
    return this.catchingUp;
  }

  private async catchUpRounds(): Promise<void> {
    do {
      this.again = false;
      await this.catchUpOnce();
    } while (this.again && !this.isClosed());
  }

  private async catchUpOnce(): Promise<void> {
    if (this.state === 'closed' || !this.remoteHello) return;
    this.state = 'catching-up';
    try {
      await this.takeSeals(this.remoteHello.seals);
      await catchUpShared(this);
      await this.host.pullDeviceOwned(this);
    } catch (e) {
      if (this.isClosed()) return;
      this.fail(e as Error);
      this.close('catch-up failed');
      return;
    }
    if (this.isClosed()) return;
    this.state = 'ready';
    const buffered = this.buffered;
    this.buffered = [];
    this.bufferedBytes = 0;
    if (this.overflowed) this.again = true;
    this.overflowed = false;
    for (const m of buffered) await this.applyLive(m);
    this.sendAck();
    this.host.sessionReady(this, !this.wasReady);
    if (!this.wasReady && this.missedLive) {
      // Commits made here before this session was ready were not sent live; the partner's catch-up may
      // have read this device's log before them: a new Hello makes it look again (else it waits for anti-entropy).
      this.lastHello = this.host.options.scheduler.now();
      this.sendHello();
    }
    this.missedLive = false;
    this.wasReady = true;
  }

  /** The partner's last Hello (its vector and watermarks), once it has sent one. */
  get hello(): HelloMessage | null {
    return this.remoteHello;
  }

  /** Asks the partner for `owner`'s `model` rows stamped after `after`. */
  requestState(model: string, owner: Id, after: Uint8Array | null, limit: number, asHeld = false): Promise<StateResponseMessage> {
    return this.request<StateResponseMessage>({ type: 'state-request', requestId: this.nextRequestId++, model: model as never, owner, after, limit, asHeld });
  }

  /** Asks the partner for the shared changes this device lacks, or (with `snapshot`) a page of its shared rows. */
  requestShared(have: readonly OriginSeq[], limit: number, snapshot: SnapshotCursor | null = null): Promise<SharedChangeResponseMessage> {
    return this.request<SharedChangeResponseMessage>({ type: 'shared-change-request', requestId: this.nextRequestId++, have, limit, snapshot });
  }

  /** (A method, so the compiler does not assume the state is unchanged across awaits.) */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Tells the partner what this device now holds (durably, once sent), per origin that moved since the last ack. */
  private sendAck(): void {
    const moved = this.host.library.have().filter((v) => (this.ackedToPeer.get(idKey(v.origin)) ?? 0) < v.seq);
    if (moved.length === 0) return;
    for (const v of moved) this.ackedToPeer.set(idKey(v.origin), v.seq);
    this.sendRead(encodeMessage({ type: 'ack', vector: moved }));
  }

  /**
   * Acks for live changes go out at most every LIVE_ACK_DELAY_MS, carrying
   * the vector at that moment: each one costs the partner a durable write,
   * and they only let it prune, which runs every few seconds anyway.
   */
  private sendAckSoon(): void {
    if (this.ackTimer !== null) return;
    this.ackTimer = this.host.options.scheduler.setTimeout(() => {
      this.ackTimer = null;
      if (!this.isClosed()) this.sendAck();
    }, LIVE_ACK_DELAY_MS);
  }

  private async applyLive(msg: Message): Promise<void> {
    const lib = this.host.library;
    try {
      if (msg.type === 'state-change' || msg.type === 'state-batch') {
        // A live change is the sender's own: rows of any other device (this one included) are refused, never relayed live.
        const records = (msg.type === 'state-change' ? [msg.record] : msg.records).filter((r) => {
          if (idEquals(r.hlc.device, this.remote)) return true;
          this.misbehaved(0, 'not-owner', `a live ${msg.model} change of device ${idToString(r.hlc.device)}: a partner sends only its own rows live`);
          return false;
        });
        let seal = msg.seal;
        if (seal && !idEquals(seal.owner, this.remote)) {
          this.misbehaved(0, 'not-owner', `a live change carries the seal of device ${idToString(seal.owner)}, not of its sender`);
          seal = null;
        }
        if (records.length || seal) await this.apply(() => lib.applyState(msg.model, records, undefined, seal));
      } else if (msg.type === 'shared-change') await this.apply(() => lib.applyShared([msg.change]));
      else if (msg.type === 'shared-change-batch') await this.apply(() => lib.applyShared(msg.changes));
      if (msg.type === 'shared-change' || msg.type === 'shared-change-batch') this.sendAckSoon();
    } catch (e) {
      this.fail(e as Error);
    }
  }

  /** Takes the seals of the partner's Hello: one not signed by its owner counts against the partner. */
  private async takeSeals(seals: readonly OwnerSeal[]): Promise<void> {
    const { refused } = await this.host.exclusive(() => this.host.library.takeSeals(seals));
    for (const e of refused) this.misbehaved(0, 'not-owner', e.message);
  }

  /**
   * The partner relayed another device's rows that are not what that
   * device sealed (Backfill found it): it is cut off like a partner that
   * misbehaves.
   */
  forged(reason: string): void {
    if (this.isClosed()) return;
    this.sendError(0, 'not-owner', reason);
    this.host.report({ type: 'error', peer: this.remote, error: new ProtocolError('not-owner', reason) });
    this.host.report({ type: 'misbehaved', peer: this.remote, reason });
    this.close(reason);
  }

  /** Runs a library apply in turn; refused and rejected records are reported and told to the partner. */
  async apply(fn: () => Promise<ApplyReport>): Promise<ApplyReport> {
    const report = await this.host.exclusive(() => this.host.library.fromPartner(this.remote, fn));
    for (const e of report.refused) this.sendError(0, 'clock-drift', e.message);
    for (const r of report.rejected) this.misbehaved(0, r.error.name === 'OwnershipError' ? 'not-owner' : 'bad-record', r.error.message);
    for (const e of report.badSeals) this.misbehaved(0, 'not-owner', e.message);
    if (report.refused.length || report.rejected.length) this.host.report({ type: 'refused', peer: this.remote, report });
    if (report.overSenderLimit) {
      // No honest partner gets here (records wait for a parent only until it arrives): it is cut off, and the others keep the room.
      const reason = `${report.overSenderLimit} more record(s) that wait for a parent that never came: ${this.host.library.parkedLimitPerPartner} from this partner wait already (the limit)`;
      this.sendError(0, 'over-limit', reason);
      this.host.report({ type: 'error', peer: this.remote, error: new ProtocolError('over-limit', reason) });
      this.host.report({ type: 'misbehaved', peer: this.remote, reason });
      this.close(reason);
    } else if (report.deferred > report.unkept) {
      const limit = this.host.library.parkedLimit;
      this.fail(new Error(`${report.deferred - report.unkept} record(s) from this partner were not taken: ${limit} records already wait for their parent (the limit); they are fetched again once those are applied`));
    }
    if (report.applied) this.host.report({ type: 'applied', peer: this.remote, report });
    return report;
  }

  private async serveState(requestId: number, model: string, owner: Id, after: Uint8Array | null, limit: number, asHeld: boolean): Promise<void> {
    const lib = this.host.library;
    const max = Math.min(limit, MAX_RECORDS);
    try {
      // To their owner, its rows as it last sealed them (it takes back no other, but in a recovery: Backfill.pullOwn), or none.
      // Any other owner's as held, unverified ones too: a relay whose rows of a device do not match that device's newest seal
      // may hold the only copy of rows it lost in a restore (the simulator found devices that never caught up when only
      // verified rows were served). What it holds verified goes with the seal (sealFor), so a device pulling into nothing
      // can tell a forger.
      const toOwner = idEquals(owner, this.remote) && !asHeld;
      const sealed = toOwner ? lib.sealedRows(owner) : null;
      const servable = !toOwner || sealed !== null;
      const records = !servable ? [] : sealed ? lib.sealedStateSince(sealed, model, after, max) : lib.stateSince(model, owner, after, max);
      const completeThrough = servable && !sealed ? lib.completeThrough(owner, model) : null;
      const seal = sealed ? sealed.seal : servable ? lib.sealFor(owner) : null;
      const countSince = (t: Uint8Array | null) => (sealed ? lib.countSealedStateSince(sealed, model, t) : lib.countStateSince(model, owner, t));
      // Counting what is left costs a scan of it: count once per run of pages, then subtract.
      const key = `${model}/${idKey(owner)}/${sealed ? 'sealed' : 'held'}`;
      const run = this.serving.get(key);
      const continues = run && after && compareBytes(run.next, after) === 0;
      let last = after;
      let remaining = 0;
      let sent = 0;
      const { bytes } = encodeFitting(records, (part): Message => {
        sent = part.length;
        last = part.length ? encodeHlcTime(part[part.length - 1].hlc) : after;
        remaining = !servable ? 0 : continues ? Math.max(0, run.remaining - part.length) : countSince(last);
        // Rows written since the count are not missed; nor those a full frame left out.
        const hasMore = remaining > 0 || part.length === max || part.length < records.length;
        return { type: 'state-response', requestId, model: model as never, owner, records: part, hasMore, remaining, completeThrough, seal };
      });
      if (last && remaining > 0) this.serving.set(key, { next: last, remaining });
      else this.serving.delete(key);
      this.sendRead(bytes);
      this.reportSent(model, sent);
    } catch (e) {
      this.sendError(requestId, 'internal', (e as Error).message);
    }
  }

  private async serveShared(requestId: number, have: readonly OriginSeq[], limit: number, cursor: SnapshotCursor | null): Promise<void> {
    const lib = this.host.library;
    const max = Math.min(limit, MAX_RECORDS);
    try {
      if (cursor) {
        const base = lib.snapshotBase();
        // With the first page of a whole snapshot: the signed changes that prove the base (Library.snapshotHeads).
        const heads = cursor.after === null && cursor.model === lib.registry.shared[0].name ? lib.snapshotHeads(base) : [];
        if (cursor.model === 'member') {
          // Members as the signed statements they are folded from (a row would be this device's word for them).
          const page = lib.memberStatements(cursor.after, max);
          let sent = 0;
          const { bytes } = encodeFitting(page.statements, (part): Message => {
            sent = part.length;
            // By statement id: the next page starts after the last one sent (a frame may take fewer than the page).
            const after = part.length ? page.ids[part.length - 1] : cursor.after;
            const snapshot = { model: cursor.model, rows: [], after, hasMore: page.hasMore || part.length < page.statements.length, base };
            return { type: 'shared-change-response', requestId, changes: part, hasMore: false, snapshot, pruned: [] };
          });
          this.sendRead(bytes);
          this.reportSent(cursor.model, sent);
          return;
        }
        const rows = lib.sharedRows(cursor.model, cursor.after, max);
        let sent = 0;
        const { bytes } = encodeFitting(rows, (part): Message => {
          sent = part.length;
          const after = part.length ? part[part.length - 1].uuid : cursor.after;
          const snapshot = { model: cursor.model, rows: part, after, hasMore: rows.length === max || part.length < rows.length, base };
          return { type: 'shared-change-response', requestId, changes: heads, hasMore: false, snapshot, pruned: [] };
        });
        this.sendRead(bytes);
        this.reportSent(cursor.model, sent);
        return;
      }
      const page = lib.changesSince(new Map(have.map((h) => [idKey(h.origin), h.seq])), max);
      let sent: readonly SharedChange[] = [];
      const { bytes } = encodeFitting(page.changes, (part): Message => {
        sent = part;
        return { type: 'shared-change-response', requestId, changes: part, hasMore: page.hasMore || part.length < page.changes.length, snapshot: null, pruned: page.pruned };
      });
      this.sendRead(bytes);
      this.reportSharedSent(sent);
    } catch (e) {
      this.sendError(requestId, 'internal', (e as Error).message);
    }
  }

  fail(e: Error): void {
    this.host.report({ type: 'error', peer: this.remote, error: e });
  }
}

/**
 * Encodes `make(items)`, or, when that exceeds the frame limit, the message
 * for the longest prefix that fits, halving until it does (a page of large
 * notes; at least one item always fits). Returns the bytes and how many
 * items they carry. The last call of `make` is the one encoded.
 */
function encodeFitting<T>(items: readonly T[], make: (part: readonly T[]) => Message): { bytes: Uint8Array; count: number } {
  for (let count = items.length; ; count = Math.ceil(count / 2)) {
    try {
      return { bytes: encodeMessage(make(count === items.length ? items : items.slice(0, count))), count };
    } catch (e) {
      if (!(e instanceof ProtocolError) || e.code !== 'too-large' || count <= 1) throw e;
    }
  }
}
