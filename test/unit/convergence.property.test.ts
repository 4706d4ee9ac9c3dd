/**
 * Property: for every model, any permutation and duplication of a set of
 * changes (creates, updates, deletes, from several origins) applied to fresh
 * replicas yields identical contents; no delete resurrects unless a later
 * create re-creates; concurrent edits of different fields both survive.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareHlc, type Hlc } from '../../src/engine/hlc';
import { idKey, newId } from '../../src/engine/ids';
import { Library } from '../../src/engine/library';
import type { SharedChange, StateRecord } from '../../src/models/model';
import { Random } from '../support/random';
import { cleanupTempDirs, tempDir } from '../support/tmp';
import { collect, runWorkload, type Collected } from '../support/workload';

const FAR_FUTURE = () => 4_000_000_000_000; // replicas never refuse the sources' stamps here

async function sources(seed: number, steps: number): Promise<Collected[]> {
  const dir = tempDir();
  const first = await Library.create({ dataDir: `${dir}/a`, name: 'p' });
  const libs = [first];
  for (const n of ['b', 'c']) libs.push(await Library.create({ dataDir: `${dir}/${n}`, name: 'p', libraryId: first.id, secret: first.secret }));
  const out: Collected[] = [];
  // Device rows written at open are part of the data too.
  for (const lib of libs) {
    const rec = lib.read((r) => lib.registry.deviceOwnedModel('device').get(r, lib.deviceId))!;
    out.push({ kind: 'state', model: 'device', record: rec });
  }
  const stop = collect(libs, out);
  await runWorkload(libs, new Random(seed), steps);
  stop();
  for (const lib of libs) await lib.close();
  return out;
}

async function replica(deviceId: Uint8Array, libraryId: Uint8Array): Promise<Library> {
  return Library.create({ dataDir: tempDir(), name: 'p', deviceId, libraryId, now: () => 1_000, maxClockDriftMs: Number.MAX_SAFE_INTEGER });
}

async function applyAll(lib: Library, ops: readonly Collected[]): Promise<void> {
  for (const op of ops) {
    const r = op.kind === 'state' ? await lib.applyState(op.model, [op.record]) : await lib.applyShared([op.change]);
    assert.equal(r.rejected.length, 0, r.rejected.map((x) => x.error.message).join('; '));
  }
}

/** The expected liveness of every row, computed from the op set alone. */
function expectedLiveness(ops: readonly Collected[]): Map<string, boolean> {
  const state = new Map<string, StateRecord>();
  const created = new Map<string, Hlc>();
  const deleted = new Map<string, Hlc>();
  const max = (m: Map<string, Hlc>, k: string, h: Hlc) => {
    const cur = m.get(k);
    if (!cur || compareHlc(h, cur) > 0) m.set(k, h);
  };
  for (const op of ops) {
    if (op.kind === 'state') {
      const k = `${op.model}:${idKey(op.record.uuid)}`;
      const cur = state.get(k);
      if (!cur || compareHlc(op.record.hlc, cur.hlc) > 0) state.set(k, op.record);
    } else {
      const k = `${op.change.model}:${idKey(op.change.uuid)}`;
      if (op.change.op === 'create') max(created, k, op.change.hlc);
      if (op.change.op === 'delete') max(deleted, k, op.change.hlc);
    }
  }
  const out = new Map<string, boolean>();
  for (const [k, rec] of state) {
    let live = !rec.deleted;
    if (live && k.startsWith('entry:')) {
      // An entry goes with its location when the location is deleted after it was written.
      const loc = state.get(`location:${idKey(rec.data.location as Uint8Array)}`);
      if (loc?.deleted && compareHlc(loc.hlc, rec.hlc) > 0) live = false;
    }
    out.set(k, live);
  }
  for (const [k, c] of created) {
    const d = deleted.get(k);
    out.set(k, !d || compareHlc(c, d) > 0);
  }
  return out;
}

/** Per shared row and field: the value of the change with the newest stamp that set it. */
function expectedFields(ops: readonly Collected[]): Map<string, { hlc: Hlc; value: unknown }> {
  const out = new Map<string, { hlc: Hlc; value: unknown }>();
  for (const op of ops) {
    if (op.kind !== 'shared') continue;
    const ch: SharedChange = op.change;
    for (const [f, v] of Object.entries(ch.data)) {
      const k = `${ch.model}:${idKey(ch.uuid)}:${f}`;
      const cur = out.get(k);
      if (!cur || compareHlc(ch.hlc, cur.hlc) > 0) out.set(k, { hlc: ch.hlc, value: v });
    }
  }
  return out;
}

describe('convergence (property)', function () {
  this.timeout(300_000);
  const stats = { ops: 0, rows: 0, deletes: 0 };
  after(cleanupTempDirs);
  after(() => {
    // Guards against a vacuous property: the workload must really produce rows and deletes.
    assert.ok(stats.ops > 500 && stats.deletes > 20, JSON.stringify(stats));
    if (process.env.SHOW_STATS) console.log(stats);
  });

  it('any permutation and duplication of the changes gives identical replicas', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 10, max: 80 }), async (seed, steps) => {
        const ops = await sources(seed, steps);
        const device = newId();
        const libraryId = newId();
        const inOrder = await replica(device, libraryId);
        const shuffled = await replica(device, libraryId);
        try {
          await applyAll(inOrder, ops);
          const rnd = new Random(seed ^ 0x5bd1e995);
          const permuted = rnd.shuffle([...ops, ...ops.filter(() => rnd.chance(0.3))]);
          await applyAll(shuffled, permuted);
          assert.equal(shuffled.parkedCount(), 0, 'nothing left parked once every parent arrived');
          assert.equal(shuffled.digest(), inOrder.digest(), `seed ${seed}, ${steps} steps: replicas differ`);

          // No resurrection, and deletes hold: liveness is exactly what the op set implies.
          let checked = 0;
          for (const [k, live] of expectedLiveness(ops)) {
            const [model, key] = k.split(':');
            const m = shuffled.registry.get(model);
            const uuid = Uint8Array.from(Buffer.from(key, 'hex'));
            const got = shuffled.read((r) => {
              if (m.kind === 'shared') return !!m.get(r, uuid)?.live;
              const rec = m.get(r, uuid);
              return !!rec && !rec.deleted;
            });
            assert.equal(got, live, `seed ${seed}: ${k} live=${got} expected ${live}`);
            checked++;
          }
          stats.rows += checked;
          stats.ops += ops.length;
          stats.deletes += ops.filter((o) => (o.kind === 'shared' ? o.change.op === 'delete' : o.record.deleted)).length;
          // Per-field last writer wins.
          for (const [k, exp] of expectedFields(ops)) {
            const [model, key, field] = k.split(':');
            const row = shuffled.read((r) => shuffled.registry.sharedModel(model).get(r, Uint8Array.from(Buffer.from(key, 'hex'))));
            assert.ok(row, `seed ${seed}: ${model} row missing`);
            assert.deepEqual(row.data[field], exp.value, `seed ${seed}: ${k}`);
          }
        } finally {
          await inOrder.close();
          await shuffled.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
