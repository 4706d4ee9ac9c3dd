import assert from 'node:assert/strict';
import { Cluster } from '../sim/cluster';
import { Random } from '../support/random';
import { cleanupTempDirs } from '../support/tmp';
import { runWorkload } from '../support/workload';

describe('peer sync over the simulated network', function () {
  this.timeout(120_000);
  after(cleanupTempDirs);

  it('two devices exchange live changes both ways and converge', async () => {
    const c = new Cluster(1);
    try {
      const [a, b] = [await c.add('a'), await c.add('b')];
      await c.connectAll();
      await c.run(50);
      assert.equal(a.sync.state, 'ready');
      const [tag] = await a.library.commitShared([{ model: 'tag', op: 'create', data: { name: 'todo', color: null, icon: null, description: null, namespace: null } }]);
      await c.run(20);
      assert.equal(b.library.counts().tag, 1, 'the tag arrived live');
      await b.library.commitShared([{ model: 'user_metadata', op: 'create', data: { workspace_key: 'k', path: 'a.ts', note: 'hi' } }]);
      await b.library.commitShared([{ model: 'tag_assignment', op: 'create', data: { tag: tag.uuid, workspace_key: 'k', path: 'a.ts' } }]);
      await c.run(20);
      assert.equal(a.library.counts().user_metadata, 1);
      assert.equal(a.library.counts().tag_assignment, 1);
      const [d1, d2] = c.digests();
      assert.equal(d1, d2);
      assert.deepEqual([a.errors, b.errors], [[], []]);
    } finally {
      await c.close();
    }
  });

  it('three devices converge under drops, duplicates, reordering, a partition and a restart', async () => {
    for (const seed of [11, 12, 13]) {
      const c = new Cluster(seed, { antiEntropyMs: 2000, requestTimeoutMs: 1000 });
      try {
        const nodes = [await c.add('a'), await c.add('b'), await c.add('c')];
        await c.connectAll();
        await c.run(50);
        c.net.faults = { drop: 0.1, duplicate: 0.1, delayMs: 1, jitterMs: 15 };
        const rnd = new Random(seed);
        for (let round = 0; round < 6; round++) {
          await runWorkload(nodes.map((n) => n.library), rnd, 8, { pull: false });
          await c.run(30);
          if (round === 2) c.net.partition([nodes[0].library.deviceId], [nodes[1].library.deviceId, nodes[2].library.deviceId]);
          if (round === 3) await c.restart(nodes[1]);
          if (round === 4) c.net.heal();
        }
        c.net.faults = { drop: 0, duplicate: 0, delayMs: 1, jitterMs: 0 };
        c.net.heal();
        await c.run(5000); // reconnects, catch-ups and an anti-entropy round
        const digests = c.digests();
        assert.ok(digests.every((d) => d === digests[0]), `seed ${seed}: replicas differ after healing`);
        assert.ok(nodes.every((n) => n.library.counts().tag + n.library.counts().entry > 0), 'the workload did something');
      } finally {
        await c.close();
      }
    }
  });

  it('a congested link does not queue live changes without bound: the partner catches up once it drains', async () => {
    const c = new Cluster(14);
    try {
      const [a, b] = [await c.add('a'), await c.add('b')];
      await c.connectAll();
      await c.run(50);
      c.net.faults = { drop: 0, duplicate: 0, delayMs: 200, jitterMs: 0 }; // a slow partner: frames pile up in flight
      const sent = c.net.stats.sent;
      for (let i = 0; i < 600; i++) await a.library.commitShared([{ model: 'tag', op: 'create', data: { name: `t${i}`, color: null, icon: null, description: null, namespace: null } }]);
      const live = c.net.stats.sent - sent;
      assert.ok(live < 400, `changes stopped going out one frame each once the link was congested (${live} frames for 600 commits)`);
      await c.run(3000);
      assert.equal(b.library.counts().tag, 600, 'all of them arrived through catch-up');
      const [d1, d2] = c.digests();
      assert.equal(d1, d2);
    } finally {
      await c.close();
    }
  });
});
