/**
 * A real-time, in-process Transport: every device in one process gets a
 * transport from a shared `MemoryHub`, and links carry frames between them
 * on the event loop. For running several peers in one process (the CLI
 * demo, benchmarks); the simulator's network (test/sim) is a separate,
 * virtual-clock one with fault injection.
 *
 * - A link comes up when both devices list each other in `setPartners`:
 *   one Link object per side, each announced with 'link' on its transport
 *   (both in the same turn, asynchronously, so listeners attached right
 *   after `setPartners` see it and neither side misses the other's first
 *   frames).
 * - Frames are copied on send (the sender may reuse its buffer) and
 *   delivered whole, in order per direction, asynchronously: a drain loop
 *   scheduled with setImmediate delivers everything queued when its turn
 *   starts, then yields, so timers and I/O run between turns.
 * - A direction is `congested` while more than `maxQueuedFrames` frames or
 *   `maxQueuedBytes` bytes sent on it are not yet delivered; the sender's
 *   end emits 'drain' once it drops back under both.
 * - `link.close(reason)` closes both ends ('close' with the reason on each);
 *   frames still queued either way are dropped. While both devices still
 *   list each other, a new link comes up after `reconnectDelayMs`, as a
 *   network transport would redial, backing off (with jitter) while links
 *   keep failing.
 * - `setPartners` without a device closes the link to it; listing it again
 *   brings up a new link. `Transport.close()` closes every link of the
 *   device and takes no new ones.
 *
 * No faults are injected: nothing is lost, duplicated or reordered except
 * what a closed link drops.
 */
import { EventEmitter } from 'node:events';
import { Backoff } from './backoff';
import { idKey, type Id } from '../core/ids';
import type { Link, Transport } from './transport';

export interface MemoryHubOptions {
  /** Undelivered frames on one direction above which it is congested. Default 256. */
  maxQueuedFrames?: number;
  /** Undelivered bytes on one direction above which it is congested. Default 16 MiB. */
  maxQueuedBytes?: number;
  /**
   * How long after a link closes (by either end) a new one comes up if both
   * devices still want it, doubling (to 5 s, with ±50% jitter) while new
   * links keep failing within 10 s; null: never. Default 100 ms.
   */
  reconnectDelayMs?: number | null;
}

class MemoryLink extends EventEmitter implements Link {
  private isOpen = true;
  /** Frames sent from this end and not yet delivered to the other (minus the turn being delivered). */
  private queue: Uint8Array[] = [];
  /** Sent and not yet delivered, the turn being delivered included. */
  private pendingFrames = 0;
  private pendingBytes = 0;
  private scheduled = false;
  private wasCongested = false;
  other!: MemoryLink;

  constructor(
    private readonly hub: MemoryHub,
    readonly local: Id,
    readonly remote: Id,
  ) {
    super();
  }

  get open(): boolean {
    return this.isOpen;
  }

  get congested(): boolean {
    return this.pendingFrames > this.hub.maxQueuedFrames || this.pendingBytes > this.hub.maxQueuedBytes;
  }

  send(frame: Uint8Array): boolean {
    if (!this.isOpen) return false;
    const copy = new Uint8Array(frame); // copies: the sender may reuse its buffer
    this.queue.push(copy);
    this.pendingFrames++;
    this.pendingBytes += copy.byteLength;
    if (this.congested) this.wasCongested = true;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.deliver());
    }
    return true;
  }

  close(reason = 'closed'): void {
    this.hub.closeLink(this, reason);
  }

  /** Marks this end closed and drops what it had queued; true if it was open. */
  shut(): boolean {
    if (!this.isOpen) return false;
    this.isOpen = false;
    this.queue = [];
    this.pendingFrames = 0;
    this.pendingBytes = 0;
    return true;
  }

  /** One turn of the drain loop: delivers the frames queued when it starts; those sent meanwhile wait for the next turn. */
  private deliver(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    let next = 0;
    try {
      while (next < batch.length && this.isOpen) {
        const frame = batch[next++];
        this.pendingFrames--;
        this.pendingBytes -= frame.byteLength;
        this.other.emit('frame', frame);
      }
    } finally {
      // (After a listener threw, the frames behind the one it got keep their order.)
      if (this.isOpen) {
        if (next < batch.length) this.queue = batch.slice(next).concat(this.queue);
        if (this.queue.length && !this.scheduled) {
          this.scheduled = true;
          setImmediate(() => this.deliver());
        }
        if (this.wasCongested && !this.congested) {
          this.wasCongested = false;
          this.emit('drain');
        }
      }
    }
  }
}

class MemoryTransport extends EventEmitter implements Transport {
  partners = new Set<string>();
  closed = false;

