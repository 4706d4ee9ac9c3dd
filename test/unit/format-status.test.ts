/** `leaderless status` as text (formatStatus) and the days option of `serve`, without processes. */
import assert from 'node:assert/strict';
import { DAY_MS, formatDays, parseDaysOption } from '../../src/cli/days';
import { formatStatus } from '../../src/cli/format-status';
import type { LibraryStatus, PartnerStatus, StatusReport } from '../../src/service/status';

const NOW = Date.UTC(2026, 0, 31, 12, 0, 0);

function partner(over: Partial<PartnerStatus>): PartnerStatus {
  return { device: 'd0000000-0000-4000-8000-000000000000', name: 'laptop', publicKey: 'ab', online: false, ready: false, lastSeen: NOW - DAY_MS, addedAt: 0, lag: 0, holdsLogUntil: null, ...over };
}

function report(lib: Partial<LibraryStatus>): StatusReport {
  return {
    service: { running: true, pid: 42, dataDir: '/data', publicKey: 'ff', network: { state: 'up', announced: true, error: null, bootstrap: null }, problems: [] },
    libraries: [
      {
        library: 'LIB',
        name: 'Home',
        device: 'ME',
        state: 'ready',
        backfilled: true,
        backfill: null,
        partners: [],
        logSize: 0,
        pruneAbsentAfterMs: 30 * DAY_MS,
        parked: 0,
        counts: { tag: 1 },
        digest: null,
        error: null,
        ...lib,
      },
    ],
  };
}

