/**
 * The device's one Hyperswarm, shared by every library the engine runs.
 *
 * - Between two devices there is one connection (Hyperswarm deduplicates
 *   by key); each library they share is a Protomux channel on it, keyed by
 *   the library's topic (see SwarmLink). `transport()` gives one library
 *   its Transport.
 * - The firewall admits a remote key only while some library lists it as
 *   a partner's key; it runs before dialling out and on every incoming
 *   handshake, so a stranger never gets a connection, let alone a channel.
 *   Rejections are logged. Hyperswarm bans a rejected key for the life of
 *   the swarm, so a key that becomes a partner later is unbanned first.
 * - It listens on the device key from the start, and every partner key is
 *   dialled directly (joinPeer) besides topic discovery; keys no partner
 *   wants any more are left and their connection closed.
 * - Dead connections are noticed in ~2–3 s (keep-alive 1 s, timeout 3 s)
 *   instead of Hyperswarm's ~15 s default.
 * - A connection on which no library's channel opens soon is dropped and
 *   dialled again (one-sided hole punch). "Soon" is time this process could
 *   read the network (afterResponsiveWait): a blocked event loop is not the
 *   peer's silence.
 * - `destroy()` leaves everything and destroys the swarm and its DHT node,
 *   so the process can exit.
 *
 * Hyperswarm is loaded inside `create`, not at import: where its native
 * addons cannot load, `create` rejects with NetworkUnavailableError and the
 * rest of the engine is unaffected.
 */
import { toHex, type Id } from '../core/ids';
import type { Transport } from '../engine/transport';
import type { KeyPair, SecretStream, Swarm } from './hyperswarm-types';
import { libraryTopic } from './keys';
import { loadNetModules, type NetModules } from './native';
import { PROTOCOL, type PeerConnection } from './swarm-link';
import { SwarmTransport, type PeerKey, type SwarmAccess } from './swarm-transport';

export interface SwarmHostOptions {
  keyPair: KeyPair;
  /** DHT bootstrap nodes; default Hyperswarm's public ones. Tests pass a local testnet's. */
  bootstrap?: { host: string; port: number }[];
  /** Address the DHT binds; default 127.0.0.1 when every bootstrap node is on loopback, else all interfaces. */
  bindHost?: string;
  log?: (line: string) => void;
}

export interface LibraryNetOptions {
  libraryId: Id;
  /** The library secret: its topic is derived from it. */
  secret: Uint8Array;
  /** The library's partners with the public keys they were paired with (read on every setPartners). */
  peers: () => readonly PeerKey[];
}

/** Keep-alive and timeout on every connection (ms): a silent peer is dropped after ~2–3 s. */
const KEEP_ALIVE_MS = 1000;
const TIMEOUT_MS = 3000;
/**
 * A connection that carries no open channel of a library that wants the
 * peer after this long is dropped and dialled again (see onConnection):
 * opening a channel takes one round trip, so the wait is a floor plus a
 * few of the connection's measured round trips (a slow link is not cut).
 */
const CHANNEL_OPEN_FLOOR_MS = 750;
const CHANNEL_OPEN_RTTS = 4;

/** How long a fresh connection may go without its channel opening before it is dropped and dialled again. */
export function channelOpenWaitMs(conn: Pick<SecretStream, 'rawStream'>): number {
  return CHANNEL_OPEN_FLOOR_MS + CHANNEL_OPEN_RTTS * (conn.rawStream?.rtt ?? 0);
}

/** How often afterResponsiveWait looks at the clock (ms), and the most one look counts (ms). */
const RESPONSIVE_TICK_MS = 50;
const RESPONSIVE_TICK_MAX_MS = 2 * RESPONSIVE_TICK_MS;

/**
 * Calls `late` once `waitMs` of time in which this process could read the
 * network has passed; the returned function cancels it. On a responsive
 * event loop that is `waitMs` (to a tick); time the loop spends blocked (a
 * long synchronous task: a digest, a large apply) counts for at most
 * RESPONSIVE_TICK_MAX_MS per stall, and `late` runs only after the loop has
 * polled for I/O since its last look.
 *
 * A plain timer is wrong for "the remote did not answer in time" in a busy
 * process: it counts the time this process was blocked as the remote's
 * silence, and it can run before the I/O that arrived during the stall (the
 * remote's channel open) has been read, since timers run before a loop
 * turn's poll phase. When both ends share one blocked loop (the network
 * demo, tests) the remote cannot even answer until the loop turns. Under the
 * demo's digest polling (~1 s stalls) every connection after a resume came
 * up during a stall and was dropped before its channel could open, and so
 * was every redial, for good.
 */
