/**
 * Property: for every model, any permutation and duplication of a set of
 * changes (creates, updates, deletes, from several origins) applied to fresh
 * replicas yields identical contents; no delete resurrects unless a later
 * create re-creates; concurrent edits of different fields both survive.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { idKey, newId } from '../../src/core/ids';
import { computeOwnerStates } from '../../src/models/owner-state';
import { Library } from '../../src/engine/library';
import { Random } from '../support/random';
import { cleanupTempDirs, tempDir } from '../support/tmp';
import { expectedFields, expectedLiveness } from '../support/oracle';
import { collect, runWorkload, type Collected } from '../support/workload';

async function sources(seed: number, steps: number, libraryId: Uint8Array): Promise<Collected[]> {
  const dir = tempDir();
  const first = await Library.create({ dataDir: `${dir}/a`, name: 'p', libraryId });
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

/** Owner states as kept, or (`computed`) as the rows say, in a canonical order. */
function ownerStates(lib: Library, computed = false): string[] {
  const states = computed ? lib.read((r) => computeOwnerStates(r, lib.registry.deviceOwned)) : lib.ownerStates();
  return states.map((s) => `${idKey(s.owner)} ${s.model} rows=${s.rows} live=${s.live} newest=${s.newest ? idKey(s.newest) : '-'} sum=${idKey(s.sum)}`).sort();
}

async function applyAll(lib: Library, ops: readonly Collected[]): Promise<void> {
  for (const op of ops) {
    const r = op.kind === 'state' ? await lib.applyState(op.model, [op.record]) : await lib.applyShared([op.change]);
    assert.equal(r.rejected.length, 0, r.rejected.map((x) => x.error.message).join('; '));
  }
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
        // Changes are signed for one library: the replicas are copies of it.
        const libraryId = newId();
        const ops = await sources(seed, steps, libraryId);
        const device = newId();
        const inOrder = await replica(device, libraryId);
        const shuffled = await replica(device, libraryId);
        try {
          await applyAll(inOrder, ops);
          const rnd = new Random(seed ^ 0x5bd1e995);
          const permuted = rnd.shuffle([...ops, ...ops.filter(() => rnd.chance(0.3))]);
          await applyAll(shuffled, permuted);
          assert.equal(shuffled.parkedCount(), 0, 'nothing left parked once every parent arrived');
          assert.equal(shuffled.digest(), inOrder.digest(), `seed ${seed}, ${steps} steps: replicas differ`);
          // What each replica keeps of every owner's rows (counts, newest, sum) is what its rows say, and the same on both.
          for (const lib of [inOrder, shuffled]) assert.deepEqual(ownerStates(lib), ownerStates(lib, true), `seed ${seed}: kept owner states drifted from the rows`);
          assert.deepEqual(ownerStates(shuffled), ownerStates(inOrder), `seed ${seed}: owner states differ between replicas`);
          for (const lib of [inOrder, shuffled]) {
            const computed = lib.read((r) => lib.registry.shared.map((m) => m.computeState(r)).filter((st) => st.rows > 0));
            assert.deepEqual(lib.sharedStates(), computed.sort((a, b) => (a.model < b.model ? -1 : 1)), `seed ${seed}: kept shared states drifted from the rows`);
          }
          assert.deepEqual(shuffled.sharedStates(), inOrder.sharedStates(), `seed ${seed}: shared states differ between replicas`);

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
