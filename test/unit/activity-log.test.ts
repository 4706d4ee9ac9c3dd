/** The runner's bounded, coalescing record of recent sync activity (service/activity-log.ts). */
import assert from 'node:assert/strict';
import { ActivityLog } from '../../src/service/activity-log';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('ActivityLog', () => {
  it('keeps at most `capacity` entries per list, newest first', () => {
    let t = 0;
    const log = new ActivityLog(() => undefined, { capacity: 5, now: () => (t += 5000) });
    for (let i = 0; i < 12; i++) log.error(`e${i}`, null, null);
    for (let i = 0; i < 3; i++) log.refused({ device: 'd', name: 'n', reason: `r${i}`, skewMs: i, origin: 'd', model: null });
    const r = log.recent(100);
    assert.deepEqual(r.errors.map((e) => e.message), ['e11', 'e10', 'e9', 'e8', 'e7']);
    assert.deepEqual(r.refused.map((e) => e.reason), ['r2', 'r1', 'r0']);
    assert.deepEqual(log.recent(2).errors.map((e) => e.message), ['e11', 'e10']);
    log.close();
  });

  it('merges consecutive batches of one partner and model within a second, not others', () => {
    let t = 1_000_000;
    const log = new ActivityLog(() => undefined, { now: () => t });
    log.received('a', 'alpha', 'entry', 1000);
    t += 400;
    log.received('a', 'alpha', 'entry', 1000); // merged
    t += 400;
    log.received('a', 'alpha', 'tag', 1); // another model
    log.received('b', 'beta', 'tag', 2); // another partner
    t += 2000;
    log.received('b', 'beta', 'tag', 3); // too late to merge
    log.sent('a', 'alpha', 'tag', 0); // nothing sent: not recorded
    const r = log.recent(10);
    assert.deepEqual(
      r.received.map((x) => [x.device, x.model, x.count]),
      [
        ['b', 'tag', 3],
        ['b', 'tag', 2],
        ['a', 'tag', 1],
        ['a', 'entry', 2000],
      ],
    );
    assert.equal(r.received[3].at, 1_000_400, 'a merged entry carries its latest time');
    assert.deepEqual(r.sent, []);
    log.close();
  });

  it('notifies at most every minIntervalMs however fast entries come, and not after close', async () => {
    let notified = 0;
    const log = new ActivityLog(() => notified++, { minIntervalMs: 100 });
    const until = Date.now() + 450;
    while (Date.now() < until) {
      log.sent('a', null, 'tag', 1);
      await sleep(5);
    }
    await sleep(150);
    assert.ok(notified >= 3 && notified <= 6, `${notified} notifications in ~0.6 s`);
    log.sent('b', null, 'tag', 1);
    log.close();
    await sleep(150);
    const after = notified;
    log.sent('c', null, 'tag', 1);
    await sleep(150);
    assert.equal(notified, after);
  });
});