describe('leaderless status (text)', () => {
  it('shows per partner how many log entries it holds back and until when, and the log horizon', () => {
    const text = formatStatus(
      report({
        logSize: 12,
        partners: [
          partner({ name: 'desktop', online: true, ready: true, lastSeen: NOW, lag: 2, holdsLogUntil: NOW + 30 * DAY_MS }),
          partner({ name: 'laptop', lastSeen: NOW - 3 * DAY_MS, lag: 12, holdsLogUntil: NOW + 27 * DAY_MS }),
          partner({ name: 'old', lastSeen: NOW - 40 * DAY_MS, lag: 9, holdsLogUntil: NOW - 10 * DAY_MS }),
          partner({ name: 'synced', lastSeen: NOW - 3600_000, lag: 0, holdsLogUntil: NOW + 29 * DAY_MS }),
          partner({ name: 'mute', online: true, ready: true, lastSeen: NOW, lag: 7, holdsLogUntil: NOW - 1 * DAY_MS }),
        ],
      }),
      NOW,
    );
    const lines = text.split('\n');
    const line = (name: string) => lines.find((l) => l.startsWith(`    ${name} `)) ?? assert.fail(`no line for ${name}:\n${text}`);
    assert.match(line('desktop'), /: online, last seen .*, holds back 2 log entries$/);
    assert.match(line('laptop'), /: offline, last seen 2026-01-28T12:00:00\.000Z \(3 days ago\), holds back 12 log entries until 2026-02-27T12:00:00\.000Z \(in 27 days\)$/);
    assert.match(line('old'), /: offline, last seen .*\(40 days ago\), away longer than 30 days: no longer holds the log back \(9 log entries unacknowledged; it gets a snapshot when it returns\)$/);
    assert.match(line('synced'), /: offline, last seen .*\(1 h ago\)$/, 'nothing held back: nothing said');
    assert.match(line('mute'), /: online, .*has not acknowledged for longer than 30 days: no longer holds the log back \(7 log entries unacknowledged; it gets a snapshot for them\)$/);
    assert.match(text, /\n {2}peer log: 12 entries, parked: 0\n {2}log horizon: a partner not heard from for 30 days stops holding the log back \(it gets a snapshot when it returns\)\n/);
  });

  it('says when there is no horizon, and reads an older service that reports none of this', () => {
    const none = formatStatus(report({ pruneAbsentAfterMs: null, partners: [partner({ lag: 1, holdsLogUntil: null })] }), NOW);
    assert.match(none, /log horizon: none \(a partner holds the log back however long it is away\)/);
    assert.match(none, /laptop .*, holds back 1 log entry$/m);
    const older = report({ partners: [partner({})] });
    const lib = older.libraries[0] as Partial<LibraryStatus>;
    delete lib.pruneAbsentAfterMs;
    delete (lib.partners![0] as Partial<PartnerStatus>).lag;
    delete (lib.partners![0] as Partial<PartnerStatus>).holdsLogUntil;
    const text = formatStatus(older, NOW);
    assert.doesNotMatch(text, /log horizon|holds back|undefined/);
    assert.match(text, /peer log: 0 entries, parked: 0\n {2}counts: tag 1\n/);
  });

  it('names a partner cut off for sending bad records, and until when', () => {
    const text = formatStatus(report({ partners: [partner({ name: 'rogue', cutOffUntil: NOW + 120_000 }), partner({ name: 'past', cutOffUntil: NOW - 1 }), partner({ name: 'fine', cutOffUntil: null })] }), NOW);
    assert.match(text, /rogue .*, cut off for sending bad records until 2026-01-31T12:02:00\.000Z \(in 2 min\)$/m);
    assert.doesNotMatch(text, /past .*cut off/);
    assert.doesNotMatch(text, /fine .*cut off/);
  });

  it('says per partner whether its files held here are exactly what it signed, and how many devices are verified', () => {
    const text = formatStatus(
      report({
        verified: { owners: 4, verified: 1 },
        partners: [
          partner({ name: 'good', verified: { state: 'verified', since: NOW - 120_000, rows: 12, sealedRows: 12 } }),
          partner({ name: 'forged', cutOffUntil: NOW + 60_000, verified: { state: 'mismatch', since: null, rows: 3, sealedRows: 4 } }),
          partner({ name: 'slow', verified: { state: 'behind', since: null, rows: 1, sealedRows: 5 } }),
          partner({ name: 'unsigned', verified: { state: 'unproven', since: null, rows: 2, sealedRows: null } }),
          partner({ name: 'new', verified: { state: 'none', since: null, rows: 0, sealedRows: null } }),
          partner({ name: 'older' }),
        ],
      }),
      NOW,
    );
    const lines = text.split('\n');
    const line = (name: string) => lines.find((l) => l.startsWith(`    ${name} `)) ?? assert.fail(`no line for ${name}:\n${text}`);
    assert.match(line('good'), /: offline, last seen .*, files verified since 2026-01-31T11:58:00\.000Z \(2 min ago\)$/);
    assert.match(line('forged'), /, cut off for sending bad records until .*, files do NOT match what it signed \(3 rows held here, it signed 4: forged or missing rows, being repaired\)$/);
    assert.match(line('slow'), /, files not verified yet \(catching up: it signed 5 rows, 1 held here\)$/);
    assert.match(line('unsigned'), /, files not verified \(unproven: no signature of it covers the 2 rows held here yet\)$/);
    assert.match(line('new'), /, none of its files here yet$/);
    assert.doesNotMatch(line('older'), /files|undefined/, 'an older service says nothing of it: nothing said');
    assert.match(text, /\n {2}verified: the files of 1 of 4 other device\(s\) held here are exactly what each signed\n/);
    assert.doesNotMatch(formatStatus(report({ partners: [partner({})] }), NOW), /verified/, 'no summary from an older service');
  });

  it('takes --prune-absent-after as a positive number of days; anything else is a usage error', () => {
    assert.equal(parseDaysOption('prune-absent-after', undefined), undefined);
    assert.equal(parseDaysOption('prune-absent-after', '30'), 30 * DAY_MS);
    assert.equal(parseDaysOption('prune-absent-after', '0.5'), DAY_MS / 2);
    for (const bad of ['0', '-3', 'soon', '', ' ', 'Infinity', 'NaN', '1e400']) {
      assert.throws(
        () => parseDaysOption('prune-absent-after', bad),
        (e: Error & { code?: string }) => e.code === 'ERR_USAGE' && e.message === `--prune-absent-after takes a number of days above 0 (e.g. 30), not "${bad}"`,
        bad,
      );
    }
    assert.equal(formatDays(30 * DAY_MS), '30 days');
    assert.equal(formatDays(DAY_MS), '1 day');
    assert.equal(formatDays(DAY_MS / 2), '0.5 days');
  });
});
