/**
 * One random, seeded schedule: 2-5 devices edit every model while the
 * network drops, duplicates, delays and reorders frames, partitions and
 * heals; devices restart gracefully, lose power at any moment (between a
 * commit and its fsync, while serving a peer), run out of disk space, are
 * restored from an old backup of their data directory, or are wiped and
 * join again; some clocks run ahead or behind within the drift bound, one
 * sometimes beyond it. Then the network heals and goes quiet, and the
 * replicas must agree with each other and with what was acknowledged
 * (ledger.ts states the invariants). A failure names the invariant, the
 * node, the record and its seed; `runSchedule(seed)` replays it exactly.
 */
import { createHash } from 'node:crypto';
import { idKey } from '../../src/core/ids';
import { MESSAGE_CODES } from '../../src/protocol';
import { StoreClosedError, StoreFailedError } from '../../src/store';
import { Random } from '../support/random';
import { issueWrite } from '../support/workload';
import { Cluster, type Node } from './cluster';
import { Liar } from './byzantine';
import type { Violation } from './ledger';

export interface ScheduleOptions {
  /** Events before healing. */
  events?: number;
  /** Event kinds (keys of RATES) not to run: they become idle stretches (for narrowing a failure down). */
  without?: readonly string[];
  /** Most virtual time an fsync takes (default FSYNC_DELAY_MS); 0: every commit is durable at once (a control: nothing is ever pending). */
  fsyncDelayMs?: number;
  /** The first device lies to its partners until the network heals (byzantine.ts). Schedules without it are unchanged. */
  liar?: boolean;
}

export interface ScheduleResult {
  seed: number;
  nodes: number;
  /** Local transactions started. */
  writes: number;
  /** Graceful restarts (sync stopped, journal drained). */
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
  /** Power losses (any moment; after a full disk too), and those that lost at least one unsynced journal record. */
  hardCrashes: number;
  crashesLosingRecords: number;
  /** Power losses right after the device sent a catch-up response (while serving a peer). */
  crashesWhileServing: number;
  /** Torn journal tails the store recovered on open. */
  tornTails: number;
  /** Disks that filled up (journal writes failed with ENOSPC), then were freed and the device restarted. */
  journalFailures: number;
  /** Backups taken, and restored. */
  backups: number;
  restores: number;
  /** Devices wiped that joined again. */
  rejoins: number;
  /** Local writes lost before they were durable, kept by a torn tail, excused by a restore or re-join. */
  lostWrites: number;
  survivedWrites: number;
  excusedWrites: number;
  /** Lies the lying device told (with `liar`), by kind and in all, and how many devices reported it. */
  lies?: number;
  told?: Readonly<Record<string, number>>;
  liarBlamedBy?: number;
  /** Hash of what happened (events, store sequence numbers, final digests): equal for equal seeds. */
  trace: string;
  /** Set when the schedule broke an invariant: which one. */
  failed?: string;
}

export class ScheduleFailure extends Error {
  /** Hash of what happened (see ScheduleResult.trace), and the lines it hashes. */
  trace = '';
  log: string[] = [];
  /** What the schedule had done when it failed. */
  result: ScheduleResult | null = null;
  constructor(
    readonly seed: number,
    message: string,
    readonly invariant = 'error',
  ) {
    super(`schedule seed ${seed}: ${message} (replay: runSchedule(${seed}))`);
    this.name = 'ScheduleFailure';
  }
}

/** How each event kind is chosen: cumulative thresholds on one roll. */
const RATES = {
  write: 0.47,
  faults: 0.55,
  partition: 0.61,
  heal: 0.68,
  restart: 0.71,
  crash: 0.81,
  diskFull: 0.835,
  backup: 0.87,
  restore: 0.91,
  rejoin: 0.93,
};

/** An fsync takes 0..this many ms of virtual time: commits are pending when a crash lands. */
const FSYNC_DELAY_MS = 3;

/** How long an honest device first cuts a liar off (ms of virtual time). */
const LIAR_CUT_OFF_MS = 100;

