/**
 * A Transport between two threads over a MessagePort: one partner at the
 * other end, frames copied across (structured clone), in order. For
 * bench:sync, which runs the serving peer on a thread of its own, as it
 * would run on a machine of its own. Never congested (the requester paces a
 * backfill page by page).
 */
import { EventEmitter } from 'node:events';
import type { MessagePort } from 'node:worker_threads';
import { idEquals, type Id } from '../src/core/ids';
import type { Link, Transport } from '../src/engine/transport';

type PortMessage = { t: 'up' } | { t: 'frame'; b: Uint8Array } | { t: 'close'; reason: string };

class PortLink extends EventEmitter implements Link {
  open = true;
  readonly congested = false;

  constructor(
    readonly remote: Id,
    private readonly port: MessagePort,
    private readonly onClosed: () => void,
  ) {
    super();
  }

  send(frame: Uint8Array): boolean {
    if (!this.open) return false;
    this.port.postMessage({ t: 'frame', b: frame } satisfies PortMessage);
    return true;
  }

  close(reason = 'closed'): void {
    if (!this.open) return;
    this.port.postMessage({ t: 'close', reason } satisfies PortMessage);
    this.closed(reason);
  }

  closed(reason: string): void {
    if (!this.open) return;
    this.open = false;
    this.onClosed();
    this.emit('close', reason);
  }
}

export class PortTransport extends EventEmitter implements Transport {
  private wanted = false;
  private otherUp = false;
  private link: PortLink | null = null;

  constructor(
    private readonly port: MessagePort,
    private readonly remote: Id,
  ) {
    super();
    port.on('message', (m: PortMessage) => this.onMessage(m));
  }

  setPartners(devices: readonly Id[]): void {
    const wanted = devices.some((d) => idEquals(d, this.remote));
    if (wanted && !this.wanted) this.port.postMessage({ t: 'up' } satisfies PortMessage);
    this.wanted = wanted;
    if (!wanted) this.link?.close('not a partner');
    this.maybeUp();
  }

  async close(): Promise<void> {
    this.wanted = false;
    this.link?.close('transport closed');
    this.port.close();
  }

  private maybeUp(): void {
    if (!this.wanted || !this.otherUp || this.link) return;
    this.link = new PortLink(this.remote, this.port, () => (this.link = null));
    this.emit('link', this.link);
  }

  private onMessage(m: PortMessage): void {
    if (m.t === 'up') {
      this.otherUp = true;
      this.maybeUp();
    } else if (m.t === 'frame') this.link?.emit('frame', m.b);
    else {
      this.otherUp = false;
      this.link?.closed(m.reason);
    }
  }
}
