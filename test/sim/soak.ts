/**
 * `npm run soak -- --schedules N [--from SEED] [--events E] [--jobs J]`:
 * runs N random schedules (test/sim/schedule.ts), J at a time, and stops at
 * the first failure, printing its seed (replay it alone with
 * `--schedules 1 --from SEED`).
 */
import { runSchedules, type ScheduleResult } from './schedule';
import { cleanupTempDirs } from '../support/tmp';

async function main(): Promise<void> {
  const arg = (name: string, def: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : def;
  };
  const schedules = arg('schedules', 1000);
  const from = arg('from', 1);
  const events = arg('events', 30);
  const jobs = arg('jobs', 4);
  const t0 = Date.now();
  const totals = { schedules: 0, nodes: 0, writes: 0, restarts: 0, partitions: 0, dropped: 0, duplicated: 0, farAhead: 0, refused: 0, lateJoins: 0, snapshots: 0, pruned: 0 };
  const add = (r: ScheduleResult) => {
    totals.schedules++;
    totals.nodes += r.nodes;
    totals.writes += r.writes;
    totals.restarts += r.restarts;
    totals.partitions += r.partitions;
    totals.dropped += r.frames.dropped;
    totals.duplicated += r.frames.duplicated;
    totals.farAhead += r.farAhead ? 1 : 0;
    totals.refused += r.refused ?? 0;
    totals.lateJoins += r.lateJoin ? 1 : 0;
    totals.snapshots += r.snapshots ?? 0;
    totals.pruned += r.pruned ?? 0;
    if (totals.schedules % 100 === 0) process.stdout.write(`${totals.schedules} schedules, ${Math.round((Date.now() - t0) / 1000)} s\n`);
  };
  try {
    await runSchedules(from, schedules, jobs, { events }, add);
  } catch (e) {
    process.stdout.write(`\nFAILED: ${(e as Error).stack}\n`);
    process.exitCode = 1;
  } finally {
    cleanupTempDirs();
  }
  process.stdout.write(`${process.exitCode ? 'stopped' : 'done'}: ${JSON.stringify(totals)} in ${Math.round((Date.now() - t0) / 1000)} s\n`);
}

void main();
