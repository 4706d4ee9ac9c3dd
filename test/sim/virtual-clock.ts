/**
 * A virtual clock and timer queue: simulated time advances only when the
 * simulation says so, so a seeded run is exactly reproducible.
 */
import type { Scheduler } from '../../src/engine/transport';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class VirtualClock implements Scheduler {
  private time: number;
  private seq = 0;
  private queue: Timer[] = [];

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const t: Timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    // keep the queue sorted by (at, seq): insertion by binary search
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const q = this.queue[mid];
      if (q.at < t.at || (q.at === t.at && q.seq < t.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, t);
    return t;
  }

  clearTimeout(handle: unknown): void {
    if (handle) (handle as Timer).cancelled = true;
  }

  /** Timers still to fire. */
  get pending(): number {
    return this.queue.filter((t) => !t.cancelled).length;
  }

  /** When the next timer is due (Infinity if none). */
  nextAt(): number {
    while (this.queue.length && this.queue[0].cancelled) this.queue.shift();
    return this.queue.length ? this.queue[0].at : Infinity;
  }

  /** Moves time forward without running anything (callers run due timers first). */
  moveTo(time: number): void {
    this.time = Math.max(this.time, time);
  }

  /** Runs the next timer (advancing time to it). False if there is none. */
  step(): boolean {
    for (;;) {
      const t = this.queue.shift();
      if (!t) return false;
      if (t.cancelled) continue;
      this.time = Math.max(this.time, t.at);
      t.fn();
      return true;
    }
  }

  /** Runs every timer due within `ms` from now, then sets the time to now + ms. */
  advance(ms: number): void {
    const until = this.time + ms;
    while (this.queue.length && this.queue[0].at <= until) this.step();
    this.time = until;
  }
}
