/**
 * Random seeded schedules (test/sim/schedule.ts): 2-5 devices, every model,
 * drops, duplicates, reordering, partitions, crashes and restarts, skewed
 * clocks; after healing, replicas agree and hold everything acknowledged.
 * `npm run soak -- --schedules 10000` runs many more.
 */
import assert from 'node:assert/strict';
import { runSchedules } from '../sim/schedule';
import { cleanupTempDirs } from '../support/tmp';

const SCHEDULES = Number(process.env.SIM_SCHEDULES ?? 500);
/** Schedules at a time: each mostly waits on its fsyncs. */
const JOBS = Number(process.env.SIM_JOBS ?? 4);

describe(`simulation: ${SCHEDULES} random schedules`, function () {
  this.timeout(30 * 60_000);
  after(cleanupTempDirs);

  it('every schedule converges with nothing acknowledged lost and nothing deleted resurrected', async () => {
    let ran = 0;
    await runSchedules(1, SCHEDULES, JOBS, {}, () => ran++); // a failure throws ScheduleFailure naming the seed
    assert.equal(ran, SCHEDULES, 'every schedule ran to its checks');
  });
});
