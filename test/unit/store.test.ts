import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  Store,
  StoreClosedError,
  StoreFailedError,
  StoreVersionError,
  TransactionError,
  type SqlValue,
} from '../../src/store';
import { TempDirs, countRows, insertMany, journalFiles, journalRecordsEnd, openStore } from '../support/store-helpers';

const VALUES: Array<[number | null, number | null, string | null, Uint8Array | null]> = [
  [0, 0.5, '', new Uint8Array(0)],
  [1, -0.1, 'héllo wörld', new Uint8Array([0, 1, 2, 255])],
  [-1, 1e300, '🌍 中文 ✓ \u0000 nul inside', new Uint8Array(1000).map((_, i) => (i * 7) & 0xff)],
  [2 ** 31, Math.PI, 'x'.repeat(10000), null],
  [-(2 ** 31) - 1, -Number.MAX_VALUE, null, new Uint8Array([42])],
  [2 ** 53 - 1, Number.MIN_VALUE, 'max safe', null],
  [-(2 ** 53 - 1), 1 / 3, 'min safe', null],
  [2 ** 40 + 3, 123456789.123456, 'big', null],
  [null, null, null, null],
];

function insertValues(store: Store): Promise<void> {
  return store.transaction((w) => {
    for (const [i, f, t, b] of VALUES) w.run('INSERT INTO v(i, f, t, b, n) VALUES (?, ?, ?, ?, ?)', [i, f, t, b, i]);
  });
}

function checkValues(store: Store): void {
  const rows = store.read((r) => r.all('SELECT i, f, t, b, n, typeof(i) AS ti FROM v ORDER BY id'));
  assert.equal(rows.length, VALUES.length);
  rows.forEach((row, k) => {
    const [i, f, t, b] = VALUES[k];
    assert.equal(row.i, i, `row ${k} i`);
    assert.equal(row.n, i, `row ${k} n`);
    assert.equal(row.ti, i === null ? 'null' : 'integer', `row ${k} integer storage`);
    assert.ok(Object.is(row.f, f), `row ${k} f: ${String(row.f)} vs ${String(f)}`);
    assert.equal(row.t, t, `row ${k} t`);
    if (b === null) assert.equal(row.b, null);
    else assert.deepEqual(Array.from(row.b as Uint8Array), Array.from(b), `row ${k} b`);
  });
  // exact comparisons on big integers
  assert.equal(store.read((r) => r.value('SELECT count(*) FROM v WHERE i = ?', [2 ** 53 - 1])), 1);
  assert.equal(store.read((r) => r.value('SELECT i FROM v WHERE i = 9007199254740991')), 2 ** 53 - 1);
  assert.equal(store.read((r) => r.value('SELECT i + 0 FROM v WHERE i = ?', [2 ** 40 + 3])), 2 ** 40 + 3);
}