export function afterResponsiveWait(waitMs: number, late: () => void): () => void {
  let counted = 0;
  let last = performance.now();
  let decide: NodeJS.Immediate | null = null;
  const tick = setInterval(() => {
    const now = performance.now();
    counted += Math.min(now - last, RESPONSIVE_TICK_MAX_MS);
    last = now;
    if (counted < waitMs) return;
    clearInterval(tick);
    // Timers run before the poll phase: decide in the check phase, after what arrived so far is read.
    decide = setImmediate(late);
    decide.unref();
  }, RESPONSIVE_TICK_MS);
  tick.unref();
  return () => {
    clearInterval(tick);
    if (decide) clearImmediate(decide);
  };
}

/** How long a key a join announced is admitted before its library lists it. */
const EXPECT_TTL_MS = 60_000;

const short = (hex: string) => hex.slice(0, 12);

/** A Hyperswarm on its own DHT node; on loopback-only bootstrap nodes (a local testnet) the node binds 127.0.0.1. */
export function newSwarm(net: NetModules, opts: SwarmHostOptions, firewall: (key: Uint8Array, payload: unknown) => boolean): Swarm {
  const { keyPair, bootstrap } = opts;
  const loopback = !!bootstrap?.length && bootstrap.every((b) => b.host === '127.0.0.1' || b.host === 'localhost');
  const host = opts.bindHost ?? (loopback ? '127.0.0.1' : undefined);
  const dht = new net.DHT({ keyPair, ...(bootstrap ? { bootstrap } : {}), ...(host ? { host } : {}) });
  return new net.Hyperswarm({ keyPair, dht, firewall });
}

export class SwarmHost {
  private readonly swarm: Swarm;
  /** Library transports by topic (hex). */
  private readonly transports = new Map<string, SwarmTransport>();
  private readonly peerConns = new Set<PeerConnection>();
  /** Keys currently joined as explicit peers (hex → key). */
  private readonly joined = new Map<string, Uint8Array>();
  /** Keys admitted before any library lists them, until when (ms); see expect(). */
  private readonly expected = new Map<string, number>();
  private readonly log: (line: string) => void;
  private destroyed = false;
  private readonly access: SwarmAccess;
  private readonly listening: Promise<boolean>;

  static async create(opts: SwarmHostOptions): Promise<SwarmHost> {
    return new SwarmHost(loadNetModules(), opts);
  }

  /**
   * Resolves once this device is announced on the DHT under its key (false
   * if that failed, e.g. offline). Nothing needs to wait for it; a partner
   * that dials before it only retries (~1 s later).
   */
  announced(): Promise<boolean> {
    return this.listening;
  }

  private constructor(
    private readonly net: NetModules,
    opts: SwarmHostOptions,
  ) {
    this.log = opts.log ?? (() => undefined);
    this.swarm = newSwarm(net, opts, (key, payload) => this.firewall(key, payload));
    this.swarm.on('connection', (conn) => this.onConnection(conn));
    // Reachable by key from the start, not only once a library joins its topic (the firewall guards it).
    // Not awaited: offline, announcing takes long, and the engine must start at once.
    this.listening = this.swarm.listen().then(
      () => true,
      (e: Error) => (this.destroyed || this.log(`announcing this device failed: ${e.message}`), false),
    );
    this.access = {
      join: (topic) => this.swarm.join(topic, { server: true, client: true }),
      leave: (topic) => void this.swarm.leave(topic).catch((e: Error) => this.log(`leaving a topic failed: ${e.message}`)),
      partnersChanged: () => this.reconcile(),
      redial: (keys) => {
        if (!this.destroyed) for (const k of keys) this.swarm.joinPeer(k);
      },
      connections: () => this.peerConns,
      forget: (t) => {
        const hex = toHex(t.topic);
        if (this.transports.get(hex) === t) this.transports.delete(hex);
      },
      log: this.log,
    };
  }

  /**
   * Admits these keys for `ttlMs` before any library lists them: the
   * partners a join is about to record (the peer of an active pairing). The
   * inviter dials the new device as soon as it admitted it, which would
   * otherwise be refused (and the key banned) while the new device is still
   * creating its copy of the library. A connection admitted this way waits
   * for that library's transport to attach to it.
   */
  expect(keys: readonly Uint8Array[], ttlMs = EXPECT_TTL_MS): void {
    if (this.destroyed) return;
    const until = Date.now() + ttlMs;
    for (const key of keys) {
      const hex = toHex(key);
      this.expected.set(hex, until);
      this.swarm.peers.get(hex)?.ban(false);
    }
  }

  /** The Transport of one library. Asking again for the same library replaces (closes) the previous one. */
  transport(opts: LibraryNetOptions): Transport {
    if (this.destroyed) throw new Error('SwarmHost destroyed');
    const topic = libraryTopic(opts.secret);
    const hex = toHex(topic);
    void this.transports.get(hex)?.close();
    const t = new SwarmTransport(this.access, opts.libraryId, topic, opts.peers);
    this.transports.set(hex, t);
    return t;
  }

