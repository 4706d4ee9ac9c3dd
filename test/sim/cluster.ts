/**
 * A cluster of engines for simulations: each device has its own durable
 * library in a temp dir on a simulated disk (sim-disk.ts: fsyncs complete on
 * the virtual clock, a power loss undoes what they had not made durable), a
 * PeerSync over the shared memory network, and the virtual clock as its wall
 * clock. Devices can be restarted gracefully, lose power at any moment,
 * be restored from a backup of their data directory, or have it deleted and
 * join again; every local write goes into the ledger (ledger.ts) the
 * invariants are checked against.
 *
 * Determinism: no real asynchronous I/O happens while devices run (journal
 * writes are synchronous, fsyncs are virtual timers). `settle()` lets every
 * engine run until each is idle or waits only for virtual time (a timer, an
 * fsync); `run()` then fires one timer at a time. Opening a library does
 * real I/O, but only while every other engine is settled. So a seed
 * replays exactly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { idKey, type Id } from '../../src/core/ids';
import { Library, libraryDir } from '../../src/engine/library';
import { digestModel } from '../../src/models/model';
import { StoreClosedError, type StoreEvent } from '../../src/store';
import { roomLimits } from '../../src/store/livefile';
import { PeerSync } from '../../src/sync/peer-sync';
import type { SessionOptions } from '../../src/sync/session';
import { Random } from '../support/random';
import { deviceKeyPair, type DeviceKeyPair } from '../../src/core/signing';
import { tempDir } from '../support/tmp';
import { Ledger } from './ledger';
import { MemoryNetwork } from './memory-network';
import { SimDisk, type PowerLoss } from './sim-disk';
import { VirtualClock } from './virtual-clock';

export interface Node {
  name: string;
  dataDir: string;
  disk: SimDisk;
  library: Library;
  /** Not syncing (not joined yet, or down): unset (hence `n.sync?.`). */
  sync: PeerSync;
  errors: Error[];
  /** Errors this device reported against each partner (idKey → count): a partner it caught sending what it refused. */
  blamed: Map<string, number>;
  /** This device's wall clock. */
  now: () => number;
  /** Paired and syncing (the late device: once it joined). */
  joined: boolean;
  /** Lost power; opened again from its disk when its downtime ends. */
  down: boolean;
  /** Opens since it was created (its library object changes with each). */
  incarnation: number;
  /** The latest backup of its data directory (a durable image) and when it was taken. */
  backup: { dir: string; at: number } | null;
  /** Its device key (from the seed): its id is derived from it, and it signs its changes. */
  keyPair: DeviceKeyPair;
}

/**
 * While clusters exist, each database gets 1 MiB of room to grow in place
 * instead of 64 MiB (src/store/livefile.ts): the simulator opens thousands
 * of small libraries, and reserving (and collecting) 64 MiB buffers for
 * each was a quarter of its time. Only where the file lives in memory
 * changes, not what is durable.
 */
const SIM_ROOM = { minSlack: 1 << 20, growMargin: 256 << 10 };
let savedRoom: typeof roomLimits | null = null;
let liveClusters = 0;

/**
 * A crashed device's process is simulated in this one: its engine is
 * abandoned, not killed, so callbacks it had already queued still run, and
 * those that touch its store fail on it (closed) — sometimes where nothing
 * catches them. A dead process runs nothing: while clusters exist, such
 * rejections are counted and dropped; any other unhandled rejection is
 * thrown again as an uncaught exception (a real bug).
 */
const abandoned = { clusters: 0, errors: 0 };
const onUnhandled = (reason: unknown): void => {
  if (reason instanceof StoreClosedError) {
    abandoned.errors++;
    return;
  }
  setImmediate(() => {
    throw reason;
  });
};

/** Lets queued callbacks and I/O run once. */
const turn = () => new Promise<void>((r) => setImmediate(r));

/** Settle gives up (the engine seems stuck) after this many turns without quiet. */
const MAX_SETTLE_TURNS = 20_000;

export class Cluster {
  readonly clock = new VirtualClock();
  readonly net: MemoryNetwork;
  readonly nodes: Node[] = [];
  readonly rnd: Random;
  readonly ledger = new Ledger();
  /** Snapshots merged, log entries pruned, stamps refused for clock drift, torn journal tails recovered: over all nodes and incarnations. */
  readonly stats = { snapshots: 0, pruned: 0, refused: 0, tornTails: 0 };
  /** What happened, in order (hashed into a schedule's trace). */
  readonly trace: string[] = [];
  private readonly ids: Random;
  private readonly diskRnd: Random;
  private readonly keys: Random;
  readonly libraryId: Id;
  private readonly secret = new Uint8Array(32);
  private closed = false;
  /** Nodes whose downtime ended: settle() opens them again. */
  private readonly reopening: Node[] = [];

