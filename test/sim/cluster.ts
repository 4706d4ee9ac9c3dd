/**
 * A cluster of engines for simulations: each device has its own durable
 * library in a temp dir, a PeerSync over the shared memory network, and the
 * virtual clock as its wall clock. `settle()` lets every engine finish the
 * work the last events started, so a seeded run replays exactly.
 */
import { rmSync } from 'node:fs';
import { idKey, type Id } from '../../src/core/ids';
import { Library } from '../../src/engine/library';
import { digestModel } from '../../src/models/model';
import { PeerSync } from '../../src/sync/peer-sync';
import type { SessionOptions } from '../../src/sync/session';
import { Random } from '../support/random';
import { tempDir } from '../support/tmp';
import { MemoryNetwork } from './memory-network';
import { VirtualClock } from './virtual-clock';

export interface Node {
  name: string;
  dataDir: string;
  library: Library;
  sync: PeerSync;
  errors: Error[];
  /** This device's wall clock. */
  now: () => number;
}

export class Cluster {
  readonly clock = new VirtualClock();
  readonly net: MemoryNetwork;
  readonly nodes: Node[] = [];
  readonly rnd: Random;
  /** Snapshots merged, log entries pruned and stamps refused for clock drift, over all nodes (restarts included). */
  readonly stats = { snapshots: 0, pruned: 0, refused: 0 };
  private readonly ids: Random;
  private readonly libraryId: Id;
  private readonly secret = new Uint8Array(32);

  constructor(
    readonly seed: number,
    private readonly syncOptions: Partial<SessionOptions> = {},
  ) {
    this.rnd = new Random(seed);
    this.net = new MemoryNetwork(this.clock, new Random(seed ^ 0x9e3779b9));
    this.ids = new Random(seed ^ 0x85ebca6b);
    this.libraryId = this.newId();
  }

  /** Record ids from the seed, so a run replays exactly. */
  readonly newId = (): Id => {
    const b = this.ids.bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    return b;
  };

  /** A new device; `skewMs`: how far its wall clock is off. */
  async add(name: string, skewMs = 0): Promise<Node> {
    const dataDir = tempDir();
    const now = () => this.clock.now() + skewMs;
    const library = await Library.create({ dataDir, name: 'sim', libraryId: this.libraryId, secret: this.secret, now, deviceName: name, newId: this.newId });
    await library.ready();
    const node: Node = { name, dataDir, library, sync: null as never, errors: [], now };
    this.nodes.push(node);
    return node;
  }

  /** Makes every node (but those in `later`) a partner of every other, then starts syncing. */
  async connectAll(later: readonly Node[] = []): Promise<void> {
    const now = this.nodes.filter((n) => !later.includes(n));
    for (const a of now) for (const b of now) if (a !== b) await a.library.addPartner(b.library.deviceId, b.name);
    for (const n of now) this.startSync(n);
    await this.settle();
  }

  /** A device that joins later: paired with every node (both ways), then syncing (`onStart`: right after its sync is made). */
  async join(n: Node, onStart?: (n: Node) => void): Promise<void> {
    for (const other of this.nodes) {
      if (other === n) continue;
      await other.library.addPartner(n.library.deviceId, n.name);
      await n.library.addPartner(other.library.deviceId, other.name);
      other.sync?.partnersChanged();
    }
    this.startSync(n);
    onStart?.(n);
    await this.settle();
  }

  private startSync(n: Node): void {
    n.sync = new PeerSync(n.library, this.net.transport(n.library.deviceId), { scheduler: this.clock, ...this.syncOptions });
    n.sync.on('error', (e) => n.errors.push(e.error));
    n.sync.on('snapshot', () => this.stats.snapshots++);
    n.sync.on('pruned', (e) => (this.stats.pruned += e.entries));
    n.library.on('clockDrift', () => this.stats.refused++);
    n.sync.start();
  }

