/**
 * Who is writing a folder of this device right now. An index scan and a
 * path update (file-watcher batch) each claim the folder first, so two
 * never interleave on one folder. Removing the folder's location takes it
 * over: the scan or update that holds it is stopped through its claim's
 * signal and waited for, new claims are refused while the removal runs,
 * and only then is the location deleted. So nothing that was under way
 * writes the location, or entries into it, after its deletion (issue 11,
 * defect 4); the library refuses such writes too (LocalTx.put).
 *
 * Per library and in memory: these are the jobs of this process, which is
 * the only writer of the library.
 */
import type { Library } from './library';

/** The folder is being written or removed by another job. */
export class FolderBusyError extends Error {
  readonly code = 'ERR_FOLDER_BUSY';
  constructor(message: string) {
    super(message);
    this.name = 'FolderBusyError';
  }
}

export interface FolderClaim {
  /** Aborted (with a string reason) when the folder's location is being removed: stop before the next write. */
  readonly signal: AbortSignal;
  /** Lets go of the folder (idempotent). */
  release(): void;
}

interface Holder {
  readonly controller: AbortController;
  readonly released: Promise<void>;
}

interface Folders {
  /** Folder (resolved path) → the job writing it. */
  readonly busy: Map<string, Holder>;
  /** Folder → removals of its location under way. */
  readonly removing: Map<string, number>;
}

const byLibrary = new WeakMap<Library, Folders>();

function foldersOf(lib: Library): Folders {
  let f = byLibrary.get(lib);
  if (!f) byLibrary.set(lib, (f = { busy: new Map(), removing: new Map() }));
  return f;
}

/** Throws a FolderBusyError if the location at `root` is being removed (check before starting work on it). */
export function refuseIfRemoving(lib: Library, root: string): void {
  if (foldersOf(lib).removing.has(root)) throw new FolderBusyError(`${root} is being removed from the library`);
}

/**
 * Claims the folder at `root` (a resolved path) for a scan or an update.
 * Throws a FolderBusyError if another job holds it or its location is
 * being removed.
 */
export function claimFolder(lib: Library, root: string): FolderClaim {
  const f = foldersOf(lib);
  refuseIfRemoving(lib, root);
  if (f.busy.has(root)) throw new FolderBusyError(`${root} is already being indexed`);
  const controller = new AbortController();
  let done!: () => void;
  const holder: Holder = { controller, released: new Promise<void>((r) => (done = r)) };
  f.busy.set(root, holder);
  return {
    signal: controller.signal,
    release() {
      if (f.busy.get(root) === holder) f.busy.delete(root);
      done();
    },
  };
}

/**
 * Runs `remove` (the deletion of the location at `root`) with the folder to
 * itself: from this call on (synchronously) new claims are refused, the job
 * holding the folder is told to stop (`reason`) and waited for, then
 * `remove` runs.
 */
export async function whileRemoving<T>(lib: Library, root: string, reason: string, remove: () => Promise<T>): Promise<T> {
  const f = foldersOf(lib);
  f.removing.set(root, (f.removing.get(root) ?? 0) + 1);
  try {
    const holder = f.busy.get(root);
    if (holder) {
      holder.controller.abort(reason);
      await holder.released;
    }
    return await remove();
  } finally {
    const n = (f.removing.get(root) ?? 1) - 1;
    if (n > 0) f.removing.set(root, n);
    else f.removing.delete(root);
  }
}
