import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StoreCorruptError, type StoreEvent } from '../../src/store';
import { scanJournal } from '../../src/store/journal';
import { writeSnapshotTemp } from '../../src/store/snapshot';
import { TempDirs, countRows, insertMany, journalFiles, openStore, tornFiles } from '../support/store-helpers';

/** Offsets and lengths of the records of a journal file, and where they end. */
function frames(file: string): Array<{ offset: number; length: number }> {
  const scan = scanJournal(fs.readFileSync(file), file);
  assert.equal(scan.torn, undefined);
  return scan.frames;
}

function recordsEnd(file: string): number {
  return scanJournal(fs.readFileSync(file), file).end;
}

function writeAt(file: string, at: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, at);
  fs.closeSync(fd);
}

function trimZeros(b: Buffer): Buffer {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.subarray(0, end);
}

/** A directory with 10 one-row transactions in the journal and no snapshot. */
async function journalOnly(tmp: TempDirs, n = 10): Promise<{ dir: string; journal: string }> {
  const dir = tmp.make();
  const { store } = await openStore(dir);
  await insertMany(store, n);
  await store.closeWithoutSnapshot();
  const js = journalFiles(dir);
  assert.equal(js.length, 1);
  assert.ok(!fs.existsSync(path.join(dir, 'snapshot.db')));
  return { dir, journal: js[0] };
}

async function expectCorrupt(dir: string, file: string, re?: RegExp): Promise<StoreCorruptError> {
  const before = fs.readFileSync(file);
  const listing = fs.readdirSync(dir).sort();
  let caught: StoreCorruptError | undefined;
  await assert.rejects(openStore(dir), (e: unknown) => {
    assert.ok(e instanceof StoreCorruptError, `expected StoreCorruptError, got ${String(e)}`);
    assert.equal(e.file, file);
    assert.ok(e.message.includes(file), e.message);
    assert.match(e.message, /left untouched/);
    if (re) assert.match(e.message, re);
    caught = e;
    return true;
  });
  assert.ok(before.equals(fs.readFileSync(file)), 'file unchanged');
  assert.deepEqual(fs.readdirSync(dir).sort(), listing, 'no file created or deleted');
  return caught!;
}