/** With a liar, what one partner may leave waiting for a parent on a device (its orphan floods exceed it: Liar 'orphans'). */
export const LIAR_PARKED_SHARE = 40;

const RESPONSE_CODES = new Set([MESSAGE_CODES['state-response'], MESSAGE_CODES['shared-change-response']]);

export async function runSchedule(seed: number, opts: ScheduleOptions = {}): Promise<ScheduleResult> {
  const rnd = new Random(seed);
  const count = 2 + rnd.int(4);
  const syncOptions = { antiEntropyMs: 1000, requestTimeoutMs: 400, heartbeatMs: 200, deadAfterMs: 1000, pruneIntervalMs: 300 };
  // A liar is cut off for 100 ms, doubling up to 6.4 s: long enough to matter, short enough to end before the checks.
  const cluster = new Cluster(
    seed,
    opts.liar ? { ...syncOptions, cutOffMs: LIAR_CUT_OFF_MS } : syncOptions,
    opts.fsyncDelayMs ?? FSYNC_DELAY_MS,
    opts.liar ? { maxParkedPerPartner: LIAR_PARKED_SHARE } : {},
  );
  let liar: Liar | null = null;
  const result: ScheduleResult = {
    seed,
    nodes: count,
    writes: 0,
    restarts: 0,
    partitions: 0,
    frames: cluster.net.stats,
    hardCrashes: 0,
    crashesLosingRecords: 0,
    crashesWhileServing: 0,
    tornTails: 0,
    journalFailures: 0,
    backups: 0,
    restores: 0,
    rejoins: 0,
    lostWrites: 0,
    survivedWrites: 0,
    excusedWrites: 0,
    trace: '',
  };
  const fail = (m: string, invariant?: string) => new ScheduleFailure(seed, m, invariant);
  /** Writes whose transaction failed for a reason other than the disk or a crash. */
  const unexpected: string[] = [];

  /** Starts one local transaction on `n` (not awaited: it becomes durable, or not, as virtual time runs). */
  const write = (n: Node) => {
    if (n.down) return;
    const { ops, done } = issueWrite(n.library, rnd);
    const items = cluster.ledger.issued(n.name, ops, cluster.clock.now());
    result.writes++;
    done.catch((e: Error) => {
      if (e instanceof StoreFailedError || e instanceof StoreClosedError) return; // committed in memory; the crash decides its fate
      cluster.ledger.rolledBack(items);
      unexpected.push(`${n.name}: ${e.message}`);
    });
  };

  /** Power loss of `n`, counted. */
  const powerLoss = (n: Node, o: { torn?: boolean; downMs?: number; why?: string }) => {
    if (n.down) return;
    const loss = cluster.crash(n, o);
    result.hardCrashes++;
    if (loss.lostBytes > 0) result.crashesLosingRecords++;
  };

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
    // In some schedules the last device pairs later, after the others may have pruned their logs:
    // it backfills, from a snapshot where the log it needs is gone.
    const events = opts.events ?? 30;
    const late = count > 2 && rnd.chance(0.35) ? nodes[count - 1] : null;
    const joinAt = late ? rnd.int(events) : -1;
    result.lateJoin = !!late;
    await cluster.connectAll(late ? [late] : []);
    if (opts.liar) {
      const liarNode = nodes[0];
      liar = new Liar(cluster.net, liarNode.library.deviceId, liarNode.keyPair, cluster.libraryId, () => nodes.map((n) => n.library.deviceId), seed);
      liar.start();
    }
    await cluster.run(20);
    if (rnd.chance(0.25)) {
      // an early backup of one device, for a restore later on
      cluster.backup(rnd.pick(nodes.filter((n) => n.joined)));
      result.backups++;
    }

    for (let e = 0; e < events; e++) {
      if (e === joinAt) {
        await cluster.join(late!);
        cluster.note(`join ${late!.name}`);
      }
      const joined = nodes.filter((n) => n.joined);
      let roll = rnd.next();
      if (opts.without?.length) {
        const kind = (Object.keys(RATES) as (keyof typeof RATES)[]).find((k) => roll < RATES[k]);
        if (kind && opts.without.includes(kind)) roll = 1; // idle instead
      }
      let runMs = 10 + rnd.int(60);
      let event = 'idle';
      let slowDisk: Node | null = null;
      if (roll < RATES.write) {
        const n = rnd.pick(nodes);
        const k = 1 + rnd.int(3);
        for (let i = 0; i < k; i++) write(n);
        event = `write ${n.name} x${k}`;
      } else if (roll < RATES.faults) {
        cluster.net.faults = { drop: rnd.next() * 0.2, duplicate: rnd.next() * 0.2, delayMs: 1 + rnd.int(5), jitterMs: rnd.int(30) };
        event = 'faults';
      } else if (roll < RATES.partition) {
        if (count > 2) {
          const shuffled = rnd.shuffle([...nodes]);
          const cut = 1 + rnd.int(count - 1);
          cluster.net.partition(
            shuffled.slice(0, cut).map((n) => n.library.deviceId),
            shuffled.slice(cut).map((n) => n.library.deviceId),
          );
          result.partitions++;
          event = 'partition';
        }
      } else if (roll < RATES.heal) {
        cluster.net.heal();
        event = 'heal';
      } else if (roll < RATES.restart) {
        const n = rnd.pick(nodes);
        await cluster.restart(n);
        result.restarts++;
        event = `restart ${n.name}`;
      } else if (roll < RATES.crash) {
        // Power loss at a random moment of the next stretch of time: mid-step, fsyncs in flight.
        const n = rnd.pick(joined);
        const torn = rnd.chance(0.3);
        const downMs = rnd.int(300);
        const how = rnd.next();
        if (how < 0.4) {
          // right after a commit: most likely before its fsync completed
          write(n);
          const at = rnd.int(4);
          cluster.clock.setTimeout(() => powerLoss(n, { torn, downMs }), at);
          event = `crash ${n.name} +${at}ms after a write`;
        } else if (how < 0.65) {
          // while serving a peer: its disk is slow, it writes, a partner reconnects (and asks to catch up),
          // and it loses power right after it sent a catch-up response
          const others = joined.filter((o) => o !== n);
          if (others.length) cluster.net.reconnect(n.library.deviceId, rnd.pick(others).library.deviceId);
          n.disk.slowMs = 40;
          slowDisk = n;
          write(n);
          const id = idKey(n.library.deviceId);
          cluster.net.onSend = (from, _to, frame) => {
            if (!RESPONSE_CODES.has(frame[0]) || idKey(from) !== id) return;
            cluster.net.onSend = null;
            result.crashesWhileServing++;
            cluster.clock.setTimeout(() => powerLoss(n, { torn, downMs, why: 'crash-serving' }), 0);
          };
          runMs = 200 + rnd.int(400);
          event = `crash ${n.name} after its next response`;
        } else {
          const at = rnd.int(runMs);
          cluster.clock.setTimeout(() => powerLoss(n, { torn, downMs }), at);
          event = `crash ${n.name} +${at}ms`;
        }
      } else if (roll < RATES.diskFull) {
        // Its disk fills up: journal writes fail from then on (the engine must stop serving what is not durable);
        // then the space is freed and the device restarted (power loss: unsynced bytes gone).
        const n = rnd.pick(joined);
        const fillAt = rnd.int(30);
        const freeAt = fillAt + 30 + rnd.int(300);
        cluster.clock.setTimeout(() => {
          if (n.down) return;
          n.disk.full = true;
          result.journalFailures++;
          cluster.note(`disk full ${n.name}`);
          write(n); // commits in memory, then its journal write fails
        }, fillAt);
        cluster.clock.setTimeout(() => write(n), fillAt + 1 + rnd.int(freeAt - fillAt - 1));
        cluster.clock.setTimeout(() => {
          n.disk.full = false;
          powerLoss(n, { downMs: rnd.int(100), why: 'restart-after-full-disk' });
        }, freeAt);
        runMs = Math.max(runMs, freeAt + 1);
        event = `disk full ${n.name} +${fillAt}..${freeAt}ms`;
      } else if (roll < RATES.backup) {
        const n = rnd.pick(joined);
        cluster.backup(n);
        result.backups++;
        event = `backup ${n.name}`;
      } else if (roll < RATES.restore) {
        const withBackup = joined.filter((n) => n.backup);
        if (withBackup.length) {
          const n = rnd.pick(withBackup);
          const r = await cluster.restore(n);
          result.restores++;
          result.excusedWrites += r.excused;
          event = `restore ${n.name} excused=${r.excused}`;
        }
      } else if (roll < RATES.rejoin) {
        const n = rnd.pick(joined);
        const r = await cluster.rejoin(n);
        result.rejoins++;
        result.excusedWrites += r.excused;
        event = `rejoin ${n.name} excused=${r.excused}`;
      }
      await cluster.run(runMs);
      cluster.net.onSend = null;
      if (slowDisk) slowDisk.disk.slowMs = 0;
      cluster.note(`event ${e} ${event} seqs=${nodes.map((n) => n.library.store.seq).join(',')} frames=${cluster.net.stats.sent}`);
      if (process.env.SIM_TRACE) process.stdout.write(`${e} ${roll.toFixed(4)} ${cluster.clock.now()} ${event} ${cluster.digests().map((d) => d.slice(0, 6)).join(',')} ${JSON.stringify(cluster.net.stats)}\n`);
    }

    cluster.net.faults = { drop: 0, duplicate: 0, delayMs: 1, jitterMs: 0 };
    liar?.stop();
    cluster.net.heal();
    // A device whose journal failed (its disk filled up again while it came back) says "sync failed" and
    // waits to be opened again: the user does that once the disk has room.
    for (const n of nodes) {
      n.disk.full = false;
      if (!n.down && n.library.failed) powerLoss(n, { downMs: 0, why: 'reopen-after-failed-journal' });
    }
    await cluster.run(3000);
    // The liar's cut-offs end (the longest is 64 × LIAR_CUT_OFF_MS); then it syncs as an honest device.
    if (liar) await cluster.run(64 * LIAR_CUT_OFF_MS + 3000);
    if (farAhead >= 0) {
      // Its stamps were refused and surfaced; once real time catches up with them they flow.
      const wrote = cluster.ledger.items.some((it) => it.node === nodes[farAhead].name && (it.fate === 'acked' || it.fate === 'survived'));
      if (wrote && cluster.stats.refused === 0) throw fail('a stamp beyond the drift bound was not refused', 'drift');
      // Let 12 minutes pass with the network down (cheap to simulate), then heal.
      const all = nodes.map((n) => n.library.deviceId);
      cluster.net.partition(all.slice(0, 1), all.slice(1));
      for (let i = 1; i < all.length; i++) cluster.net.partition(all.slice(i, i + 1), all.slice(i + 1));
      await cluster.run(5000);
      cluster.clock.moveTo(cluster.clock.now() + 12 * 60_000);
      cluster.net.heal();
      await cluster.run(3000);
    }
    result.refused = cluster.stats.refused;
    result.snapshots = cluster.stats.snapshots;
    result.pruned = cluster.stats.pruned;
    result.tornTails = cluster.stats.tornTails;
    for (const it of cluster.ledger.items) {
      if (it.fate === 'lost') result.lostWrites++;
      if (it.fate === 'survived') result.survivedWrites++;
    }
    const digests = cluster.digests();
    cluster.note(`digests ${digests.map((d) => d.slice(0, 12)).join(' ')}`);
    result.trace = createHash('sha256').update(cluster.trace.join('\n')).digest('hex').slice(0, 16);

    const violations: Violation[] = cluster.ledger.check(nodes);
    if (liar) {
      const id = idKey(liar.device);
      const blamedBy = nodes.filter((n) => n !== nodes[0] && (n.blamed.get(id) ?? 0) > 0);
      result.lies = liar.lies;
      result.told = { ...liar.told };
      result.liarBlamedBy = blamedBy.length;
      // Lies can be lost with their frames (drops, cut links, a victim's crash); many of them cannot all be.
      if (liar.lies >= 20 && blamedBy.length === 0) {
        violations.push({ invariant: 'liar-unnamed', node: nodes[0].name, detail: `it told ${liar.lies} lies (${JSON.stringify(liar.told)}) and no device reported it` });
      }
      // No honest device holds a row the liar planted in another device's own name.
      for (const n of nodes) {
        if (n === nodes[0] || n.down) continue;
        // (Liar.planted: locations.)
        for (const [uuid] of n.library.read((r) => r.rows('SELECT uuid FROM location'))) {
          if (liar.planted.has(idKey(uuid as Uint8Array))) violations.push({ invariant: 'planted-held', node: n.name, detail: `it holds location ${idKey(uuid as Uint8Array)}, planted by the liar in another device's name` });
        }
      }
    }
    for (const u of unexpected) violations.push({ invariant: 'write-failed', node: u.split(':')[0], detail: `a local transaction failed unexpectedly: ${u}` });
    if (violations.length) {
      const first = violations[0];
      const lines = violations.slice(0, 12).map((v) => `  [${v.invariant}] ${v.node}: ${v.detail}`);
      if (violations.length > 12) lines.push(`  … ${violations.length - 12} more`);
      const f = fail(
        `invariant "${first.invariant}" broken on ${first.node}: ${first.detail}\n${lines.join('\n')}\n${cluster.describe()}\n${violations.some((v) => v.invariant === 'diverged') ? cluster.differences() + '\n' : ''}  last events:\n${cluster.trace
          .slice(-25)
          .map((l) => `    ${l}`)
          .join('\n')}`,
        first.invariant,
      );
      f.trace = result.trace;
      f.log = cluster.trace;
      f.result = { ...result, failed: first.invariant };
      throw f;
    }
    return result;
  } catch (e) {
    if (e instanceof ScheduleFailure) throw e;
    const f = fail(`${(e as Error).stack ?? e}\n  last events:\n${cluster.trace.slice(-25).map((l) => `    ${l}`).join('\n')}`, 'error');
    f.trace = createHash('sha256').update(cluster.trace.join('\n')).digest('hex').slice(0, 16);
    f.log = cluster.trace;
    f.result = { ...result, failed: 'error' };
    throw f;
  } finally {
    await cluster.close();
  }
}

