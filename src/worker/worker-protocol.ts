/**
 * What the extension host and the engine worker thread say to each other.
 * The worker only starts or refuses to start; every control call and event
 * then goes over the data directory's control socket (the same path for the
 * owner window and for the others).
 *
 * workerData: EngineWorkerData. Parent → worker: {type: 'stop'}.
 * Worker → parent, once: 'ready' (the service runs and serves its control
 * endpoint), 'busy' (another process holds the data directory: be a client)
 * or 'failed'; then any number of 'log' lines, and 'stopped' after a stop.
 */

export interface EngineWorkerData {
  dataDir: string;
  /** This device's key pair (hex: 32-byte public key, 64-byte secret key); absent: the data directory's device.key file. */
  keyPair?: { publicKey: string; secretKey: string };
  /** false: no networking (tests of the host). Default true. */
  network?: boolean;
  /** DHT bootstrap nodes; absent: Hyperswarm's public ones. */
  bootstrap?: { host: string; port: number }[];
  deviceName?: string;
  maxClockDriftMs?: number;
  /** How long a partner may go unheard before it stops holding the peer log back (ms); absent: the engine's default. */
  pruneAbsentAfterMs?: number;
}

export type WorkerToHost =
  | { type: 'ready'; endpoint: string; publicKey: string }
  | { type: 'busy'; pid: number; message: string }
  | { type: 'failed'; code: string; message: string }
  | { type: 'log'; line: string }
  | { type: 'stopped' };

export type HostToWorker = { type: 'stop' };