  /** Lets every engine finish what the last events started. */
  async settle(): Promise<void> {
    for (let quiet = 0; quiet < 2; ) {
      await Promise.all(this.nodes.map((n) => n.sync?.idle()));
      await new Promise((r) => setImmediate(r));
      quiet = this.nodes.some((n) => n.sync?.working) ? 0 : quiet + 1;
    }
  }

  /**
   * Advances virtual time by `ms`, one timer at a time, letting every engine
   * finish what each timer started before the next fires: work never runs on
   * two engines at once, so real I/O timing cannot reorder events and a seed
   * replays exactly.
   */
  async run(ms: number): Promise<void> {
    const until = this.clock.now() + ms;
    while (this.clock.nextAt() <= until) {
      this.clock.step();
      await this.settle();
    }
    this.clock.moveTo(until);
  }

  /** Kills a node's process (links cut, library closed as after a crash) and starts it again from disk. */
  async restart(n: Node): Promise<void> {
    if (!n.sync) return; // has not joined yet
    await n.sync.stop();
    this.net.crash(n.library.deviceId);
    const id = n.library.id;
    await n.library.store.closeWithoutSnapshot();
    n.library = await Library.open({ dataDir: n.dataDir, libraryId: id, now: n.now, newId: this.newId });
    this.startSync(n);
    await n.library.ready(); // its own record, re-announced on open, goes out at a deterministic moment
  }

  /**
   * Stops a node cleanly (everything acknowledged is on disk), runs `swap`
   * on its closed data directory (e.g. to put back an older copy of it, as
   * a user restoring a backup would), then opens it from disk and starts
   * it again.
   */
  async reopen(n: Node, swap: (dataDir: string) => void = () => undefined): Promise<void> {
    await n.sync.stop();
    this.net.crash(n.library.deviceId);
    const id = n.library.id;
    await n.library.close();
    swap(n.dataDir);
    n.library = await Library.open({ dataDir: n.dataDir, libraryId: id, now: n.now, newId: this.newId });
    this.startSync(n);
    await n.library.ready();
  }

  /** Each node's sync state, links, contents and errors (for failure reports). */
  describe(): string {
    return this.nodes
      .map((n) => {
        const vector = [...n.library.vector().values()].map((v) => `${idKey(v.origin).slice(0, 6)}:${v.seq}`).join(' ');
        const stamps = n.library.newestStamps().map((w) => `${idKey(w.owner).slice(0, 6)}/${w.model}:${Buffer.from(w.hlc).toString('hex').slice(6)}`).join(' ');
        return `  ${n.name} ${idKey(n.library.deviceId).slice(0, 6)} ${n.sync?.state} ready=${n.sync?.readyPeers().length} ${JSON.stringify(n.library.counts())} parked=${n.library.parkedCount()}\n    vector ${vector}\n    stamps ${stamps}\n    errors ${n.errors.slice(-3).map((e) => e.message).join(' | ')}`;
      })
      .join('\n');
  }

  /** Rows (canonical digest lines) that differ between the first node and the others. */
  differences(): string {
    const lines = (n: Node) => {
      const out: string[] = [];
      n.library.read((r) => {
        for (const m of n.library.registry.all) digestModel(m, r, (chunk) => out.push(`${m.name} ${chunk}`.trim()));
      });
      return new Set(out);
    };
    const first = lines(this.nodes[0]);
    return this.nodes
      .slice(1)
      .map((n) => {
        const other = lines(n);
        const only0 = [...first].filter((l) => !other.has(l)).map((l) => `  ${this.nodes[0].name} only: ${l.slice(0, 300)}`);
        const onlyN = [...other].filter((l) => !first.has(l)).map((l) => `  ${n.name} only: ${l.slice(0, 300)}`);
        return [...only0, ...onlyN].join('\n');
      })
      .filter(Boolean)
      .join('\n');
  }

  digests(): string[] {
    return this.nodes.map((n) => n.library.digest());
  }

  /** Stops every node and removes its data directory. */
  async close(): Promise<void> {
    for (const n of this.nodes) {
      await n.sync?.stop();
      await n.library.close();
      rmSync(n.dataDir, { recursive: true, force: true });
    }
  }
}
