/**
 * One open library inside the engine service: the library, its PeerSync
 * while the network runs (connect / disconnect follow the service's swarm),
 * the wiring between them (partner changes reach sync at once), what it
 * tells the service (events and log lines), and its status.
 */
import { idEquals, idToString, toHex, type Id } from '../engine/ids';
import type { Library } from '../engine/library';
import type { BackfillProgress } from '../engine/sync/backfill';
import { PeerSync } from '../engine/sync/peer-sync';
import type { SessionOptions } from '../engine/sync/session';
import type { Transport } from '../engine/transport';
import type { EngineServiceEvents } from './service-events';
import { backfillStatus, type LibraryStatus, type LibrarySyncState, type PartnerStatus } from './status';

/** What a runner needs from the service. */
export interface RunnerHost {
  emit<K extends keyof EngineServiceEvents>(event: K, ...args: Parameters<EngineServiceEvents[K]>): void;
  log(line: string): void;
  readonly syncOptions: Partial<SessionOptions>;
}

export class LibraryRunner {
  private current: PeerSync | null = null;
  private readonly offs: (() => void)[] = [];
  /** Backfill progress logged up to this tenth of the total. */
  private loggedTenth = -1;
  private changedSoon = false;
  readonly key: string;

  constructor(
    readonly library: Library,
    private readonly host: RunnerHost,
  ) {
    this.key = idToString(library.id);
    const changed = () => this.changed();
    this.offs.push(
      library.on('partners', () => this.current?.partnersChanged()),
      library.on('committed', changed),
      library.on('applied', changed),
      library.on('clockDrift', (e) => this.log(`refused a change stamped too far ahead of this device's clock: ${e.message}`)),
      library.on('rejected', (r) => this.log(`rejected ${r.length} invalid record(s) from a partner: ${r[0]?.error.message ?? ''}`)),
    );
  }

  get sync(): PeerSync | null {
    return this.current;
  }

  /** Starts syncing over `transport` (the service's swarm). */
  connect(transport: Transport): void {
    if (this.current) throw new Error(`library ${this.key} is already syncing`);
    const sync = new PeerSync(this.library, transport, this.host.syncOptions);
    const mine = () => this.current === sync;
    sync.on('state', (state) => {
      if (!mine()) return;
      this.log(`sync ${state}`);
      this.host.emit('state', { library: this.key, state });
    });
    sync.on('progress', (p) => mine() && this.progress(p));
    sync.on('peer', ({ peer, up }) => {
      if (!mine()) return;
      const name = this.partnerName(peer);
      this.log(`partner ${name ?? idToString(peer)} ${up ? 'online' : 'offline'}`);
      this.host.emit('peer', { library: this.key, device: idToString(peer), name, up });
    });
    sync.on('error', ({ peer, error }) => mine() && this.log(`sync error with ${idToString(peer)}: ${error.message}`));
    sync.on('snapshot', ({ peer, rows }) => mine() && this.log(`merged a snapshot of ${rows} shared row(s) from ${idToString(peer)}`));
    this.current = sync;
    sync.start();
  }

  /** Stops syncing (links closed, nothing more sent); `idle` is the state reported meanwhile. */
  async disconnect(idle: LibrarySyncState): Promise<void> {
    const sync = this.current;
    this.current = null;
    if (!sync) return;
    sync.pause();
    await sync.stop();
    this.host.emit('state', { library: this.key, state: idle });
  }

  /** Stops syncing and closes the library. */
  async close(): Promise<void> {
    await this.disconnect('stopped');
    for (const off of this.offs.splice(0)) off();
    await this.library.close();
  }

  status(opts: { digest: boolean; idle: LibrarySyncState }): LibraryStatus {
    const lib = this.library;
    const sync = this.current;
    const sessions = sync ? [...sync.liveSessions()] : [];
    const ready = sync ? sync.readyPeers() : [];
    const partners: PartnerStatus[] = lib.partners().map((p) => ({
      device: idToString(p.device),
      name: p.name,
      publicKey: p.publicKey ? toHex(p.publicKey) : null,
      online: sessions.some((s) => idEquals(s.remote, p.device)),
      ready: ready.some((d) => idEquals(d, p.device)),
      lastSeen: p.lastSeen,
      addedAt: p.addedAt,
    }));
    return {
      library: this.key,
      name: lib.name,
      device: idToString(lib.deviceId),
      state: sync ? sync.state : opts.idle,
      backfilled: lib.backfilled,
      backfill: sync?.progress ? backfillStatus(sync.progress) : null,
      partners,
      logSize: lib.read((r) => lib.log.size(r)),
      parked: lib.parkedCount(),
      counts: lib.counts(),
      digest: opts.digest ? lib.digest() : null,
    };
  }

  private progress(p: BackfillProgress): void {
    this.host.emit('progress', { library: this.key, progress: backfillStatus(p) });
    if (p.announced === 0) return;
    const tenth = p.done ? 10 : Math.floor((p.received / p.announced) * 10);
    if (tenth > this.loggedTenth) {
      this.loggedTenth = tenth;
      this.log(`backfill: ${p.received} of ${p.announced} rows${p.done ? ' (done)' : ''}`);
    }
    if (p.done) this.loggedTenth = -1;
  }

  private changed(): void {
    if (this.changedSoon) return;
    this.changedSoon = true;
    setImmediate(() => {
      this.changedSoon = false;
      this.host.emit('changed', { library: this.key });
    });
  }

  private partnerName(device: Id): string | null {
    return this.library.partners().find((p) => idEquals(p.device, device))?.name ?? null;
  }

  private log(line: string): void {
    this.host.log(`[${this.library.name} ${this.key.slice(0, 8)}] ${line}`);
  }
}