describe('store: journal recovery', function () {
  const tmp = new TempDirs();
  after(() => tmp.cleanup());

  it('recovers from garbage written after the last record, keeping it aside', async () => {
    const { dir, journal } = await journalOnly(tmp);
    const end = recordsEnd(journal);
    assert.ok(fs.statSync(journal).size > end, 'journal space is preallocated');
    const garbage = Buffer.from('this is not a journal record, just garbage from a torn write');
    writeAt(journal, end, garbage);
    const { store, events } = await openStore(dir);
    assert.equal(countRows(store), 10);
    const torn = tornFiles(dir);
    assert.equal(torn.length, 1);
    assert.ok(fs.readFileSync(torn[0]).equals(garbage), 'torn bytes kept aside');
    const ev = events.find((e) => e.type === 'torn-tail') as Extract<StoreEvent, { type: 'torn-tail' }>;
    assert.ok(ev);
    assert.equal(ev.file, journal);
    assert.equal(ev.offset, end);
    assert.equal(ev.bytes, garbage.length);
    assert.equal(ev.keptAt, torn[0]);
    assert.equal(recordsEnd(journal), end);
    // and the store keeps working on the same journal
    await insertMany(store, 2, 100);
    await store.closeWithoutSnapshot();
    const again = await openStore(dir);
    assert.equal(countRows(again.store), 12);
    assert.ok(!again.events.some((e) => e.type === 'torn-tail'));
    await again.store.close();
  });

  it('recovers from garbage appended after the preallocated space', async () => {
    const { dir, journal } = await journalOnly(tmp);
    const end = recordsEnd(journal);
    const physical = fs.statSync(journal).size;
    fs.appendFileSync(journal, Buffer.from('garbage'));
    const { store } = await openStore(dir);
    assert.equal(countRows(store), 10);
    assert.equal(fs.statSync(journal).size, end, 'truncated after the last record');
    const kept = fs.readFileSync(tornFiles(dir)[0]);
    assert.equal(kept.length, physical - end + 7);
    assert.ok(kept.subarray(kept.length - 7).equals(Buffer.from('garbage')));
    await store.close();
  });

  it('recovers from a last record cut in the middle (and from zeros after it)', async () => {
    const { dir, journal } = await journalOnly(tmp);
    const fr = frames(journal);
    const last = fr[fr.length - 1];
    const full = fs.readFileSync(journal);
    const cut = last.offset + Math.floor(last.length / 2);
    fs.truncateSync(journal, cut);
    fs.appendFileSync(journal, Buffer.alloc(37)); // zero-filled tail, as after a power loss
    const { store, events } = await openStore(dir);
    assert.equal(countRows(store), 9);
    assert.equal(store.seq, fr.length - 1);
    assert.equal(fs.statSync(journal).size, last.offset);
    const torn = tornFiles(dir);
    assert.equal(torn.length, 1);
    assert.ok(fs.readFileSync(torn[0]).equals(trimZeros(full.subarray(last.offset, cut))));
    assert.ok(events.some((e) => e.type === 'torn-tail'));
    await store.close();
  });

  it('treats zeros after the last record as a clean end', async () => {
    const { dir, journal } = await journalOnly(tmp);
    const { store, events } = await openStore(dir);
    assert.equal(countRows(store), 10);
    assert.ok(!events.some((e) => e.type === 'torn-tail'));
    assert.deepEqual(tornFiles(dir), []);
    await store.close();
    void journal;
  });

  it('recovers from a record cut inside its header', async () => {
    const { dir, journal } = await journalOnly(tmp, 3);
    const fr = frames(journal);
    fs.truncateSync(journal, fr[fr.length - 1].offset + 5);
    const { store } = await openStore(dir);
    assert.equal(countRows(store), 2);
    await store.close();
  });

  it('refuses a damaged record followed by valid ones (StoreCorruptError, file untouched)', async () => {
    const { dir, journal } = await journalOnly(tmp);
    const fr = frames(journal);
    const buf = fs.readFileSync(journal);
    const victim = fr[4];
    buf[victim.offset + victim.length - 3] ^= 0x55; // flip a payload byte
    fs.writeFileSync(journal, buf);
    const e = await expectCorrupt(dir, journal, /followed by a valid record/);
    assert.equal(e.offset, victim.offset);
    assert.match(e.message, new RegExp(`offset ${victim.offset}`));
  });

  it('refuses a middle record whose length field was damaged', async () => {
    const { dir, journal } = await journalOnly(tmp);
    const fr = frames(journal);
    const buf = fs.readFileSync(journal);
    buf.writeUInt32LE(buf.length * 2, fr[3].offset + 8); // "extends past end of file"
    fs.writeFileSync(journal, buf);
    await expectCorrupt(dir, journal);
  });

  it('refuses a damaged record at the end of an older generation', async () => {
    const { dir, journal } = await journalOnly(tmp);
    const fr = frames(journal);
    const buf = fs.readFileSync(journal);
    // split into generation 1 (records 1..5, last one damaged) and generation 2 (records 6..10)
    const split = fr[5].offset;
    const gen1 = Buffer.from(buf.subarray(0, split));
    gen1[fr[4].offset + fr[4].length - 1] ^= 0xff;
    fs.writeFileSync(journal, gen1);
    const gen2 = path.join(dir, 'journal-00000002.log');
    fs.writeFileSync(gen2, buf.subarray(split));
    assert.deepEqual(journalFiles(dir), [journal, gen2]);
    await expectCorrupt(dir, journal, /followed by a newer one/);
  });

  it('refuses a gap in sequence numbers', async () => {
    const { dir, journal } = await journalOnly(tmp);
    const fr = frames(journal);
    const buf = fs.readFileSync(journal);
    // drop record 5 entirely
    fs.writeFileSync(journal, Buffer.concat([buf.subarray(0, fr[4].offset), buf.subarray(fr[5].offset)]));
    await expectCorrupt(dir, journal, /seq 6 where 5 was expected/);
  });
});

