/**
 * One random, seeded schedule: 2-5 devices edit every model while the
 * network drops, duplicates, delays and reorders frames, partitions and
 * heals, devices crash and restart from disk, and some clocks run ahead or
 * behind within the drift bound. Then the network heals and goes quiet, and
 * the replicas must agree with each other and with what was acknowledged.
 * A failure names its seed; `runSchedule(seed)` replays it exactly.
 */
import { compareHlc } from '../../src/core/hlc';
import { idKey } from '../../src/core/ids';
import { expectedLiveness } from '../support/oracle';
import { Random } from '../support/random';
import { collect, runWorkload, type Collected } from '../support/workload';
import { Cluster, type Node } from './cluster';

export interface ScheduleOptions {
  /** Events before healing. */
  events?: number;
}

export interface ScheduleResult {
  seed: number;
  nodes: number;
  writes: number;
  restarts: number;
  partitions: number;
  frames: { sent: number; dropped: number; duplicated: number };
  /** One device paired later than the others. */
  lateJoin?: boolean;
  /** Snapshots merged, log entries pruned (all nodes). */
  snapshots?: number;
  pruned?: number;
  /** One device's clock ran beyond the drift bound. */
  farAhead?: boolean;
  /** Stamps refused for clock drift (and surfaced as clockDrift events). */
  refused?: number;
}

export class ScheduleFailure extends Error {
  constructor(
    readonly seed: number,
    message: string,
  ) {
    super(`schedule seed ${seed}: ${message} (replay: runSchedule(${seed}))`);
    this.name = 'ScheduleFailure';
  }
}

