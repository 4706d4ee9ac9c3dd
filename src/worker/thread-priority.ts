/**
 * Lets the engine's thread yield the CPU to the editor's. The engine (sql.js
 * applying a backfill, Hyperswarm) runs in a worker thread of the extension
 * host process; on a busy machine the OS shares the cores between it and the
 * extension host's own thread as equals, and the editor's event loop waits
 * whenever the engine has the core. Sync is background work: this thread
 * asks for a lower priority (nice 10) so the extension host's thread runs
 * first when both are ready, and the engine still gets every idle cycle.
 *
 * Linux only: there a thread is a task with its own id, and setpriority on
 * that id (os.setPriority) changes that thread alone. Elsewhere the call
 * would renice the whole process (the editor's thread with it), so nothing
 * is done.
 */
import { readlinkSync } from 'node:fs';
import * as os from 'node:os';

export const ENGINE_THREAD_NICE = 10;

/** Lowers the calling thread's priority; returns what was done, for the log. */
export function lowerThreadPriority(nice = ENGINE_THREAD_NICE): string {
  if (process.platform !== 'linux') return `thread priority unchanged (${process.platform})`;
  try {
    // "/proc/thread-self" → "<pid>/task/<tid>": the calling thread's own task id.
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return 'thread priority unchanged (no thread id)';
    if (os.getPriority(tid) >= nice) return `thread priority already nice ${os.getPriority(tid)}`;
    os.setPriority(tid, nice);
    return `engine thread at nice ${nice} (the editor's thread goes first)`;
  } catch (e) {
    return `thread priority unchanged (${e instanceof Error ? e.message : String(e)})`;
  }
}