  constructor(
    private readonly hub: MemoryHub,
    readonly device: Id,
  ) {
    super();
  }

  setPartners(devices: readonly Id[]): void {
    if (this.closed) return;
    this.partners = new Set(devices.map(idKey));
    this.hub.reconcile();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hub.forget(this);
  }
}

/** Redials back off to at most this. */
const MAX_REDIAL_MS = 5000;
/** A link up this long resets the backoff. */
const STABLE_LINK_MS = 10_000;

function pairKey(a: Id, b: Id): string {
  const [x, y] = [idKey(a), idKey(b)].sort();
  return `${x}|${y}`;
}

export class MemoryHub {
  readonly maxQueuedFrames: number;
  readonly maxQueuedBytes: number;
  private readonly reconnectDelayMs: number | null;
  private readonly transports = new Map<string, MemoryTransport>();
  /** Open links by device pair ("a|b", a < b): a's end. */
  private readonly links = new Map<string, MemoryLink>();
  /** Per device pair: its redial backoff, and when its last link came up. */
  private readonly backoff = new Map<string, { backoff: Backoff; openedAt: number }>();

  constructor(options: MemoryHubOptions = {}) {
    this.maxQueuedFrames = options.maxQueuedFrames ?? 256;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 16 * 1024 * 1024;
    this.reconnectDelayMs = options.reconnectDelayMs === undefined ? 100 : options.reconnectDelayMs;
  }

  /** The transport of one device. A device asking again (e.g. restarted) replaces its old transport, whose links close. */
  transport(deviceId: Id): Transport {
    void this.transports.get(idKey(deviceId))?.close();
    const t = new MemoryTransport(this, deviceId);
    this.transports.set(idKey(deviceId), t);
    return t;
  }

  /** A closed transport: its links close, and it takes no new ones. */
  forget(t: MemoryTransport): void {
    if (this.transports.get(idKey(t.device)) === t) this.transports.delete(idKey(t.device));
    const mine = idKey(t.device);
    for (const [key, end] of this.links) if (key.split('|').includes(mine)) this.closeLink(end, 'transport closed');
  }

  /** Closes links no longer wanted and brings up those wanted but missing. */
  reconcile(): void {
    for (const [key, end] of this.links) {
      const [a, b] = key.split('|');
      if (!this.wants(a, b)) this.closeLink(end, 'no longer partners');
    }
    const keys = [...this.transports.keys()].sort();
    for (let i = 0; i < keys.length; i++) {
      for (let j = i + 1; j < keys.length; j++) {
        const key = `${keys[i]}|${keys[j]}`;
        if (!this.links.has(key) && this.wants(keys[i], keys[j])) this.connect(key, this.transports.get(keys[i])!, this.transports.get(keys[j])!);
      }
    }
  }

  private wants(a: string, b: string): boolean {
    const ta = this.transports.get(a);
    const tb = this.transports.get(b);
    return !!ta && !!tb && !ta.closed && !tb.closed && ta.partners.has(b) && tb.partners.has(a);
  }

  private connect(key: string, ta: MemoryTransport, tb: MemoryTransport): void {
    const la = new MemoryLink(this, ta.device, tb.device);
    const lb = new MemoryLink(this, tb.device, ta.device);
    la.other = lb;
    lb.other = la;
    this.links.set(key, la);
    const b = this.backoff.get(key);
    if (b) b.openedAt = Date.now();
    // Both sides hear of it in the same later turn, before any frame either sends is delivered.
    setImmediate(() => {
      if (la.open) ta.emit('link', la);
      if (lb.open) tb.emit('link', lb);
    });
  }

  closeLink(end: MemoryLink, reason: string): void {
    const other = end.other;
    for (const [key, l] of this.links) if (l === end || l === other) this.links.delete(key);
    const shut = [end, other].filter((e) => e.shut());
    for (const e of shut) e.emit('close', reason);
    if (shut.length && this.reconnectDelayMs !== null) {
      const t = setTimeout(() => this.reconcile(), this.redialDelay(pairKey(end.local, end.remote)));
      t.unref();
    }
  }

  /**
   * Exponential backoff with jitter per device pair: the base delay doubling
   * (up to MAX_REDIAL_MS) while links keep failing within STABLE_LINK_MS of
   * coming up, back to the base once one stays up.
   */
  private redialDelay(key: string): number {
    let b = this.backoff.get(key);
    if (!b) this.backoff.set(key, (b = { backoff: new Backoff(this.reconnectDelayMs!, MAX_REDIAL_MS), openedAt: 0 }));
    if (Date.now() - b.openedAt >= STABLE_LINK_MS) b.backoff.reset();
    return b.backoff.take();
  }
}
