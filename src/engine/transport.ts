/**
 * What the sync engine needs from a network, and nothing more: links to
 * partner devices that carry whole frames. Implementations: Hyperswarm
 * (src/net, later) and an in-memory network with fault injection for the
 * simulator (test/sim).
 *
 * Honest about failure: a send can fail, a link can drop at any moment, and
 * frames may arrive late or twice (a reconnect replays what was in flight).
 * Everything above this interface must be idempotent.
 */
import type { Id } from '../core/ids';

export interface Link {
  /** The partner at the other end, as authenticated by the transport. */
  readonly remote: Id;
  /** Open until closed by either side or by a fault. */
  readonly open: boolean;
  /** Over its send-buffer bound: stop sending until 'drain'. */
  readonly congested: boolean;
  /** Queues one frame. False if it was not taken (closed link). Frames are never split or merged. */
  send(frame: Uint8Array): boolean;
  close(reason?: string): void;
  on(event: 'frame', listener: (frame: Uint8Array) => void): void;
  on(event: 'drain', listener: () => void): void;
  on(event: 'close', listener: (reason: string) => void): void;
}

export interface Transport {
  /** The devices to keep links with; links from anyone else are refused. */
  setPartners(devices: readonly Id[]): void;
  /** A new link came up (outgoing or incoming). */
  on(event: 'link', listener: (link: Link) => void): void;
  /** Tear down every link; no more links after this. */
  close(): Promise<void>;
}

/** Time and timers, injectable so simulations run on a virtual clock. */
export interface Scheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** A zero delay runs on the next turn with setImmediate: Node's setTimeout(0) waits at least 1 ms, which live batching paid on every change. */
type RealHandle = NodeJS.Timeout | { immediate: NodeJS.Immediate };

export const realScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout: (fn, ms): RealHandle => {
    if (ms <= 0) {
      const immediate = setImmediate(fn);
      immediate.unref?.();
      return { immediate };
    }
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => {
    const handle = h as RealHandle | null | undefined;
    if (handle && 'immediate' in handle) clearImmediate(handle.immediate);
    else clearTimeout(handle ?? undefined);
  },
};