  /**
   * `fsyncDelayMs`: the most virtual time an fsync takes (each is seeded
   * between 0 and this); 0 (default): fsyncs complete at once, so awaiting a
   * local write needs no virtual time (scenario tests do). Schedules pass a
   * delay, so that commits are pending when a crash lands, and await
   * engine operations with drive().
   */
  constructor(
    readonly seed: number,
    private readonly syncOptions: Partial<SessionOptions> = {},
    private readonly fsyncDelayMs = 0,
    /** Passed to every device's library (e.g. a small per-partner share of parked records, for a liar to exceed). */
    private readonly libraryOptions: { maxParkedPerPartner?: number } = {},
  ) {
    this.rnd = new Random(seed);
    this.net = new MemoryNetwork(this.clock, new Random(seed ^ 0x9e3779b9));
    this.ids = new Random(seed ^ 0x85ebca6b);
    this.diskRnd = new Random(seed ^ 0x27d4eb2f);
    this.keys = new Random(seed ^ 0x165667b1);
    this.libraryId = this.newId();
    if (abandoned.clusters++ === 0) process.on('unhandledRejection', onUnhandled);
    if (liveClusters++ === 0) {
      savedRoom = { ...roomLimits };
      Object.assign(roomLimits, SIM_ROOM);
    }
  }

  /** Record ids from the seed, so a run replays exactly. */
  readonly newId = (): Id => {
    const b = this.ids.bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    return b;
  };

  note(line: string): void {
    this.trace.push(`${this.clock.now()} ${line}`);
  }

  private libDir(n: Node): string {
    return libraryDir(n.dataDir, this.libraryId);
  }

  private onStoreEvent = (e: StoreEvent) => {
    if (e.type === 'torn-tail') this.stats.tornTails++;
  };

  /** A new device; `skewMs`: how far its wall clock is off. */
  async add(name: string, skewMs = 0): Promise<Node> {
    const dataDir = tempDir();
    const now = () => this.clock.now() + skewMs;
    const disk = new SimDisk(this.clock, this.diskRnd, this.fsyncDelayMs);
    const keyPair = deviceKeyPair(this.keys.bytes(32));
    const node: Node = { name, dataDir, disk, library: null as never, sync: null as never, errors: [], blamed: new Map(), now, joined: false, down: false, incarnation: 0, backup: null, keyPair };
    await this.create(node);
    this.nodes.push(node);
    return node;
  }

  /** Creates the node's library (new, or joining again with the same ids), with fsyncs completing at once. */
  private async create(n: Node, deviceId?: Id): Promise<void> {
    const instant = n.disk.instant;
    n.disk.instant = true;
    try {
      n.library = await Library.create({
        dataDir: n.dataDir,
        name: 'sim',
        libraryId: this.libraryId,
        secret: this.secret,
        deviceId,
        keyPair: n.keyPair,
        now: n.now,
        deviceName: n.name,
        newId: this.newId,
        journalIo: n.disk,
        onStoreEvent: this.onStoreEvent,
        ...this.libraryOptions,
      });
      await n.library.ready();
    } finally {
      n.disk.instant = instant;
    }
    n.incarnation++;
    this.watch(n);
    // Its own record, acknowledged before anyone could listen.
    const own = n.library.read((r) => n.library.registry.deviceOwnedModel('device').get(r, n.library.deviceId))!;
    this.ledger.ack(n.name, { kind: 'state', model: 'device', record: own }, this.clock.now());
  }

  /** Feeds the library's acknowledged writes to the ledger. */
  private watch(n: Node): void {
    const lib = n.library;
    lib.on('committed', (c) => this.ledger.committed(n.name, c, this.clock.now()));
    lib.on('clockDrift', () => this.stats.refused++);
  }

  /** Makes every node (but those in `later`) a partner of every other, then starts syncing. */
  async connectAll(later: readonly Node[] = []): Promise<void> {
    const now = this.nodes.filter((n) => !later.includes(n));
    for (const a of now) for (const b of now) if (a !== b) await this.drive(a.library.addPartner(b.library.deviceId, b.name));
    for (const n of now) {
      n.joined = true;
      this.startSync(n);
    }
    await this.settle();
  }

