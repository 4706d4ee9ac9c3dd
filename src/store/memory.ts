/**
 * sql.js keeps the database file in a JavaScript typed array that it
 * replaces with a 12.5% larger copy each time the file outgrows it, and an
 * export is one more full-size copy. The replaced arrays are garbage, but V8
 * frees them late: nothing in JS allocates enough to drive its collector, so
 * during a million-entry backfill one or two discarded copies of the whole
 * database could sit beside the live one when a snapshot made its own (peak
 * RSS 420-530 MB at a million entries). Collecting just before and just
 * after an export, and before a database moves to a new buffer, keeps the
 * peak near the database plus one copy. (The store now avoids both copies
 * while the database stays in the buffer it owns: see livefile.ts. These
 * collections remain for the fallback path.)
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

let gc: (() => void) | null | undefined;

export function collectGarbage(): void {
  if (gc === undefined) {
    gc = (globalThis as { gc?: () => void }).gc ?? null;
    if (!gc) {
      try {
        v8.setFlagsFromString('--expose-gc');
        gc = vm.runInNewContext('gc') as () => void;
      } catch {
        gc = null;
      }
    }
  }
  gc?.();
}
