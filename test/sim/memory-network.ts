/**
 * An in-memory network for the simulator: every device gets a Transport;
 * links come up between devices that list each other as partners and are
 * not partitioned; frames travel on the virtual clock with injectable
 * faults (drop, duplicate, delay and reordering), and links can be cut by
 * partitions and crashes. Seeded, so every run replays exactly.
 */
import { EventEmitter } from 'node:events';
import { idKey, type Id } from '../../src/core/ids';
import type { Link, Transport } from '../../src/engine/transport';
import type { Random } from '../support/random';
import type { VirtualClock } from './virtual-clock';

export interface Faults {
  /** Probability that a frame is lost. */
  drop: number;
  /** Probability that a frame is delivered twice. */
  duplicate: number;
  /** Base one-way delay (ms) and random extra delay (ms); extra delay reorders frames. */
  delayMs: number;
  jitterMs: number;
}

export const NO_FAULTS: Faults = { drop: 0, duplicate: 0, delayMs: 1, jitterMs: 0 };

/** Frames a link buffers before it reports congestion. */
const SEND_BUFFER_FRAMES = 256;

class MemoryLink extends EventEmitter implements Link {
  open = true;
  inFlight = 0;
  peerEnd!: MemoryLink;
  /** This end's process died: what it already sent still arrives; closing it does nothing more. */
  crashed = false;
  /** When the last frame this end sent arrives (virtual ms). */
  lastArrival = 0;

  constructor(
    private readonly net: MemoryNetwork,
    readonly local: Id,
    readonly remote: Id,
  ) {
    super();
  }

  get congested(): boolean {
    return this.inFlight >= SEND_BUFFER_FRAMES;
  }

  send(frame: Uint8Array): boolean {
    if (!this.open) return false;
    this.net.carry(this, frame);
    return true;
  }

  close(reason = 'closed'): void {
    this.net.cut(this, reason);
  }
}

class MemoryTransport extends EventEmitter implements Transport {
  partners = new Set<string>();
  closed = false;

  constructor(
    private readonly net: MemoryNetwork,
    readonly device: Id,
  ) {
    super();
  }

  setPartners(devices: readonly Id[]): void {
    this.partners = new Set(devices.map(idKey));
    this.net.reconcile();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.net.reconcile();
  }
}