  /** A device that joins later: paired with every node (both ways), then syncing (`onStart`: right after its sync is made). */
  async join(n: Node, onStart?: (n: Node) => void): Promise<void> {
    await this.pair(n);
    n.joined = true;
    this.startSync(n);
    onStart?.(n);
    await this.settle();
  }

  /** Partner rows both ways between `n` and every other node, as pairing writes them. */
  private async pair(n: Node): Promise<void> {
    for (const other of this.nodes) {
      if (other === n) continue;
      await this.drive(other.library.addPartner(n.library.deviceId, n.name));
      await this.drive(n.library.addPartner(other.library.deviceId, other.name));
      other.sync?.partnersChanged();
    }
  }

  private startSync(n: Node): void {
    const sync = new PeerSync(n.library, this.net.transport(n.library.deviceId), { scheduler: this.clock, ...this.syncOptions });
    n.sync = sync;
    sync.on('error', (e) => {
      if (n.sync !== sync) return; // not what an abandoned engine still reports
      n.errors.push(e.error);
      const k = idKey(e.peer);
      n.blamed.set(k, (n.blamed.get(k) ?? 0) + 1);
    });
    sync.on('snapshot', () => this.stats.snapshots++);
    sync.on('pruned', (e) => (this.stats.pruned += e.entries));
    sync.start();
  }

  /**
   * Lets every engine finish what the last events started: returns once
   * each is idle or waits only for virtual time (an fsync in flight on its
   * disk, a timer). Nodes whose downtime ended are opened again here.
   */
  async settle(): Promise<void> {
    for (let turns = 0; ; turns++) {
      // Two turns: a chain of callbacks started before the first has ended by the second
      // (a chain of microtasks never outlasts a turn; the engines use no other real waits).
      await turn();
      await turn();
      if (this.reopening.length) {
        for (const n of this.reopening.splice(0)) await this.reopen(n);
        continue;
      }
      if (!this.nodes.some((n) => n.sync?.working && !n.disk.syncing)) return;
      if (turns > MAX_SETTLE_TURNS) {
        const busy = this.nodes.filter((n) => n.sync?.working && !n.disk.syncing).map((n) => n.name);
        throw new Error(`settle: ${busy.join(', ')} still busy after ${MAX_SETTLE_TURNS} turns, waiting for neither the disk nor a timer`);
      }
      await Promise.race([Promise.all(this.nodes.map((n) => n.sync?.idle())), turn()]);
    }
  }

  /**
   * Advances virtual time by `ms`, one timer at a time, letting every engine
   * finish what each timer started before the next fires: work never runs on
   * two engines at once, so real I/O timing cannot reorder events and a seed
   * replays exactly. Returns with every node up.
   */
  async run(ms: number): Promise<void> {
    const until = this.clock.now() + ms;
    while (this.clock.nextAt() <= until) {
      this.clock.step();
      await this.settle();
    }
    this.clock.moveTo(until);
    await this.upAll();
  }

  /** Runs timers until no node is down. */
  private async upAll(): Promise<void> {
    while (this.nodes.some((n) => n.down)) {
      if (!this.clock.step()) throw new Error('a node is down and no timer is left to bring it up');
      await this.settle();
    }
  }

  /**
   * Waits for an engine operation started from the simulation's own flow
   * (pairing, a graceful stop), running virtual time as it needs (an fsync
   * completes on the virtual clock): the world goes on meanwhile.
   */
  async drive<T>(p: Promise<T>): Promise<T> {
    let done = false;
    p.then(
      () => (done = true),
      () => (done = true),
    );
    await this.settle();
    while (!done) {
      if (!this.clock.step()) throw new Error(`drive: the operation waits, and no timer is left to run (${this.nodes.map((n) => `${n.name} working=${n.sync?.working} syncing=${n.disk.syncing}`).join(', ')})`);
      await this.settle();
    }
    await this.upAll();
    return p;
  }

  /** Stops a node's process gracefully (sync stops, the journal drains) and starts it again from disk. */
  async restart(n: Node): Promise<void> {
    if (!n.sync) return; // has not joined yet
    await this.drive(n.sync.stop());
    n.sync = null as never;
    this.net.crash(n.library.deviceId);
    // Everything written is durable once the journal drained; then the process ends (no snapshot,
    // and no asynchronous close: real I/O must not race the virtual clock).
    await this.drive(n.library.store.journalForTesting.drain());
    n.library.store.crashForTesting();
    n.disk.processEnded();
    this.note(`restart ${n.name}`);
    await this.reopen(n);
  }

