/**
 * The engine's worker thread: owns the library database so that sql.js work
 * never blocks the extension host. Requests arrive as { id, method, params }
 * and are answered with { id, result } or { id, error }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { idFromString } from '../engine/ids';
import { Library, listLibraries } from '../engine/library';

interface Request {
  id: number;
  method: string;
  params?: Record<string, unknown>;
}

const dataDir = (workerData as { dataDir: string }).dataDir;
let library: Library | null = null;

const methods: Record<string, (p: Record<string, unknown>) => Promise<unknown> | unknown> = {
  libraries: () => listLibraries(dataDir),
  async open(p) {
    await library?.close();
    library = await Library.open({ dataDir, libraryId: idFromString(String(p.libraryId)) });
    return { name: library.name };
  },
  status() {
    if (!library) return { open: false };
    return { open: true, name: library.name, counts: library.counts(), logSize: library.read((r) => library!.log.size(r)), digest: library.digest() };
  },
  async close() {
    await library?.close();
    library = null;
  },
};

parentPort?.on('message', async (req: Request) => {
  try {
    const fn = methods[req.method];
    if (!fn) throw new Error(`Unknown method ${req.method}`);
    parentPort!.postMessage({ id: req.id, result: await fn(req.params ?? {}) });
  } catch (e) {
    parentPort!.postMessage({ id: req.id, error: { name: (e as Error).name, message: (e as Error).message } });
  }
});
