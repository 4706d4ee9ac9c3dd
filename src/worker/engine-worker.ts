/**
 * The engine's worker thread: runs the EngineService of one data directory
 * and serves it on the directory's control endpoint, so that sql.js and
 * Hyperswarm work never blocks the extension host. It answers its parent
 * once (ready, busy or failed; see worker-protocol.ts), forwards the
 * service's log lines, and on 'stop' closes the control channel first (so
 * other windows start taking over at once), then the service (which
 * releases the data directory's lock).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EngineService } from '../service/engine-service';
import { errorCode, errorMessage, ServiceRunningError } from '../service/errors';
import { serviceMethods } from '../service/methods';
import { serveControl, type ServiceControl } from '../service/serve-control';
import { CallGate } from './call-gate';
import { lowerThreadPriority } from './thread-priority';
import type { EngineWorkerData, HostToWorker, WorkerToHost } from './worker-protocol';

const data = workerData as EngineWorkerData;
const post = (m: WorkerToHost): void => parentPort!.postMessage(m);
const log = (line: string): void => post({ type: 'log', line });

let service: EngineService | null = null;
let control: ServiceControl | null = null;
let stopping: Promise<void> | null = null;
const gate = new CallGate();
/** How long a stop waits for running calls (an add-location may take longer: it is stopped between batches and resumes incrementally). */
const DRAIN_TIMEOUT_MS = 3000;

async function start(): Promise<void> {
  log(lowerThreadPriority());
  let s: EngineService;
  try {
    s = await EngineService.start({
      dataDir: data.dataDir,
      keyPair: data.keyPair ? { publicKey: Buffer.from(data.keyPair.publicKey, 'hex'), secretKey: Buffer.from(data.keyPair.secretKey, 'hex') } : undefined,
      network: data.network,
      bootstrap: data.bootstrap,
      library: { deviceName: data.deviceName, maxClockDriftMs: data.maxClockDriftMs },
      pruneAbsentAfterMs: data.pruneAbsentAfterMs,
      log,
    });
  } catch (e) {
    if (e instanceof ServiceRunningError) post({ type: 'busy', pid: e.pid, message: e.message });
    else post({ type: 'failed', code: errorCode(e), message: errorMessage(e) });
    return;
  }
  service = s;
  if (stopping) return; // stopped while starting: stop() closes it
  try {
    control = await serveControl(s, { log, methods: gate.wrap(serviceMethods(s)) });
  } catch (e) {
    await s.close().catch(() => undefined);
    service = null;
    post({ type: 'failed', code: errorCode(e), message: `Could not serve the control socket: ${errorMessage(e)}` });
    return;
  }
  post({ type: 'ready', endpoint: control.endpoint, publicKey: s.publicKey });
}

const started = start().catch((e: unknown) => post({ type: 'failed', code: errorCode(e), message: errorMessage(e) }));

function stop(): Promise<void> {
  stopping ??= (async () => {
    await started;
    // Calls already running finish and are answered; new ones are refused as retriable, so none is lost or run twice.
    await gate.close(DRAIN_TIMEOUT_MS);
    await control?.close().catch((e: unknown) => log(`closing the control socket failed: ${errorMessage(e)}`));
    // The next owner is waiting for the lock: no final snapshot (the journal holds every acknowledged write; opening replays it).
    for (const lib of service?.libraries() ?? []) lib.snapshotOnClose = false;
    await service?.close().catch((e: unknown) => log(`closing the engine failed: ${errorMessage(e)}`));
    post({ type: 'stopped' });
    parentPort!.close();
  })();
  return stopping;
}

parentPort!.on('message', (m: HostToWorker) => {
  if (m?.type === 'stop') void stop();
});
