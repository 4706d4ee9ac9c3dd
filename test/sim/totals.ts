/** Totals of what a run of schedules exercised, for the soak and CI lines. */
import type { ScheduleResult } from './schedule';

export function eventTotals() {
  const t = {
    schedules: 0,
    failed: 0,
    nodes: 0,
    writes: 0,
    restarts: 0,
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
    partitions: 0,
    dropped: 0,
    duplicated: 0,
    farAhead: 0,
    refused: 0,
    lateJoins: 0,
    snapshots: 0,
    pruned: 0,
    /** With a lying device: lies told, and devices that reported the liar. */
    lies: 0,
    liarBlamedBy: 0,
    add(r: ScheduleResult): void {
      t.schedules++;
      if (r.failed) t.failed++;
      t.nodes += r.nodes;
      t.writes += r.writes;
      t.restarts += r.restarts;
      t.hardCrashes += r.hardCrashes;
      t.crashesLosingRecords += r.crashesLosingRecords;
      t.crashesWhileServing += r.crashesWhileServing;
      t.tornTails += r.tornTails;
      t.journalFailures += r.journalFailures;
      t.backups += r.backups;
      t.restores += r.restores;
      t.rejoins += r.rejoins;
      t.lostWrites += r.lostWrites;
      t.survivedWrites += r.survivedWrites;
      t.excusedWrites += r.excusedWrites;
      t.partitions += r.partitions;
      t.dropped += r.frames.dropped;
      t.duplicated += r.frames.duplicated;
      t.farAhead += r.farAhead ? 1 : 0;
      t.refused += r.refused ?? 0;
      t.lateJoins += r.lateJoin ? 1 : 0;
      t.snapshots += r.snapshots ?? 0;
      t.pruned += r.pruned ?? 0;
      t.lies += r.lies ?? 0;
      t.liarBlamedBy += r.liarBlamedBy ?? 0;
    },
  };
  return t;
}

export type EventTotals = ReturnType<typeof eventTotals>;

/** One line: every count by name. */
export function formatTotals(t: EventTotals): string {
  return Object.entries(t)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}
