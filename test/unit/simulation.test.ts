/**
 * Random seeded schedules (test/sim/schedule.ts): 2-5 devices, every model,
 * drops, duplicates, reordering, partitions, crashes and restarts, skewed
 * clocks; after healing, replicas agree and hold everything acknowledged.
 * `npm run soak -- --schedules 10000` runs many more.
 */
import { runSchedule } from '../sim/schedule';
import { cleanupTempDirs } from '../support/tmp';

const SCHEDULES = Number(process.env.SIM_SCHEDULES ?? 200);

describe(`simulation: ${SCHEDULES} random schedules`, function () {
  this.timeout(30 * 60_000);
  afterEach(cleanupTempDirs);

  it('every schedule converges with nothing acknowledged lost and nothing deleted resurrected', async () => {
    for (let seed = 1; seed <= SCHEDULES; seed++) {
      await runSchedule(seed); // a failure throws ScheduleFailure naming the seed
      cleanupTempDirs();
    }
  });
});