export class MemoryNetwork {
  faults: Faults = NO_FAULTS;
  private readonly transports = new Map<string, MemoryTransport>();
  private readonly links = new Map<string, MemoryLink>(); // "a|b" (a < b) → a's end
  private readonly partitions = new Set<string>();
  /** Frames delivered, dropped and duplicated so far. */
  readonly stats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };

  constructor(
    private readonly clock: VirtualClock,
    private readonly rnd: Random,
  ) {}

  /** A transport for this device (replacing a crashed one's). */
  transport(device: Id): Transport {
    const old = this.transports.get(idKey(device));
    if (old) old.closed = true;
    const t = new MemoryTransport(this, device);
    this.transports.set(idKey(device), t);
    this.reconcile();
    return t;
  }

  /**
   * The device's process died: its transport is forgotten and its ends of
   * every link close at once. Frames it already put on the wire still
   * arrive; each partner sees its link close only after the last of them
   * (as TCP delivers data, then the reset).
   */
  crash(device: Id): void {
    const key = idKey(device);
    const t = this.transports.get(key);
    if (t) t.closed = true;
    this.transports.delete(key);
    for (const [k, link] of [...this.links]) {
      const dead = idKey(link.local) === key ? link : idKey(link.peerEnd.local) === key ? link.peerEnd : null;
      if (!dead) continue;
      this.links.delete(k);
      const alive = dead.peerEnd;
      dead.crashed = true;
      if (dead.open) {
        dead.open = false;
        dead.emit('close', 'crashed');
      }
      this.clock.setTimeout(
        () => {
          if (!alive.open) return;
          alive.open = false;
          alive.emit('close', 'connection reset');
          this.clock.setTimeout(() => this.reconcile(), 1);
        },
        Math.max(0, dead.lastArrival - this.clock.now()) + 1,
      );
    }
    this.reconcile();
  }

  /** Drops the link between two devices (they connect again a moment later, and start over with Hellos). */
  reconnect(a: Id, b: Id): void {
    const link = this.links.get(pairKey(a, b));
    if (link) this.cut(link, 'reconnect');
  }

  /** No frame crosses between the two groups until `heal`. */
  partition(a: readonly Id[], b: readonly Id[]): void {
    for (const x of a) for (const y of b) this.partitions.add(pairKey(x, y));
    this.reconcile();
  }

  heal(): void {
    this.partitions.clear();
    this.reconcile();
  }

  /** Brings links up and down to match partners, partitions and crashes. */
  reconcile(): void {
    const live = [...this.transports.values()].filter((t) => !t.closed);
    for (const [key, link] of this.links) {
      const [a, b] = key.split('|');
      const ta = this.transports.get(a);
      const tb = this.transports.get(b);
      if (!ta || !tb || ta.closed || tb.closed || !this.wants(ta, tb)) this.cut(link, 'unreachable');
    }
    for (let i = 0; i < live.length; i++) {
      for (let j = i + 1; j < live.length; j++) {
        const [ta, tb] = idKey(live[i].device) < idKey(live[j].device) ? [live[i], live[j]] : [live[j], live[i]];
        const key = `${idKey(ta.device)}|${idKey(tb.device)}`;
        if (this.links.has(key) || !this.wants(ta, tb)) continue;
        const la = new MemoryLink(this, ta.device, tb.device);
        const lb = new MemoryLink(this, tb.device, ta.device);
        la.peerEnd = lb;
        lb.peerEnd = la;
        this.links.set(key, la);
        // both sides learn of the link a moment later, like a handshake
        this.clock.setTimeout(() => la.open && ta.emit('link', la), this.faults.delayMs);
        this.clock.setTimeout(() => lb.open && tb.emit('link', lb), this.faults.delayMs);
      }
    }
  }

  private wants(a: MemoryTransport, b: MemoryTransport): boolean {
    return a.partners.has(idKey(b.device)) && b.partners.has(idKey(a.device)) && !this.partitions.has(pairKey(a.device, b.device));
  }

  /** Called with every frame as it is sent (the simulator arms events on it). */
  onSend: ((from: Id, to: Id, frame: Uint8Array) => void) | null = null;
  /** Rewrites what a device sends (a lying device, byzantine.ts): the frames that go out instead of `frame`. */
  tamper: ((from: Id, to: Id, frame: Uint8Array) => Uint8Array[]) | null = null;

  carry(from: MemoryLink, frame: Uint8Array): void {
    this.onSend?.(from.local, from.remote, frame);
    for (const f of this.tamper ? this.tamper(from.local, from.remote, frame) : [frame]) this.deliver(from, f);
  }

  private deliver(from: MemoryLink, frame: Uint8Array): void {
    this.stats.sent++;
    if (process.env.SIM_TRACE === '2') process.stdout.write(`send ${this.clock.now()} ${idKey(from.local).slice(0, 4)}>${idKey(from.remote).slice(0, 4)} type ${frame[0]} len ${frame.length}\n`);
    if (this.rnd.chance(this.faults.drop)) {
      this.stats.dropped++;
      return;
    }
    const copies = this.rnd.chance(this.faults.duplicate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    const bytes = Uint8Array.from(frame); // the sender may reuse its buffer
    for (let c = 0; c < copies; c++) {
      from.inFlight++;
      const delay = this.faults.delayMs + this.rnd.int(this.faults.jitterMs + 1);
      from.lastArrival = Math.max(from.lastArrival, this.clock.now() + delay);
      this.clock.setTimeout(() => {
        const wasCongested = from.congested;
        from.inFlight--;
        if (wasCongested && !from.congested && from.open) from.emit('drain');
        const to = from.peerEnd;
        if ((!from.open && !from.crashed) || !to.open) return; // lost with the link (a crashed sender's frames still arrive)
        this.stats.delivered++;
        to.emit('frame', bytes);
      }, delay);
    }
  }

  cut(link: MemoryLink, reason: string): void {
    if (link.crashed) return; // a dead process closes nothing (its partner's end closes after the frames in flight)
    const other = link.peerEnd;
    for (const [key, l] of this.links) if (l === link || l === other) this.links.delete(key);
    for (const end of [link, other]) {
      if (!end.open) continue;
      end.open = false;
      end.emit('close', reason);
    }
    this.clock.setTimeout(() => this.reconcile(), 1);
  }
}

function pairKey(a: Id, b: Id): string {
  const [x, y] = [idKey(a), idKey(b)].sort();
  return `${x}|${y}`;
}