  /**
   * The node loses power, now (synchronously: also from inside a timer):
   * the process stops where it is (queued journal writes dropped, syncs in
   * flight never complete), its links drop (frames already sent still
   * arrive), and its disk keeps only what fsyncs made durable — or, with
   * `torn`, also a random prefix of the rest. It opens again from disk
   * after `downMs` of virtual time (in settle()), unless `reopen` is false
   * (the caller replaces its directory first).
   */
  crash(n: Node, opts: { torn?: boolean; downMs?: number; reopen?: boolean; why?: string } = {}): PowerLoss {
    if (n.down) throw new Error(`${n.name} is already down`);
    // Its links drop (its own ends at once; frames it sent still arrive), its sync is abandoned
    // (never awaited: its timers stop, it never runs again), then the process is gone: nothing
    // more reaches its disk, and whatever the abandoned sync still had queued fails on the closed store.
    this.net.crash(n.library.deviceId);
    const sync = n.sync as PeerSync | undefined;
    n.sync = null as never;
    sync?.stop().catch(() => undefined);
    n.library.store.crashForTesting();
    const loss = n.disk.powerLoss(opts.torn ? this.diskRnd : null);
    n.down = true;
    const why = opts.why ?? 'crash';
    this.ledger.crashed(n.name, `${why} of ${n.name} at t=${this.clock.now()}`);
    this.note(`${why} ${n.name} lost=${loss.lostBytes} kept=${loss.keptBytes}`);
    if (opts.reopen !== false) this.clock.setTimeout(() => this.reopening.push(n), opts.downMs ?? 0);
    return loss;
  }

  /** Opens a node's library from its disk (after a restart or a crash) and (unless `start` is false) syncs again if it had joined. */
  private async reopen(n: Node, start = true): Promise<void> {
    try {
      n.library = await Library.open({ dataDir: n.dataDir, libraryId: this.libraryId, now: n.now, newId: this.newId, journalIo: n.disk, onStoreEvent: this.onStoreEvent, keyPair: n.keyPair, ...this.libraryOptions });
    } catch (e) {
      throw new Error(`${n.name} does not open again after losing power: ${(e as Error).message}`, { cause: e });
    }
    n.incarnation++;
    n.down = false;
    this.watch(n);
    const fate = this.ledger.reopened(n.name, n.library);
    this.note(`open ${n.name} survived=${fate.survived} lost=${fate.lost} seq=${n.library.store.seq}`);
    if (start && n.joined) this.startSync(n);
  }

  /** Keeps a copy of the node's data directory as a power loss now would leave it (its backup, or a VM snapshot). */
  backup(n: Node): void {
    this.dropBackup(n);
    const dir = path.join(tempDir('lls-backup-'), 'lib');
    n.disk.durableImage(this.libDir(n), dir);
    n.backup = { dir, at: this.clock.now() };
    this.note(`backup ${n.name}`);
  }

  private dropBackup(n: Node): void {
    if (n.backup) fs.rmSync(path.dirname(n.backup.dir), { recursive: true, force: true });
    n.backup = null;
  }

  /**
   * The user restores the node's backup: the device loses power, its
   * directory is replaced by the backup, and it opens and syncs again.
   * Writes that no device then holds durably are excused (ledger.ts).
   */
  async restore(n: Node): Promise<{ excused: number }> {
    if (!n.backup) throw new Error(`${n.name} has no backup`);
    this.crash(n, { reopen: false, why: 'restore' });
    const dir = this.libDir(n);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.cpSync(n.backup.dir, dir, { recursive: true });
    await this.reopen(n, false);
    const excused = await this.excuse(n, `the restore of ${n.name} (backup from t=${n.backup.at}) at t=${this.clock.now()}`);
    if (n.joined) this.startSync(n);
    return { excused };
  }

  /**
   * The node's library folder is deleted and the device joins again with
   * the same device id, library id and secret (as pairing does), paired
   * with every other device both ways; it backfills and goes on writing.
   */
  async rejoin(n: Node): Promise<{ excused: number }> {
    const deviceId = n.library.deviceId;
    this.crash(n, { reopen: false, why: 'rejoin' });
    fs.rmSync(this.libDir(n), { recursive: true, force: true });
    this.dropBackup(n); // a wiped machine: its old backups are gone too
    await this.create(n, deviceId);
    n.down = false;
    this.ledger.reopened(n.name, n.library); // everything it had pending is gone
    const excused = await this.excuse(n, `the re-join of ${n.name} at t=${this.clock.now()}`);
    this.note(`rejoin ${n.name} excused=${excused}`);
    await this.pair(n);
    if (n.joined) this.startSync(n);
    return { excused };
  }

