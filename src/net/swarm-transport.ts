/**
 * The Transport of one library on the device's shared swarm (SwarmHost).
 *
 * - Partners are device ids (from the engine); `peers()` maps them to the
 *   public keys they were paired with. A link's `remote` is the device the
 *   connection's authenticated key belongs to in this library, so a device
 *   can only ever speak as itself. A partner without a key cannot be
 *   reached (logged).
 * - While the library has partners it joins its topic (server and client)
 *   and the host dials each partner's key directly (joinPeer). While a
 *   partner has no link, the topic is re-announced and looked up again
 *   after 1 s, 2 s, 4 s … 30 s: peers that join at the same moment often
 *   miss each other's announcements otherwise (see notes/hyperswarm.md).
 * - A link this device closed (the engine gave up on it, or a frame was
 *   too big) is reopened on the same connection after a backoff while the
 *   partner is still wanted; a link the remote closed is left to the remote
 *   to reopen (it closed it for a reason: unpaired, stopped, or its engine
 *   gave up and will reopen it itself). A dropped connection is redialled
 *   by Hyperswarm; every library's channel comes up again on the new one.
 */
import { EventEmitter } from 'node:events';
import { idEquals, idKey, idToString, toHex, type Id } from '../core/ids';
import type { Link, Transport } from '../engine/transport';
import { Backoff } from '../engine/backoff';
import type { DiscoverySession } from './hyperswarm-types';
import { SwarmLink, type PeerConnection } from './swarm-link';

/** A partner device of a library and the public key it was paired with. */
export interface PeerKey {
  device: Id;
  publicKey: Uint8Array;
}

/** What a library transport needs from the host's swarm. */
export interface SwarmAccess {
  join(topic: Uint8Array): DiscoverySession;
  leave(topic: Uint8Array): void;
  /** The set of keys some library wants changed: update the firewall and explicit peers. */
  partnersChanged(): void;
  /** Dial these keys again (they have no link). */
  redial(keys: readonly Uint8Array[]): void;
  connections(): Iterable<PeerConnection>;
  forget(t: SwarmTransport): void;
  log(line: string): void;
}

const REFRESH_FIRST_MS = 1000;
const REFRESH_MAX_MS = 30_000;
const REOPEN_FIRST_MS = 500;
const REOPEN_MAX_MS = 30_000;
/** A link that stayed up this long resets the reopen backoff. */
const STABLE_LINK_MS = 10_000;

export class SwarmTransport extends EventEmitter implements Transport {
  /** Wanted partners by public key (hex). */
  private wanted = new Map<string, PeerKey>();
  /** Links opening or open (at most one per connection). */
  private readonly links = new Set<SwarmLink>();
  private discovery: DiscoverySession | null = null;
  private readonly refreshBackoff = new Backoff(REFRESH_FIRST_MS, REFRESH_MAX_MS);
  private refreshTimer: NodeJS.Timeout | null = null;
  private readonly reopen = new Map<string, { backoff: Backoff; timer: NodeJS.Timeout | null }>();
  private closed = false;

  constructor(
    private readonly swarm: SwarmAccess,
    readonly libraryId: Id,
    readonly topic: Uint8Array,
    private readonly peers: () => readonly PeerKey[],
  ) {
    super();
  }

