/**
 * Lets the engine worker stop without losing or doubling a write: `wrap`
 * counts the control calls running; after `close`, new calls are refused
 * with ServiceClosedError (clients send those again to the next owner)
 * while the running ones finish and are answered.
 */
import { ServiceClosedError } from '../service/errors';
import type { MethodTable } from '../service/method-table';

export class CallGate {
  private running = 0;
  private closed = false;
  private idle: (() => void)[] = [];

  wrap(table: MethodTable): MethodTable {
    const out: Record<string, MethodTable[string]> = {};
    for (const [name, fn] of Object.entries(table)) {
      out[name] = async (params, ctx) => {
        if (this.closed) throw new ServiceClosedError();
        this.running++;
        try {
          return await fn(params, ctx);
        } finally {
          if (--this.running === 0) for (const w of this.idle.splice(0)) w();
        }
      };
    }
    return out;
  }

  /** Refuses new calls; resolves when the running ones finished (and their answers were written), or after `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    if (this.running > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((resolve) => this.idle.push(resolve)), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    }
    // The answers are written after the method returns: one more turn for them to reach the sockets.
    await new Promise((resolve) => setImmediate(resolve));
  }
}
