/**
 * A cluster of engines for simulations: each device has its own durable
 * library in a temp dir, a PeerSync over the shared memory network, and the
 * virtual clock as its wall clock. `settle()` lets every engine finish the
 * work the last events started, so a seeded run replays exactly.
 */
import type { Id } from '../../src/engine/ids';
import { Library } from '../../src/engine/library';
import { PeerSync } from '../../src/engine/sync/peer-sync';
import type { SessionOptions } from '../../src/engine/sync/session';
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
}

export class Cluster {
  readonly clock = new VirtualClock();
  readonly net: MemoryNetwork;
  readonly nodes: Node[] = [];
  readonly rnd: Random;
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

  async add(name: string): Promise<Node> {
    const dataDir = tempDir();
    const library = await Library.create({ dataDir, name: 'sim', libraryId: this.libraryId, secret: this.secret, now: () => this.clock.now(), deviceName: name, newId: this.newId });
    const node: Node = { name, dataDir, library, sync: null as never, errors: [] };
    this.nodes.push(node);
    return node;
  }

  /** Makes every node a partner of every other, then starts syncing. */
  async connectAll(): Promise<void> {
    for (const a of this.nodes) for (const b of this.nodes) if (a !== b) await a.library.addPartner(b.library.deviceId, b.name);
    for (const n of this.nodes) this.startSync(n);
    await this.settle();
  }

  private startSync(n: Node): void {
    n.sync = new PeerSync(n.library, this.net.transport(n.library.deviceId), { scheduler: this.clock, ...this.syncOptions });
    n.sync.on('error', (e) => n.errors.push(e.error));
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

  /** Advances virtual time in steps, settling after each. */
  async run(ms: number, stepMs = 5): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) {
      this.clock.advance(stepMs);
      await this.settle();
    }
  }

  /** Kills a node's process (links cut, library closed as after a crash) and starts it again from disk. */
  async restart(n: Node): Promise<void> {
    await n.sync.stop();
    this.net.crash(n.library.deviceId);
    const id = n.library.id;
    await n.library.store.closeWithoutSnapshot();
    n.library = await Library.open({ dataDir: n.dataDir, libraryId: id, now: () => this.clock.now(), newId: this.newId });
    this.startSync(n);
  }

  digests(): string[] {
    return this.nodes.map((n) => n.library.digest());
  }

  async close(): Promise<void> {
    for (const n of this.nodes) {
      await n.sync?.stop();
      await n.library.close();
    }
  }
}
