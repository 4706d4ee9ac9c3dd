/** Delays doubling from `firstMs` up to `maxMs`, for retries that must not hammer the DHT or a peer. */
export class Backoff {
  private next: number;

  constructor(
    readonly firstMs: number,
    readonly maxMs: number,
  ) {
    this.next = firstMs;
  }

  /** The delay to wait now; the next call returns twice as much (up to maxMs). */
  take(): number {
    const d = this.next;
    this.next = Math.min(this.next * 2, this.maxMs);
    return d;
  }

  reset(): void {
    this.next = this.firstMs;
  }
}