export async function runSchedule(seed: number, opts: ScheduleOptions = {}): Promise<ScheduleResult> {
  const rnd = new Random(seed);
  const count = 2 + rnd.int(4);
  const cluster = new Cluster(seed, { antiEntropyMs: 1000, requestTimeoutMs: 400, heartbeatMs: 200, deadAfterMs: 1000, pruneIntervalMs: 300 });
  const acked: Collected[] = [];
  const result: ScheduleResult = { seed, nodes: count, writes: 0, restarts: 0, partitions: 0, frames: cluster.net.stats };
  const fail = (m: string) => new ScheduleFailure(seed, m);
  try {
    const nodes: Node[] = [];
    // In some schedules one device's clock runs beyond the 5-minute drift bound.
    const farAhead = rnd.chance(0.25) ? rnd.int(count) : -1;
    for (let i = 0; i < count; i++) {
      // some clocks run ahead or behind, within the drift bound
      const skew = i === farAhead ? 8 * 60_000 + rnd.int(120_000) : rnd.chance(0.4) ? rnd.int(240_000) - 120_000 : 0;
      nodes.push(await cluster.add(`n${i}`, skew));
    }
    result.farAhead = farAhead >= 0;
    for (const n of nodes) acked.push({ kind: 'state', model: 'device', record: n.library.read((r) => n.library.registry.deviceOwnedModel('device').get(r, n.library.deviceId))! });
    let stopCollecting = collect(nodes.map((n) => n.library), acked);
    // In some schedules the last device pairs later, after the others may have pruned their logs:
    // it backfills, from a snapshot where the log it needs is gone.
    const events = opts.events ?? 30;
    const late = count > 2 && rnd.chance(0.35) ? nodes[count - 1] : null;
    const joinAt = late ? rnd.int(events) : -1;
    result.lateJoin = !!late;
    await cluster.connectAll(late ? [late] : []);
    await cluster.run(20);

    for (let e = 0; e < events; e++) {
      if (e === joinAt) await cluster.join(late!);
      const roll = rnd.next();
      if (roll < 0.55) {
        await runWorkload([rnd.pick(nodes).library], rnd, 1 + rnd.int(3), { pull: false });
        result.writes++;
      } else if (roll < 0.65) {
        cluster.net.faults = { drop: rnd.next() * 0.2, duplicate: rnd.next() * 0.2, delayMs: 1 + rnd.int(5), jitterMs: rnd.int(30) };
      } else if (roll < 0.72 && count > 2) {
        const shuffled = rnd.shuffle([...nodes]);
        const cut = 1 + rnd.int(count - 1);
        cluster.net.partition(shuffled.slice(0, cut).map((n) => n.library.deviceId), shuffled.slice(cut).map((n) => n.library.deviceId));
        result.partitions++;
      } else if (roll < 0.8) {
        cluster.net.heal();
      } else if (roll < 0.85) {
        stopCollecting();
        await cluster.restart(rnd.pick(nodes));
        stopCollecting = collect(nodes.map((n) => n.library), acked);
        result.restarts++;
      }
      await cluster.run(10 + rnd.int(60));
      if (process.env.SIM_TRACE) process.stdout.write(`${e} ${roll.toFixed(4)} ${cluster.clock.now()} ${cluster.digests().map((d) => d.slice(0, 6)).join(',')} ${JSON.stringify(cluster.net.stats)}\n`);
    }

    cluster.net.faults = { drop: 0, duplicate: 0, delayMs: 1, jitterMs: 0 };
    cluster.net.heal();
    await cluster.run(3000);
    if (farAhead >= 0) {
      // Its stamps were refused and surfaced; once real time catches up with them they flow.
      const wrote = acked.some((op) => (op.kind === 'shared' ? op.change.hlc : op.record.hlc).device.every((b, i) => b === nodes[farAhead].library.deviceId[i]));
      if (wrote && cluster.stats.refused === 0) throw fail('a stamp beyond the drift bound was not refused');
      // Let 12 minutes pass with the network down (cheap to simulate), then heal.
      const all = nodes.map((n) => n.library.deviceId);
      cluster.net.partition(all.slice(0, 1), all.slice(1));
      for (let i = 1; i < all.length; i++) cluster.net.partition(all.slice(i, i + 1), all.slice(i + 1));
      await cluster.run(5000);
      cluster.clock.moveTo(cluster.clock.now() + 12 * 60_000);
      cluster.net.heal();
      await cluster.run(3000);
    }
    stopCollecting();
    result.refused = cluster.stats.refused;
    result.snapshots = cluster.stats.snapshots;
    result.pruned = cluster.stats.pruned;

    const digests = cluster.digests();
    if (!digests.every((d) => d === digests[0])) throw fail(`replicas differ: ${digests.map((d) => d.slice(0, 8)).join(' ')}\n${cluster.describe()}\n${cluster.differences()}`);
    for (const n of nodes) {
      // Every acknowledged shared change is held (the vector covers it) …
      const vector = n.library.vector();
      for (const op of acked) {
        if (op.kind !== 'shared') continue;
        const v = vector.get(idKey(op.change.hlc.device));
        if (!v || v.seq < op.change.seq) throw fail(`${n.name} lacks acknowledged change ${op.change.seq} of ${idKey(op.change.hlc.device).slice(0, 8)}`);
      }
      // … every acknowledged device-owned state is there or superseded …
      for (const op of acked) {
        if (op.kind !== 'state') continue;
        const m = n.library.registry.deviceOwnedModel(op.model);
        const row = n.library.read((r) => m.get(r, op.record.uuid));
        if (row && compareHlc(row.hlc, op.record.hlc) >= 0) continue;
        if (!row && op.model === 'entry') continue; // went with its deleted location (checked below)
        throw fail(`${n.name} lacks acknowledged ${op.model} state`);
      }
      // … and nothing deleted came back: liveness is what the acknowledged changes imply.
      for (const [key, live] of expectedLiveness(acked)) {
        const [model, hex] = key.split(':');
        const uuid = Uint8Array.from(Buffer.from(hex, 'hex'));
        const m = n.library.registry.get(model);
        const got = n.library.read((r) => (m.kind === 'shared' ? !!m.get(r, uuid)?.live : !!m.get(r, uuid) && !m.get(r, uuid)!.deleted));
        if (got !== live) throw fail(`${n.name}: ${model} ${hex.slice(0, 8)} is ${got ? 'live' : 'gone'}, expected ${live ? 'live' : 'gone'}`);
      }
      if (n.library.parkedCount() !== 0) throw fail(`${n.name} still has ${n.library.parkedCount()} parked records`);
    }
    return result;
  } finally {
    await cluster.close();
  }
}

/**
 * Runs schedules from..from+count-1, `jobs` at a time (each is I/O-bound on
 * its fsyncs, so several share a core well; each replays exactly on its own).
 * Resolves after all of them; rejects with the first failure (lowest seed
 * among those that failed), once every running schedule has stopped.
 */
export async function runSchedules(from: number, count: number, jobs: number, opts: ScheduleOptions = {}, onResult?: (r: ScheduleResult) => void): Promise<void> {
  let next = from;
  const failures: Error[] = [];
  const worker = async () => {
    while (next < from + count && failures.length === 0) {
      const seed = next++;
      try {
        // (Not `onResult?.(await …)`: without a callback that would skip running the schedule at all.)
        const result = await runSchedule(seed, opts);
        onResult?.(result);
      } catch (e) {
        failures.push(e as Error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  if (failures.length) throw failures.sort((a, b) => seedOf(a) - seedOf(b))[0];
}

function seedOf(e: Error): number {
  return e instanceof ScheduleFailure ? e.seed : Infinity;
}
