/**
 * `npm run soak -- --schedules N [--from SEED] [--events E] [--jobs J] [--keep-going] [--liar]`:
 * runs N random schedules (test/sim/schedule.ts), J at a time, and stops at
 * the first failure, printing its seed (replay it alone with
 * `--schedules 1 --from SEED`); with --keep-going, runs them all and lists
 * every failing seed by the invariant it broke; with --liar, the first
 * device of each lies to its partners (test/sim/byzantine.ts). Prints how
 * many of each event ran.
 */
import { runSchedules, ScheduleFailure } from './schedule';
import { eventTotals, formatTotals } from './totals';
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
  const keepGoing = process.argv.includes('--keep-going');
  const liar = process.argv.includes('--liar');
  const t0 = Date.now();
  const totals = eventTotals();
  const failed = new Map<string, number[]>();
  const onFailure = keepGoing
    ? (e: Error) => {
        const f = e as ScheduleFailure;
        const k = f.invariant ?? 'error';
        failed.set(k, [...(failed.get(k) ?? []), f.seed]);
        process.stdout.write(`seed ${f.seed}: ${f.message.split('\n')[0]}\n`);
      }
    : undefined;
  try {
    await runSchedules(
      from,
      schedules,
      jobs,
      { events, liar },
      (r) => {
        totals.add(r);
        if (totals.schedules % 100 === 0) process.stdout.write(`${totals.schedules} schedules, ${Math.round((Date.now() - t0) / 1000)} s\n`);
      },
      onFailure,
    );
  } catch (e) {
    process.stdout.write(`\nFAILED: ${(e as Error).stack}\n`);
    process.exitCode = 1;
  } finally {
    cleanupTempDirs();
  }
  if (failed.size) {
    process.exitCode = 1;
    for (const [k, seeds] of failed) process.stdout.write(`failed (${k}): ${seeds.length} — seeds ${seeds.sort((a, b) => a - b).join(' ')}\n`);
  }
  process.stdout.write(`${process.exitCode ? 'stopped' : 'done'}: ${formatTotals(totals)} in ${Math.round((Date.now() - t0) / 1000)} s\n`);
}

void main();