  setPartners(devices: readonly Id[]): void {
    if (this.closed) return;
    const keys = new Map<string, PeerKey>();
    for (const p of this.peers()) keys.set(idKey(p.device), p);
    const next = new Map<string, PeerKey>();
    for (const device of devices) {
      const p = keys.get(idKey(device));
      if (!p || p.publicKey.byteLength !== 32) {
        this.log(`partner ${idToString(device)} has no public key: it cannot be reached over the network`);
        continue;
      }
      const hex = toHex(p.publicKey);
      if (next.has(hex)) this.log(`partners ${idToString(next.get(hex)!.device)} and ${idToString(device)} share a public key; ignoring the second`);
      else next.set(hex, { device: p.device, publicKey: p.publicKey });
    }
    this.wanted = next;
    for (const link of this.links) {
      const w = next.get(link.peer.keyHex);
      if (!w || !idEquals(w.device, link.remote)) link.close('no longer partners');
    }
    for (const hex of this.reopen.keys()) if (!next.has(hex)) this.cancelReopen(hex);
    this.swarm.partnersChanged();
    this.updateTopic();
    for (const peer of this.swarm.connections()) this.attach(peer);
    this.refreshSoon(true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wanted = new Map();
    for (const link of [...this.links]) link.close('transport closed');
    for (const hex of [...this.reopen.keys()]) this.cancelReopen(hex);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    this.updateTopic();
    this.swarm.forget(this);
    this.swarm.partnersChanged();
  }

  /** Public keys of the partners this library wants links with. */
  wantedKeys(): Iterable<PeerKey> {
    return this.wanted.values();
  }

  /** A link of this library is open on `peer`'s connection. */
  hasOpenLink(peer: PeerConnection): boolean {
    for (const l of this.links) if (l.peer === peer && l.open) return true;
    return false;
  }

  wants(keyHex: string): boolean {
    return !this.closed && this.wanted.has(keyHex);
  }

  /** A connection came up (or partners changed): open this library's channel on it if the remote is a partner. */
  attach(peer: PeerConnection): void {
    if (!this.wants(peer.keyHex) || peer.conn.destroyed) return;
    for (const l of this.links) if (l.peer === peer) return;
    const link = SwarmLink.open(peer, this.topic, this.wanted.get(peer.keyHex)!.device, {
      opened: (l) => this.linkOpened(l),
      closed: (l, reason, byUs) => this.linkClosed(l, reason, byUs),
      log: (line) => this.log(line),
    });
    if (link) this.links.add(link);
  }

  /** The remote opened this library's channel on `peer`: true if it is accepted (a channel of ours now pairs with it). */
  accept(peer: PeerConnection): boolean {
    if (!this.wants(peer.keyHex)) return false;
    this.attach(peer);
    return [...this.links].some((l) => l.peer === peer);
  }

  private linkOpened(link: SwarmLink): void {
    this.log(`link to ${idToString(link.remote)} open`);
    try {
      this.emit('link', link satisfies Link);
    } catch (e) {
      // Thrown into Protomux, it would destroy the connection and every library's link on it.
      this.log(`a link listener threw: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private linkClosed(link: SwarmLink, reason: string, byUs: boolean): void {
    this.links.delete(link);
    if (this.closed || !this.wanted.has(link.peer.keyHex)) return;
    if (link.openedAt > 0) this.log(`link to ${idToString(link.remote)} closed: ${reason}`);
    if (byUs && !link.peer.conn.destroyed) this.scheduleReopen(link);
    this.refreshSoon(true);
  }

  private scheduleReopen(link: SwarmLink): void {
    const hex = link.peer.keyHex;
    let r = this.reopen.get(hex);
    if (!r) this.reopen.set(hex, (r = { backoff: new Backoff(REOPEN_FIRST_MS, REOPEN_MAX_MS), timer: null }));
    if (link.openedAt > 0 && Date.now() - link.openedAt >= STABLE_LINK_MS) r.backoff.reset();
    if (r.timer) clearTimeout(r.timer);
    r.timer = setTimeout(() => {
      r.timer = null;
      this.attach(link.peer); // no-op if the connection closed meanwhile (its successor attaches itself)
    }, r.backoff.take());
    r.timer.unref();
  }

  private cancelReopen(hex: string): void {
    const r = this.reopen.get(hex);
    if (r?.timer) clearTimeout(r.timer);
    this.reopen.delete(hex);
  }

  private updateTopic(): void {
    const want = !this.closed && this.wanted.size > 0;
    if (want && !this.discovery) this.discovery = this.swarm.join(this.topic);
    else if (!want && this.discovery) {
      this.discovery = null;
      this.swarm.leave(this.topic);
    }
  }

  /** Partners without an open link. */
  private missing(): PeerKey[] {
    const up = new Set<string>();
    for (const l of this.links) if (l.open) up.add(l.peer.keyHex);
    return [...this.wanted].filter(([hex]) => !up.has(hex)).map(([, p]) => p);
  }

  /** Schedules the next discovery refresh while a partner is missing; `reset` starts the backoff over. */
  private refreshSoon(reset: boolean): void {
    if (reset) {
      this.refreshBackoff.reset();
      if (this.refreshTimer) clearTimeout(this.refreshTimer);
      this.refreshTimer = null;
    }
    if (this.closed || this.refreshTimer || this.missing().length === 0) return;
    this.refreshTimer = setTimeout(() => this.refresh(), this.refreshBackoff.take());
    this.refreshTimer.unref();
  }

  private refresh(): void {
    this.refreshTimer = null;
    const missing = this.missing();
    if (this.closed || missing.length === 0) return;
    this.discovery?.refresh().catch((e: Error) => this.log(`topic refresh failed: ${e.message}`));
    this.swarm.redial(missing.map((p) => p.publicKey));
    this.refreshSoon(false);
  }

  private log(line: string): void {
    this.swarm.log(`[library ${idToString(this.libraryId).slice(0, 8)}] ${line}`);
  }
}
