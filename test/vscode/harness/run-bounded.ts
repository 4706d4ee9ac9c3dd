/**
 * Runs a harness main with cleanups that happen on every way out: normal
 * end, thrown error, Ctrl-C/SIGTERM, or the whole run exceeding its time
 * bound (so a hung workbench never leaves code-server, Chromium or temp
 * folders behind).
 */
type Cleanup = () => unknown;

export interface Bounded {
  /** Registers a cleanup; they run in reverse order of registration. */
  defer(fn: Cleanup): void;
}

export function runBounded(name: string, timeoutMs: number, main: (b: Bounded) => Promise<number>): void {
  const cleanups: Cleanup[] = [];
  let finishing = false;
  const finish = async (code: number): Promise<never> => {
    if (finishing) return new Promise<never>(() => {});
    finishing = true;
    for (const fn of cleanups.reverse()) {
      try {
        await Promise.race([fn(), new Promise((r) => setTimeout(r, 10_000))]);
      } catch (e) {
        console.error(`${name}: cleanup failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    process.exit(code);
  };
  const timer = setTimeout(() => {
    console.error(`${name}: timed out after ${Math.round(timeoutMs / 1000)} s`);
    void finish(1);
  }, timeoutMs);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      console.error(`${name}: ${sig}, cleaning up`);
      void finish(1);
    });
  }
  main({ defer: (fn) => cleanups.push(fn) }).then(
    (code) => (clearTimeout(timer), finish(code)),
    (e) => {
      clearTimeout(timer);
      console.error(`${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return finish(1);
    },
  );
}

/** Seconds from $LEADERLESS_VSCODE_TIMEOUT, else the default. */
export function timeoutFromEnv(defaultSeconds: number): number {
  const s = Number(process.env.LEADERLESS_VSCODE_TIMEOUT);
  return (Number.isFinite(s) && s > 0 ? s : defaultSeconds) * 1000;
}
