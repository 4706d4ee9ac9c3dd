/**
 * Retry delays that double from `firstMs` up to `maxMs`, each times a random
 * 0.5–1.5 (jitter, so peers that failed together do not retry together).
 * Used for redialling links and refreshing discovery.
 */
export class Backoff {
  private next: number;

  constructor(
    readonly firstMs: number,
    readonly maxMs: number,
    /** [0, 1); injectable for tests. */
    private readonly random: () => number = Math.random,
  ) {
    this.next = firstMs;
  }

  /** The delay to wait now; the next call's is twice as long (up to maxMs). */
  take(): number {
    const d = this.next;
    this.next = Math.min(this.next * 2, this.maxMs);
    return d * (0.5 + this.random());
  }

  /** Back to `firstMs` (the last attempt succeeded for long enough). */
  reset(): void {
    this.next = this.firstMs;
  }
}