/**
 * Runs schedules from..from+count-1, `jobs` at a time (each waits on its
 * own turns of the event loop, so several share a core well; each replays
 * exactly on its own). Resolves after all of them; rejects with the first
 * failure (lowest seed among those that failed), once every running
 * schedule has stopped. With `onFailure`, runs them all and reports every
 * failure to it instead of stopping. `onResult` gets every schedule that
 * ran, failed ones included (with `failed` set).
 */
export async function runSchedules(
  from: number,
  count: number,
  jobs: number,
  opts: ScheduleOptions = {},
  onResult?: (r: ScheduleResult) => void,
  onFailure?: (e: Error) => void,
): Promise<void> {
  let next = from;
  const failures: Error[] = [];
  const worker = async () => {
    while (next < from + count && (onFailure || failures.length === 0)) {
      const seed = next++;
      try {
        // (Not `onResult?.(await …)`: without a callback that would skip running the schedule at all.)
        const result = await runSchedule(seed, opts);
        onResult?.(result);
      } catch (e) {
        if (e instanceof ScheduleFailure && e.result) onResult?.(e.result); // its events ran too
        if (onFailure) onFailure(e as Error);
        else failures.push(e as Error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  if (failures.length) throw failures.sort((a, b) => seedOf(a) - seedOf(b))[0];
}

function seedOf(e: Error): number {
  return e instanceof ScheduleFailure ? e.seed : Infinity;
}
