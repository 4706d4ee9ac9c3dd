/**
 * Peer sync behaviour at the session level, over the simulated network on
 * its virtual clock: the state machine, dead-link detection, the bounded
 * buffer of live changes during catch-up, and a paired peer that sends
 * garbage.
 */
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../../src/protocol';
import type { Link } from '../../src/engine/transport';
import { ENTRY_KIND } from '../../src/models/entry';
import type { Library } from '../../src/engine/library';
import { Cluster } from '../sim/cluster';
import { cleanupTempDirs } from '../support/tmp';

const tag = (name: string) => ({ model: 'tag', op: 'create' as const, data: { name, color: null, icon: null, description: null, namespace: null } });

async function addEntries(lib: Library, n: number): Promise<void> {
  const [loc] = await lib.commitDeviceOwned('location', [{ data: { device: lib.deviceId, volume: null, path: '/p', name: 'p', workspace_key: 'ws', entry_count: n, total_bytes: 0 } }]);
  await lib.write((tx) => {
    for (let i = 0; i < n; i++) tx.put('entry', { location: loc.uuid, parent: null, name: `f${i}`, kind: ENTRY_KIND.file, size: i, mtime: 0 });
  });
}

describe('peer sync sessions', function () {
  this.timeout(60_000);
  after(cleanupTempDirs);

  it('goes uninitialized → offline (no partner yet) → backfilling → ready, paused on pause(), catching-up → ready on resume()', async () => {
    const c = new Cluster(201);
    try {
      const [a, b] = [await c.add('a'), await c.add('b')];
      await addEntries(a.library, 50);
      await c.connectAll([b]);
      const states: string[] = [];
      await c.join(b, () => {
        states.push(b.sync.state);
        b.sync.on('state', (s) => states.push(s));
      });
      await c.run(200);
      assert.deepEqual(states, ['offline', 'backfilling', 'ready'], 'started with no link yet: offline; then the first backfill');
      b.sync.pause();
      await c.run(50);
      assert.equal(b.sync.state, 'paused');
      assert.equal(a.sync.readyPeers().length, 0, 'the link is down on both sides');
      await a.library.commitShared([tag('while paused')]);
      b.sync.resume();
      await c.run(200);
      assert.deepEqual(states.slice(3), ['paused', 'offline', 'catching-up', 'ready'], 'after a completed backfill a reconnect is a catch-up');
      assert.equal(b.library.counts().tag, 1);
    } finally {
      await c.close();
    }
  });

  it('a link that goes silent is dropped within deadAfterMs and comes back when the network does', async () => {
    const c = new Cluster(202, { heartbeatMs: 500, deadAfterMs: 2000 });
    try {
      const [a, b] = [await c.add('a'), await c.add('b')];
      await c.connectAll();
      await c.run(100);
      const downAt: number[] = [];
      a.sync.on('peer', (e) => e.up || downAt.push(c.clock.now()));
      const silentFrom = c.clock.now();
      c.net.faults = { drop: 1, duplicate: 0, delayMs: 1, jitterMs: 0 }; // every frame lost, the link still "open"
      await c.run(5000);
      assert.ok(downAt.length >= 1, 'the silent link was closed');
      const detectMs = downAt[0] - silentFrom;
      assert.ok(detectMs > 2000 && detectMs <= 2000 + 500 + 1, `closed ${detectMs} ms (virtual) after it went silent`);
      c.net.faults = { drop: 0, duplicate: 0, delayMs: 1, jitterMs: 0 };
      await b.library.commitShared([tag('after')]);
      // The current link's Hellos were lost too: they are repeated after requestTimeoutMs.
      await c.run(20_000);
      assert.equal(a.sync.readyPeers().length, 1, 'reconnected');
      assert.equal(a.library.counts().tag, 1, 'and caught up');
    } finally {
      await c.close();
    }
  });

  it('live changes beyond the catch-up buffer are not lost: the buffer is dropped and catch-up runs again', async () => {
    // No anti-entropy: only the re-run after an overflow can bring the dropped changes.
    const c = new Cluster(203, { maxBuffered: 5, pageSize: 50, antiEntropyMs: 1e9 });
    try {
      const [a, b] = [await c.add('a'), await c.add('b')];
      await addEntries(a.library, 2000);
      await c.connectAll([b]);
      c.net.faults = { drop: 0, duplicate: 0, delayMs: 5, jitterMs: 0 }; // a slow backfill: 40 pages, 10 ms a round trip
      await c.join(b);
      await c.run(30);
      assert.equal(b.sync.state, 'backfilling');
      for (let i = 0; i < 40; i++) {
        await a.library.commitShared([tag(`live ${i}`)]);
        await c.run(5);
      }
      await c.run(2000);
      assert.equal(b.sync.state, 'ready');
      assert.equal(b.library.counts().tag, 40, 'every live change arrived');
      assert.equal(b.library.counts().entry, 2000);
      assert.equal(a.library.digest(), b.library.digest());
    } finally {
      await c.close();
    }
  });

  it('a paired peer sending garbage gets Errors, is cut off after maxErrors, and the others keep syncing', async () => {
    const c = new Cluster(204, { maxErrors: 5 });
    try {
      const [a, b] = [await c.add('a'), await c.add('b')];
      const rogue = c.newId();
      await a.library.addPartner(rogue, 'rogue'); // paired, then misbehaves
      await c.connectAll();
      const t = c.net.transport(rogue);
      const replies: Uint8Array[] = [];
      let closed = '';
      let links = 0;
      t.on('link', (link: Link) => {
        if (links++ > 0) return link.close('enough'); // one misbehaving session is what this test looks at
        link.on('frame', (f) => closed || replies.push(f));
        link.on('close', (r) => (closed = r));
        const bad: Uint8Array[] = [
          new Uint8Array([0xff, 0xff, 0xff]), // unknown type
          new Uint8Array(0), // empty
          new Uint8Array([1, 0xfe, 0xff, 0xff, 0xff, 0xff]), // a huge length prefix inside
          encodeMessage({ type: 'heartbeat', nowMs: 1 }).subarray(0, 1), // truncated
        ];
        // One every 10 ms, so the answers to the first ones arrive before the link is cut.
        for (let i = 0; i < 20; i++) c.clock.setTimeout(() => link.open && link.send(bad[i % bad.length]), 10 * i);
      });
      t.setPartners([a.library.deviceId]);
      await c.run(400);
      assert.ok(closed !== '', 'a closed the link');
      const errors = a.errors.filter((e) => e.name === 'ProtocolError');
      assert.equal(errors.length, 6, 'bad frames counted up to the bound (maxErrors), then the link was cut');
      const answers = replies.map((f) => decodeMessage(f)).filter((m) => m.type === 'error');
      assert.ok(answers.length >= 5, `each bad frame was answered with an Error message (${answers.length} seen before the cut)`);
      // Nothing was applied from it, and a and b still sync.
      assert.deepEqual(a.library.counts().tag, 0);
      await b.library.commitShared([tag('fine')]);
      await c.run(100);
      assert.equal(a.library.counts().tag, 1);
      assert.equal(a.library.digest(), b.library.digest());
    } finally {
      await c.close();
    }
  });

  it('a partner flooding catch-up requests is answered up to the rate, then refused (rate-limited) and cut off', async () => {
    const c = new Cluster(206, { maxErrors: 5, maxRequestsPerSecond: 50 });
    try {
      const [a] = [await c.add('a')];
      await a.library.commitShared([tag('x')]);
      const rogue = c.newId();
      await a.library.addPartner(rogue, 'rogue');
      await c.connectAll();
      const cutOffs: string[] = [];
      a.sync!.on('cutOff', (e) => cutOffs.push(e.reason));
      const t = c.net.transport(rogue);
      const answers: string[] = [];
      t.on('link', (link: Link) => {
        link.on('frame', (f) => {
          const m = decodeMessage(f);
          if (m.type === 'shared-change-response') answers.push('page');
          else if (m.type === 'error') answers.push(m.code);
        });
        // 200 requests a second, four times the rate: a burst of 100 and the rate are served until the burst is spent (~0.7 s), then refused.
        for (let i = 1; i <= 200; i++) c.clock.setTimeout(() => link.open && link.send(encodeMessage({ type: 'shared-change-request', requestId: i, have: [], limit: 10, snapshot: null })), 5 * i);
      });
      t.setPartners([a.library.deviceId]);
      await c.run(2000);
      const pages = answers.filter((x) => x === 'page').length;
      assert.ok(pages >= 120 && pages <= 140, `the burst and the rate were served (${pages} pages)`);
      assert.ok(answers.includes('rate-limited'), 'the requests past it were answered with rate-limited Errors');
      assert.equal(cutOffs.length, 1, 'and the partner was cut off');
      assert.match(cutOffs[0], /rate-limited: more than 50 requests a second/);
    } finally {
      await c.close();
    }
  });

  it('a partner cut off for bad frames is refused for cutOffMs, twice as long each time again, and is named; the others keep syncing', async () => {
    const c = new Cluster(205, { maxErrors: 3, cutOffMs: 60_000 });
    try {
      const [a, b] = [await c.add('a'), await c.add('b')];
      const rogue = c.newId();
      await a.library.addPartner(rogue, 'rogue');
      await c.connectAll();
      const cutOffs: { until: number; reason: string }[] = [];
      a.sync!.on('cutOff', (e) => cutOffs.push(e));
      const t = c.net.transport(rogue);
      const sessions: number[] = []; // when each link the rogue got stayed open long enough to be answered
      t.on('link', (link: Link) => {
        let answered = false;
        link.on('frame', () => {
          if (answered) return;
          answered = true;
          sessions.push(c.clock.now());
        });
        // Garbage as soon as the link is up, again and again (as a broken or hostile build would).
        for (let i = 0; i < 10; i++) c.clock.setTimeout(() => link.open && link.send(new Uint8Array([0xff, 0xff, 0xff])), 5 * i);
      });
      t.setPartners([a.library.deviceId]);
      const start = c.clock.now();
      await c.run(30_000);
      assert.equal(cutOffs.length, 1, 'cut off once in the first 30 s: every other link it tried was refused at once');
      assert.match(cutOffs[0].reason, /too many bad frames/);
      assert.ok(cutOffs[0].until >= start + 60_000, 'for cutOffMs');
      assert.equal(a.sync!.cutOffUntil(rogue), cutOffs[0].until);
      assert.equal(sessions.length, 1, 'no session while cut off');
      // After the minute it is admitted again, misbehaves again, and is cut off for twice as long.
      await c.run(60_000);
      assert.equal(cutOffs.length, 2);
      assert.ok(cutOffs[1].until - cutOffs[0].until >= 120_000 - 1000, `the second cut-off lasts twice as long (${cutOffs[1].until - cutOffs[0].until} ms later)`);
      // Meanwhile the others sync as before.
      await b.library.commitShared([tag('fine')]);
      await c.run(200);
      assert.equal(a.library.counts().tag, 1);
      assert.equal(a.library.digest(), b.library.digest());
    } finally {
      await c.close();
    }
  });
});