describe('store: basics', function () {
  const tmp = new TempDirs();
  after(() => tmp.cleanup());

  it('round-trips values and survives reopen (journal only)', async () => {
    const dir = tmp.make();
    let { store } = await openStore(dir);
    await insertValues(store);
    checkValues(store);
    await store.closeWithoutSnapshot();
    assert.ok(!fs.existsSync(`${dir}/snapshot.db`));
    ({ store } = await openStore(dir));
    checkValues(store);
    await store.close();
  });

  it('survives reopen with a snapshot, then more commits', async () => {
    const dir = tmp.make();
    let { store } = await openStore(dir);
    await insertValues(store);
    await store.close(); // final snapshot
    assert.ok(fs.existsSync(`${dir}/snapshot.db`));
    ({ store } = await openStore(dir));
    checkValues(store);
    const seq = store.seq;
    await store.snapshot();
    await insertMany(store, 5, 100);
    assert.equal(store.seq, seq + 5);
    await store.closeWithoutSnapshot();
    ({ store } = await openStore(dir));
    assert.equal(store.seq, seq + 5);
    assert.equal(countRows(store), VALUES.length + 5);
    assert.equal(store.read((r) => r.value('SELECT t FROM v WHERE i = 104')), 'row 104');
    await store.close();
  });

  it('reader API shapes', async () => {
    const { store } = await openStore(tmp.make());
    await insertMany(store, 3);
    store.read((r) => {
      assert.deepEqual(r.get('SELECT i, t FROM v WHERE i = ?', [1]), { i: 1, t: 'row 1' });
      assert.equal(r.get('SELECT i FROM v WHERE i = ?', [99]), undefined);
      assert.deepEqual(r.all('SELECT i FROM v ORDER BY i'), [{ i: 0 }, { i: 1 }, { i: 2 }]);
      assert.deepEqual(r.rows('SELECT i, t FROM v ORDER BY i DESC'), [
        [2, 'row 2'],
        [1, 'row 1'],
        [0, 'row 0'],
      ]);
      assert.equal(r.value('SELECT max(i) FROM v'), 2);
      assert.equal(r.value('SELECT i FROM v WHERE 0'), undefined);
      assert.equal(r.value('SELECT NULL'), null);
    });
    const changed = await store.transaction((w) => w.run('UPDATE v SET t = ? WHERE i >= ?', ['x', 1]));
    assert.equal(changed, 2);
    await store.close();
  });

  it('sees its own writes immediately; seq increments per committed transaction', async () => {
    const { store } = await openStore(tmp.make());
    const seq0 = store.seq;
    const p = store.transaction((w) => {
      w.run('INSERT INTO v(i) VALUES (1)');
      return w.value('SELECT count(*) FROM v');
    });
    assert.equal(countRows(store), 1); // before the promise resolves
    assert.equal(store.seq, seq0 + 1);
    assert.equal(await p, 1);
    // read-only transaction: no journal record, seq unchanged
    const records = store.stats().journalRecords;
    assert.equal(await store.transaction((w) => w.value('SELECT count(*) FROM v')), 1);
    assert.equal(store.seq, seq0 + 1);
    assert.equal(store.stats().journalRecords, records);
    await store.close();
  });

  it('rolls back on throw: nothing visible, nothing journaled, seq unchanged', async () => {
    const dir = tmp.make();
    let { store } = await openStore(dir);
    await insertMany(store, 2);
    const seq = store.seq;
    const stats = store.stats();
    const size = journalRecordsEnd(journalFiles(dir).at(-1)!);
    const boom = new Error('boom');
    await assert.rejects(
      store.transaction((w) => {
        w.run('INSERT INTO v(i) VALUES (100)');
        w.run('UPDATE v SET t = NULL');
        throw boom;
      }),
      (e) => e === boom,
    );
    assert.equal(countRows(store), 2);
    assert.equal(store.read((r) => r.value('SELECT count(*) FROM v WHERE t IS NULL')), 0);
    assert.equal(store.seq, seq);
    assert.equal(store.stats().journalRecords, stats.journalRecords);
    assert.equal(journalRecordsEnd(journalFiles(dir).at(-1)!), size);
    // SQL error inside the callback: same
    await assert.rejects(
      store.transaction((w) => {
        w.run('INSERT INTO v(i) VALUES (101)');
        w.run('INSERT INTO nope VALUES (1)');
      }),
      /no such table/,
    );
    assert.equal(countRows(store), 2);
    assert.equal(store.seq, seq);
    // a caught statement error does not prevent the commit; the failed statement is not journaled
    await store.transaction((w) => {
      w.run('INSERT INTO v(id, i) VALUES (1000, 1)');
      assert.throws(() => w.run('INSERT INTO v(id, i) VALUES (1000, 2)'), /UNIQUE/);
    });
    assert.equal(store.seq, seq + 1);
    await store.closeWithoutSnapshot();
    ({ store } = await openStore(dir));
    assert.equal(countRows(store), 3);
    assert.equal(store.read((r) => r.value('SELECT i FROM v WHERE id = 1000')), 1);
    await store.close();
  });

  it('journals writes made through get()/value() (INSERT ... RETURNING)', async () => {
    const dir = tmp.make();
    let { store } = await openStore(dir);
    const id = await store.transaction((w) => w.value('INSERT INTO v(i) VALUES (?) RETURNING id', [7]));
    assert.equal(typeof id, 'number');
    await store.closeWithoutSnapshot();
    ({ store } = await openStore(dir));
    assert.equal(store.read((r) => r.value('SELECT i FROM v WHERE id = ?', [id as SqlValue])), 7);
    await store.close();
  });

  it('refuses misuse with TransactionError', async () => {
    const { store } = await openStore(tmp.make());
    // nested transaction
    await assert.rejects(
      store.transaction(() => {
        void store.transaction((w) => w.run('INSERT INTO v(i) VALUES (1)'));
      }),
      TransactionError,
    );
    // async callback
    await assert.rejects(
      store.transaction(async (w) => {
        w.run('INSERT INTO v(i) VALUES (2)');
      }),
      TransactionError,
    );
    assert.equal(countRows(store), 0);
    // handle used after its callback
    let escaped: import('../../src/store').Writer | undefined;
    await store.transaction((w) => {
      escaped = w;
    });
    assert.throws(() => escaped!.run('INSERT INTO v(i) VALUES (3)'), TransactionError);
    // writes through read()
    assert.throws(() => store.read((r) => r.get('INSERT INTO v(i) VALUES (4) RETURNING id')), TransactionError);
    assert.throws(() => store.read((r) => r.all('DELETE FROM v')), TransactionError);
    // manual transaction control
    await assert.rejects(store.transaction((w) => w.run('COMMIT')), TransactionError);
    // several statements in one call
    await assert.rejects(
      store.transaction((w) => w.run('INSERT INTO v(i) VALUES (5); INSERT INTO v(i) VALUES (6)')),
      TypeError,
    );
    // bad parameter type
    await assert.rejects(
      store.transaction((w) => w.run('INSERT INTO v(i) VALUES (?)', [true as unknown as number])),
      TypeError,
    );
    assert.equal(countRows(store), 0);
    // the store is still usable
    await store.transaction((w) => w.run('INSERT INTO v(i) VALUES (7)'));
    assert.equal(countRows(store), 1);
    await store.close();
    await store.close(); // idempotent
    await assert.rejects(store.transaction(() => undefined), StoreClosedError);
    assert.throws(() => store.read(() => 1), StoreClosedError);
  });

  it('group commit: 200 concurrent transactions, fewer fdatasyncs, all durable', async () => {
    const dir = tmp.make();
    let { store } = await openStore(dir);
    const before = store.stats();
    const ps: Promise<number>[] = [];
    for (let k = 0; k < 200; k++) ps.push(store.transaction((w) => w.run('INSERT INTO v(i) VALUES (?)', [k])));
    const res = await Promise.all(ps);
    assert.deepEqual(res, new Array(200).fill(1));
    const after = store.stats();
    assert.equal(after.journalRecords - before.journalRecords, 200);
    const syncs = after.journalSyncs - before.journalSyncs;
    assert.ok(syncs >= 1 && syncs < 200, `syncs ${syncs}`);
    await store.closeWithoutSnapshot();
    ({ store } = await openStore(dir));
    assert.equal(countRows(store), 200);
    assert.equal(store.read((r) => r.value('SELECT sum(i) FROM v')), (199 * 200) / 2);
    await store.close();
  });

  it('after a journal write failure refuses writes with StoreFailedError; acknowledged data survives', async () => {
    const dir = tmp.make();
    let { store, events } = await openStore(dir);
    await insertMany(store, 3);
    const j = store.journalForTesting;
    j.io = { ...j.io, fdatasync: (_fd, cb) => setImmediate(() => cb(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }))) };
    await assert.rejects(store.transaction((w) => w.run('INSERT INTO v(i) VALUES (99)')), StoreFailedError);
    await assert.rejects(store.transaction((w) => w.run('INSERT INTO v(i) VALUES (100)')), StoreFailedError);
    assert.ok(events.some((e) => e.type === 'journal-failed'));
    await assert.rejects(store.snapshot(), StoreFailedError);
    await store.close();
    assert.ok(!fs.existsSync(`${dir}/snapshot.db`), 'no snapshot of possibly unjournaled state');
    ({ store } = await openStore(dir));
    const n = countRows(store);
    assert.ok(n === 3 || n === 4, `rows ${n}`); // the failed record may or may not have reached the disk
    await store.close();
  });
});