describe('store: snapshots', function () {
  const tmp = new TempDirs();
  after(() => tmp.cleanup());

  async function withSnapshot(): Promise<{ dir: string; snap: string }> {
    const dir = tmp.make();
    const { store } = await openStore(dir);
    await insertMany(store, 20);
    await store.close();
    const snap = path.join(dir, 'snapshot.db');
    assert.ok(fs.existsSync(snap));
    return { dir, snap };
  }

  it('refuses a snapshot with a flipped data byte', async () => {
    const { dir, snap } = await withSnapshot();
    const buf = fs.readFileSync(snap);
    buf[buf.length - 100] ^= 0x01;
    fs.writeFileSync(snap, buf);
    await expectCorrupt(dir, snap, /checksum/);
  });

  it('refuses a snapshot with a flipped header byte, bad magic or truncated', async () => {
    const { dir, snap } = await withSnapshot();
    const good = fs.readFileSync(snap);
    const flipped = Buffer.from(good);
    flipped[17] ^= 0x01; // seq
    fs.writeFileSync(snap, flipped);
    await expectCorrupt(dir, snap, /header checksum/);
    const magic = Buffer.from(good);
    magic[0] = 0x58;
    fs.writeFileSync(snap, magic);
    await expectCorrupt(dir, snap, /magic/);
    fs.writeFileSync(snap, good.subarray(0, good.length - 4096));
    await expectCorrupt(dir, snap, /announces/);
    fs.writeFileSync(snap, good);
    const { store } = await openStore(dir);
    assert.equal(countRows(store), 20);
    await store.close();
  });

  it('refuses a snapshot whose checksums are fine but SQLite cannot read', async () => {
    const { dir, snap } = await withSnapshot();
    const { tmp: t } = await writeSnapshotTemp(dir, 21, () => Buffer.alloc(8192, 0x41));
    fs.renameSync(t, snap);
    await expectCorrupt(dir, snap, /SQLite/);
  });

  it('snapshots automatically while commits keep going; old generations are deleted', async () => {
    const dir = tmp.make();
    const snaps: Array<Extract<StoreEvent, { type: 'snapshot' }>> = [];
    let { store } = await openStore(dir, {
      snapshotJournalBytes: 8 * 1024,
      onEvent: (e) => {
        if (e.type === 'snapshot') snaps.push(e);
      },
    });
    let k = 0;
    for (let round = 0; round < 30; round++) {
      const ps: Promise<unknown>[] = [];
      for (let i = 0; i < 20; i++, k++) {
        ps.push(store.transaction((w) => w.run('INSERT INTO v(i, t) VALUES (?, ?)', [k, 'x'.repeat(100)])));
      }
      await insertMany(store, 1, 100000 + round);
      await Promise.all(ps);
      k++;
    }
    const total = k;
    assert.ok(snaps.length >= 2, `snapshots taken: ${snaps.length}`);
    assert.ok(store.stats().snapshots >= 2);
    // at most the current generation and one being retired
    assert.ok(journalFiles(dir).length <= 2, journalFiles(dir).join(','));
    await store.closeWithoutSnapshot();
    assert.equal(journalFiles(dir).length, 1);
    ({ store } = await openStore(dir));
    assert.equal(countRows(store), total);
    assert.equal(store.read((r) => r.value('SELECT count(DISTINCT i) FROM v')), total);
    await store.close();
  });

  it('a forced snapshot while commits are in flight loses nothing', async () => {
    const dir = tmp.make();
    let { store } = await openStore(dir);
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) ps.push(store.transaction((w) => w.run('INSERT INTO v(i) VALUES (?)', [i])));
    const snap = store.snapshot();
    for (let i = 50; i < 100; i++) ps.push(store.transaction((w) => w.run('INSERT INTO v(i) VALUES (?)', [i])));
    await Promise.all([...ps, snap]);
    for (let i = 100; i < 110; i++) await store.transaction((w) => w.run('INSERT INTO v(i) VALUES (?)', [i]));
    await store.closeWithoutSnapshot();
    ({ store } = await openStore(dir));
    assert.equal(countRows(store), 110);
    assert.equal(store.seq, 1 + 110); // migration + 110
    await store.close();
  });

  it('cleans up temp files of an interrupted snapshot', async () => {
    const { dir } = await withSnapshot();
    fs.writeFileSync(path.join(dir, 'snapshot.db.tmp-123-abc'), 'partial');
    const { store } = await openStore(dir);
    assert.equal(countRows(store), 20);
    assert.ok(!fs.readdirSync(dir).some((n) => n.includes('.tmp-')));
    await store.close();
  });
});
