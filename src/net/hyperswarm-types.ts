/**
 * The few parts of hyperswarm 4, hyperdht 6, protomux 3 and sodium-native
 * this layer uses, typed by hand (the packages ship no declarations). Only
 * what is called here is declared, so a version bump that changes it fails
 * to compile against nothing and is caught by the tests instead.
 */

export interface KeyPair {
  publicKey: Buffer;
  secretKey: Buffer;
}

/** A Hyperswarm connection: an encrypted, message-preserving stream (@hyperswarm/secret-stream). */
export interface SecretStream {
  /** The remote's Noise static key: authenticated by the handshake. */
  readonly remotePublicKey: Uint8Array;
  /** This side's Noise static key. */
  readonly publicKey: Uint8Array;
  /** The Noise handshake hash: the same on both ends, unique to this connection. */
  readonly handshakeHash: Uint8Array;
  readonly destroyed: boolean;
  setKeepAlive(ms: number): void;
  setTimeout(ms: number): void;
  destroy(err?: Error): void;
  /** The UDX stream underneath (null until connected); `rtt`: its smoothed round trip in ms. */
  readonly rawStream?: { readonly rtt: number } | null;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** Hyperswarm's per-key bookkeeping; a firewalled key gets banned=true for the life of the swarm. */
export interface PeerInfo {
  ban(banned: boolean): void;
}

export interface DiscoverySession {
  /** Announces and looks up the topic again now. */
  refresh(): Promise<unknown>;
  /** Resolves once the first announce (server) / lookup (client) finished. */
  flushed(): Promise<unknown>;
}

export interface Swarm {
  readonly peers: Map<string, PeerInfo>;
  join(topic: Uint8Array, opts: { server: boolean; client: boolean }): DiscoverySession;
  leave(topic: Uint8Array): Promise<void>;
  joinPeer(publicKey: Uint8Array): void;
  leavePeer(publicKey: Uint8Array): void;
  on(event: 'connection', listener: (conn: SecretStream) => void): unknown;
  /** Starts accepting connections to this key (announces it on the DHT). */
  listen(): Promise<void>;
  destroy(): Promise<void>;
}

export interface SwarmOptions {
  keyPair: KeyPair;
  dht: unknown;
  /** True rejects. `payload` is null when Hyperswarm is about to dial out. */
  firewall: (remotePublicKey: Uint8Array, payload: unknown) => boolean;
}

export type SwarmConstructor = new (opts: SwarmOptions) => Swarm;

export type DhtConstructor = new (opts: { bootstrap?: { host: string; port: number }[]; host?: string; keyPair: KeyPair }) => unknown;

export interface MessageType {
  /** Queues one message; returns false when the stream is over its high-water mark. */
  send(message: Uint8Array): boolean;
}

export interface Channel {
  readonly messages: MessageType[];
  open(): void;
  close(): void;
}

export interface ChannelOptions {
  protocol: string;
  id: Uint8Array;
  messages: { encoding: unknown; onmessage: (message: Buffer) => void }[];
  onopen: () => void;
  /** isRemote: the remote closed or rejected it, or the stream closed. */
  onclose: (isRemote: boolean) => void;
  ondrain: () => void;
}

export interface Mux {
  /** False from a write over the stream's high-water mark until its 'drain' (shared by all channels). */
  readonly drained: boolean;
  /** Null if a channel with this protocol and id is already open on this stream. */
  createChannel(opts: ChannelOptions): Channel | null;
  /** Called when the remote opens a channel of `protocol` that no local channel is waiting for; without a local channel by then it is rejected. */
  pair(opts: { protocol: string }, notify: (id: Uint8Array | null) => void): void;
}

export interface ProtomuxStatic {
  from(stream: SecretStream): Mux;
}

export interface Sodium {
  crypto_generichash(out: Uint8Array, message: Uint8Array, key?: Uint8Array): void;
  crypto_pwhash_async(out: Uint8Array, passwd: Uint8Array, salt: Uint8Array, opslimit: number, memlimit: number, alg: number): Promise<void>;
  readonly crypto_pwhash_OPSLIMIT_INTERACTIVE: number;
  readonly crypto_pwhash_MEMLIMIT_INTERACTIVE: number;
  readonly crypto_pwhash_ALG_ARGON2ID13: number;
  /** Constant-time equality of two same-length buffers. */
  sodium_memcmp(a: Uint8Array, b: Uint8Array): boolean;
}