  /**
   * After `n`'s directory was replaced: excuses every counted write that no
   * device holds durably now. Devices whose disk has unsynced journal bytes
   * (or whose journal failed) are read from a durable image of their
   * directory, as a power loss now would leave it.
   */
  private async excuse(n: Node, reason: string): Promise<number> {
    const holders: Library[] = [n.library];
    const images: { lib: Library; root: string }[] = [];
    try {
      for (const o of this.nodes) {
        if (o === n) continue;
        // Its memory is its durable state when every journal byte is synced and its journal has not
        // failed (a failed journal leaves commits in memory that never reach the disk).
        if (o.disk.clean && !o.library.store.journalForTesting.failure) {
          holders.push(o.library);
          continue;
        }
        const root = tempDir('lls-image-');
        o.disk.durableImage(libraryDir(o.dataDir, this.libraryId), libraryDir(root, this.libraryId));
        const disk = new SimDisk(this.clock, new Random(0));
        disk.instant = true;
        const lib = await Library.open({ dataDir: root, libraryId: this.libraryId, now: o.now, journalIo: disk, keyPair: o.keyPair });
        images.push({ lib, root });
        holders.push(lib);
      }
      const excused = this.ledger.excuse(holders, reason);
      this.note(`excused ${excused} (${reason})`);
      return excused;
    } finally {
      for (const im of images) {
        im.lib.store.crashForTesting();
        fs.rmSync(im.root, { recursive: true, force: true });
      }
    }
  }

  /** Each node's sync state, links, contents and errors (for failure reports). */
  describe(): string {
    return this.nodes
      .map((n) => {
        const vector = [...n.library.vector().values()].map((v) => `${idKey(v.origin).slice(0, 6)}:${v.seq}`).join(' ');
        const stamps = n.library
          .newestStamps()
          .map((w) => `${idKey(w.owner).slice(0, 6)}/${w.model}:${Buffer.from(w.hlc).toString('hex').slice(6)}`)
          .join(' ');
        const proofs = n.library
          .ownerProofs()
          .map((p) => {
            const marks = n.library.registry.deviceOwned.map((m) => n.library.watermark(p.owner, m.name)).map((w) => (w ? Buffer.from(w).toString('hex').slice(6) : '-'));
            return `${idKey(p.owner).slice(0, 6)}:${p.state}/${p.held?.rows ?? 0}r marks=${marks.join(',')}`;
          })
          .join(' ');
        return `  ${n.name} ${idKey(n.library.deviceId).slice(0, 6)} ${n.sync?.state} ready=${n.sync?.readyPeers().length} origin=${idKey(n.library.origin).slice(0, 6)} ${JSON.stringify(n.library.counts())} parked=${n.library.parkedCount()}\n    vector ${vector}\n    stamps ${stamps}\n    proofs ${proofs}\n    errors ${n.errors
          .slice(-3)
          .map((e) => e.message)
          .join(' | ')}`;
      })
      .join('\n');
  }

  /** Rows (canonical digest lines) that differ between the first node and the others. */
  differences(limit = 20): string {
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
      .flatMap((n) => {
        const other = lines(n);
        const only0 = [...first].filter((l) => !other.has(l)).map((l) => `  ${this.nodes[0].name} only: ${l.slice(0, 300)}`);
        const onlyN = [...other].filter((l) => !first.has(l)).map((l) => `  ${n.name} only: ${l.slice(0, 300)}`);
        return [...only0, ...onlyN];
      })
      .slice(0, limit)
      .join('\n');
  }

  digests(): string[] {
    return this.nodes.map((n) => n.library.digest());
  }

  /** Stops every node as a power cut would (nothing waited for) and removes its data directory and backup. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (--liveClusters === 0 && savedRoom) Object.assign(roomLimits, savedRoom);
    // (after a turn: rejections of what is abandoned now surface on the next ones)
    setTimeout(() => {
      if (--abandoned.clusters === 0) process.off('unhandledRejection', onUnhandled);
    }, 100).unref();
    for (const n of this.nodes) {
      n.sync?.stop().catch(() => undefined);
      n.sync = null as never;
      try {
        n.library.store.crashForTesting();
      } catch {
        /* already closed */
      }
      this.net.crash(n.library.deviceId);
      n.disk.processEnded();
      fs.rmSync(n.dataDir, { recursive: true, force: true });
      this.dropBackup(n);
    }
  }
}
