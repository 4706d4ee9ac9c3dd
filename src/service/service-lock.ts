/**
 * One engine per data directory: the service holds `<dataDir>/LOCK` (the
 * store's lock file, taken over when its process is gone) for as long as it
 * runs. A second one is refused with the pid that holds it. Each library
 * database keeps its own lock as well.
 */
import { StoreLockedError } from '../store';
import { DirLock } from '../store/lock';
import { ServiceRunningError } from './errors';

export async function lockDataDir(dataDir: string, log: (line: string) => void): Promise<DirLock> {
  try {
    return await DirLock.acquire(dataDir, (e) => log(`took over the data directory's lock (${e.reason})`));
  } catch (e) {
    if (e instanceof StoreLockedError) throw new ServiceRunningError(dataDir, e.pid, e.host);
    throw e;
  }
}