  /** Open Hyperswarm connections (one per remote device, whatever the number of shared libraries). */
  get connectionCount(): number {
    return this.peerConns.size;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.transports.values()].map((t) => t.close()));
    await this.swarm.destroy();
  }

  private wanted(): Map<string, PeerKey> {
    const keys = new Map<string, PeerKey>();
    for (const t of this.transports.values()) for (const p of t.wantedKeys()) keys.set(toHex(p.publicKey), p);
    return keys;
  }

  private admits(hex: string): boolean {
    if (this.destroyed) return false;
    if ([...this.transports.values()].some((t) => t.wants(hex))) return true;
    const until = this.expected.get(hex);
    if (until !== undefined && until < Date.now()) this.expected.delete(hex);
    return until !== undefined && until >= Date.now();
  }

  /** True rejects. */
  private firewall(remoteKey: Uint8Array, payload: unknown): boolean {
    const hex = toHex(remoteKey);
    if (this.admits(hex)) return false;
    this.log(payload === null ? `not dialling ${short(hex)}: not a partner in any library here` : `refused a connection from ${short(hex)}: not a partner in any library here`);
    return true;
  }

  /** Makes the swarm's explicit peers match the keys the libraries want; drops connections to keys none wants. */
  private reconcile(): void {
    if (this.destroyed) return;
    const want = this.wanted();
    for (const [hex, p] of want) {
      if (this.joined.has(hex)) continue;
      this.swarm.peers.get(hex)?.ban(false); // it may have been firewalled before it was paired
      this.swarm.joinPeer(p.publicKey);
      this.joined.set(hex, p.publicKey);
    }
    for (const [hex, key] of this.joined) {
      if (want.has(hex)) continue;
      this.swarm.leavePeer(key);
      this.joined.delete(hex);
      for (const peer of this.peerConns) if (peer.keyHex === hex) peer.conn.destroy();
    }
  }

  private onConnection(conn: SecretStream): void {
    const hex = toHex(conn.remotePublicKey);
    conn.on('error', () => undefined); // the reason reaches the links through peer.error
    if (!this.admits(hex)) {
      this.log(`closing a connection from ${short(hex)}: not a partner in any library here`);
      conn.destroy();
      return;
    }
    conn.setKeepAlive(KEEP_ALIVE_MS);
    conn.setTimeout(TIMEOUT_MS);
    const peer: PeerConnection = { conn, mux: this.net.Protomux.from(conn), keyHex: hex, error: null };
    conn.on('error', (e) => (peer.error = e));
    conn.on('close', () => this.peerConns.delete(peer));
    peer.mux.pair({ protocol: PROTOCOL }, (id) => this.onChannelRequest(peer, id));
    this.peerConns.add(peer);
    for (const t of this.transports.values()) t.attach(peer);
    // A connection can be up on this side only (a hole punch the other side never saw) and
    // would sit for Hyperswarm's ~13 s timeout: without any library's channel open on it soon,
    // drop it so that either side dials again. Soon in time this process could read the network:
    // a stall here is not the remote's silence (see afterResponsiveWait).
    const waitMs = channelOpenWaitMs(conn);
    const cancel = afterResponsiveWait(waitMs, () => {
      if (conn.destroyed || this.destroyed || ![...this.transports.values()].some((t) => t.wants(hex))) return;
      if ([...this.transports.values()].some((t) => t.hasOpenLink(peer))) return;
      this.log(`no channel came up on the connection to ${short(hex)} within ${Math.round(waitMs)} ms; dropping it to dial again`);
      // Dial at once rather than after Hyperswarm's retry backoff (1–1.5 s): joinPeer queues a
      // connection attempt for an explicit peer that has no connection, which holds once Hyperswarm
      // has seen this one close (its own close listener runs before ours).
      conn.on('close', () => setImmediate(() => this.redial(conn.remotePublicKey)));
      conn.destroy();
    });
    conn.on('close', cancel);
  }

  /** Queues a connection attempt to `key` now, if a library still wants it and none is up. */
  private redial(key: Uint8Array): void {
    const hex = toHex(key);
    if (this.destroyed || ![...this.transports.values()].some((t) => t.wants(hex))) return;
    this.swarm.joinPeer(key);
  }

  /** The remote opened a channel no library here was waiting for on this connection. */
  private onChannelRequest(peer: PeerConnection, id: Uint8Array | null): void {
    const t = id ? this.transports.get(toHex(id)) : undefined;
    if (t?.accept(peer)) return;
    this.log(`refused a channel from ${short(peer.keyHex)}: ${t ? 'not a partner in that library' : 'no such library here'}`);
  }
}
