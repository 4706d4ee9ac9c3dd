/**
 * A Link over one Protomux channel: one library between two devices on
 * their one Hyperswarm connection.
 *
 * - The channel's protocol is PROTOCOL and its id is the library's topic, so
 *   both ends must know the library's secret for the channel to pair; a
 *   remote that opens a channel for a library it does not share with this
 *   device gets it rejected (see SwarmHost).
 * - One message type carries one frame as raw bytes: the encrypted stream
 *   keeps message boundaries, so no length prefix is added. Frames over
 *   MAX_FRAME_BYTES are refused both ways: an outgoing one is dropped (and
 *   logged), an incoming one closes the link.
 * - 'link' is announced only once the remote has opened its end too, i.e.
 *   after a message from it arrived on this connection (a 'connection'
 *   event alone does not prove the other side has one).
 * - `congested` is the connection's backpressure (the stream's last write
 *   went over its high-water mark), shared by every library on it; 'drain'
 *   follows on each link that saw it congested.
 */
import { EventEmitter } from 'node:events';
import c from 'compact-encoding';
import type { Id } from '../core/ids';
import type { Link } from '../engine/transport';
import { MAX_FRAME_BYTES } from '../protocol/limits';
import type { Channel, Mux, SecretStream } from './hyperswarm-types';

/** Protomux protocol name; bump the version when the framing on the channel changes. */
export const PROTOCOL = 'leaderless-sync/1';

/** One live Hyperswarm connection to a remote device, as SwarmHost tracks it. */
export interface PeerConnection {
  readonly conn: SecretStream;
  readonly mux: Mux;
  /** The remote's public key, hex. */
  readonly keyHex: string;
  /** The error the stream failed with, if it did. */
  error: Error | null;
}

export interface LinkHooks {
  opened(link: SwarmLink): void;
  /** `byUs`: this device closed it (the engine, or a frame over the limit); else the remote or the connection did. */
  closed(link: SwarmLink, reason: string, byUs: boolean): void;
  log(line: string): void;
}

export class SwarmLink extends EventEmitter implements Link {
  private state: 'opening' | 'open' | 'closed' = 'opening';
  private localReason: string | null = null;
  private sawCongestion = false;
  private channel!: Channel;
  /** When the channel opened (ms), 0 before. */
  openedAt = 0;

  private constructor(
    readonly peer: PeerConnection,
    readonly remote: Id,
    private readonly hooks: LinkHooks,
  ) {
    super();
  }

  /**
   * Creates and opens this library's channel on `peer`'s connection; it
   * pairs with a channel the remote opened already, or waits for one. Null
   * if the connection is closed or already has this library's channel.
   */
  static open(peer: PeerConnection, topic: Uint8Array, remote: Id, hooks: LinkHooks): SwarmLink | null {
    const link = new SwarmLink(peer, remote, hooks);
    const channel = peer.mux.createChannel({
      protocol: PROTOCOL,
      id: topic,
      messages: [{ encoding: c.raw, onmessage: (m) => link.receive(m) }],
      onopen: () => link.opened(),
      onclose: () => link.channelClosed(),
      ondrain: () => link.drained(),
    });
    if (!channel) return null;
    link.channel = channel;
    channel.open();
    return link;
  }

  get open(): boolean {
    return this.state === 'open';
  }

  get congested(): boolean {
    const congested = this.state === 'open' && !this.peer.mux.drained;
    if (congested) this.sawCongestion = true;
    return congested;
  }

  send(frame: Uint8Array): boolean {
    if (this.state !== 'open') return false;
    if (frame.byteLength > MAX_FRAME_BYTES) {
      this.hooks.log(`dropped an outgoing frame of ${frame.byteLength} bytes to ${this.peer.keyHex.slice(0, 12)}: the limit is ${MAX_FRAME_BYTES}`);
      return false;
    }
    // Encoded into the stream's own buffer at once: the caller may reuse `frame`.
    if (!this.channel.messages[0].send(frame)) this.sawCongestion = true;
    return true;
  }

  close(reason = 'closed'): void {
    if (this.state === 'closed') return;
    this.localReason = reason;
    this.channel.close(); // calls channelClosed() unless the channel was closed already
    this.finish(reason, true);
  }

  private opened(): void {
    if (this.state !== 'opening') return;
    this.state = 'open';
    this.openedAt = Date.now();
    this.hooks.opened(this);
  }

  private receive(message: Buffer): void {
    if (this.state !== 'open') return;
    if (message.byteLength > MAX_FRAME_BYTES) {
      this.close(`the peer sent a frame of ${message.byteLength} bytes; the limit is ${MAX_FRAME_BYTES}`);
      return;
    }
    // A copy: the message is a view into the stream's (possibly batched) receive buffer.
    const frame = new Uint8Array(message);
    try {
      this.emit('frame', frame);
    } catch (e) {
      // Protomux would destroy the whole connection (every library on it) on a throw here.
      this.hooks.log(`a frame listener threw: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private drained(): void {
    if (this.state !== 'open' || !this.sawCongestion) return;
    this.sawCongestion = false;
    this.emit('drain');
  }

  private channelClosed(): void {
    if (this.localReason !== null) return this.finish(this.localReason, true);
    const { conn, error } = this.peer;
    if (conn.destroyed) this.finish(`connection closed${error ? `: ${error.message}` : ''}`, false);
    else this.finish('closed by the peer', false);
  }

  private finish(reason: string, byUs: boolean): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    if (wasOpen) this.emit('close', reason);
    this.hooks.closed(this, reason, byUs);
  }
}