describe('store: migrations', function () {
  const tmp = new TempDirs();
  after(() => tmp.cleanup());

  const m1 = { version: 1, name: 'one', statements: ['CREATE TABLE a(x INTEGER)', 'CREATE INDEX a_x ON a(x)'] };
  const m2 = { version: 2, name: 'two', statements: ['ALTER TABLE a ADD COLUMN y TEXT', "INSERT INTO a(x, y) VALUES (1, 'm2')"] };

  it('applies once, records, upgrades, refuses newer databases', async () => {
    const dir = tmp.make();
    let events: string[] = [];
    const onEvent = (e: { type: string }): void => void events.push(e.type);
    let store = await Store.open({ dir, migrations: [m1], onEvent });
    assert.deepEqual(events.filter((e) => e === 'migration'), ['migration']);
    assert.deepEqual(
      store.read((r) => r.rows('SELECT version, name FROM _migrations')),
      [[1, 'one']],
    );
    await store.closeWithoutSnapshot();

    events = [];
    store = await Store.open({ dir, migrations: [m1], onEvent });
    assert.equal(events.filter((e) => e === 'migration').length, 0, 'not applied twice');
    await store.close();

    store = await Store.open({ dir, migrations: [m2, m1], onEvent });
    assert.deepEqual(
      store.read((r) => r.rows('SELECT version, name FROM _migrations ORDER BY version')),
      [
        [1, 'one'],
        [2, 'two'],
      ],
    );
    assert.equal(store.read((r) => r.value('SELECT y FROM a WHERE x = 1')), 'm2');
    const applied = store.read((r) => r.value('SELECT applied_at FROM _migrations WHERE version = 2'));
    await store.closeWithoutSnapshot();

    store = await Store.open({ dir, migrations: [m1, m2] });
    assert.equal(store.read((r) => r.value('SELECT applied_at FROM _migrations WHERE version = 2')), applied);
    await store.close();

    await assert.rejects(Store.open({ dir, migrations: [m1] }), (e: unknown) => {
      assert.ok(e instanceof StoreVersionError);
      assert.equal(e.dbVersion, 2);
      assert.equal(e.knownVersion, 1);
      assert.match(e.message, /version 2/);
      return true;
    });
    // the failed open released the lock and changed nothing
    store = await Store.open({ dir, migrations: [m1, m2] });
    await store.close();
  });

  it('a failing migration fails open and leaves nothing behind', async () => {
    const dir = tmp.make();
    const bad = { version: 2, name: 'bad', statements: ['CREATE TABLE b(x)', 'INSERT INTO missing VALUES (1)'] };
    await assert.rejects(Store.open({ dir, migrations: [m1, bad] }), /migration 2 "bad" failed: no such table/);
    const store = await Store.open({ dir, migrations: [m1] });
    assert.equal(store.read((r) => r.value("SELECT count(*) FROM sqlite_master WHERE name = 'b'")), 0);
    await store.close();
  });
});
