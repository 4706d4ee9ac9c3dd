import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { idKey, newId, type Id } from '../../src/core/ids';
import { Library } from '../../src/engine/library';
import { Backoff } from '../../src/engine/backoff';
import { MemoryHub, type MemoryHubOptions } from '../../src/engine/memory-transport';
import { PeerSync } from '../../src/sync/peer-sync';
import type { Link, Transport } from '../../src/engine/transport';
import { cleanupTempDirs, tempDir } from '../support/tmp';

const turn = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Devices on one hub, recording the links each was given and the frames each link received. */
function setup(n: number, options: MemoryHubOptions = {}) {
  const hub = new MemoryHub({ reconnectDelayMs: null, ...options });
  const ids = Array.from({ length: n }, () => newId());
  const transports: Transport[] = [];
  const links = new Map<string, Link[]>();
  const frames = new Map<Link, Uint8Array[]>();
  const closes = new Map<Link, string[]>();
  for (const id of ids) {
    const t = hub.transport(id);
    transports.push(t);
    t.on('link', (l) => {
      links.set(idKey(id), [...(links.get(idKey(id)) ?? []), l]);
      frames.set(l, []);
      closes.set(l, []);
      l.on('frame', (f) => frames.get(l)!.push(f));
      l.on('close', (r) => closes.get(l)!.push(r));
    });
  }
  /** The newest link `from` was given to `to`. */
  const link = (from: Id, to: Id): Link | undefined => (links.get(idKey(from)) ?? []).filter((l) => idKey(l.remote) === idKey(to)).pop();
  /** The first two devices list each other; resolves with their two ends once the link is up. */
  const pair = async (): Promise<{ a: Id; b: Id; ab: Link; ba: Link }> => {
    const [a, b] = ids;
    transports[0].setPartners([b]);
    transports[1].setPartners([a]);
    await turn();
    return { a, b, ab: link(a, b)!, ba: link(b, a)! };
  };
  return { hub, ids, transports, links, frames, closes, link, pair };
}

describe('memory transport (real time, in process)', () => {
  after(cleanupTempDirs);

  it('brings a link up only when both sides list each other, one Link per side', async () => {
    const s = setup(3);
    const [a, b, c] = s.ids;
    s.transports[0].setPartners([b, c]);
    await turn();
    assert.equal(s.links.size, 0, 'b and c have not listed a yet');
    s.transports[1].setPartners([a]);
    assert.equal(s.links.size, 0, "'link' is emitted asynchronously");
    await turn();
    const ab = s.link(a, b)!;
    const ba = s.link(b, a)!;
    assert.ok(ab && ba && ab !== ba);
    assert.equal(idKey(ab.remote), idKey(b));
    assert.equal(idKey(ba.remote), idKey(a));
    assert.ok(ab.open && ba.open && !ab.congested);
    assert.equal(s.link(a, c), undefined);
    assert.equal(s.links.get(idKey(c)), undefined);
    s.transports[1].setPartners([a, c]); // listing again changes nothing for a
    await turn();
    assert.equal(s.links.get(idKey(a))!.length, 1);
  });

  it('delivers whole frames asynchronously, in order per direction, as copies', async () => {
    const s = setup(2);
    const { ab, ba } = await s.pair();
    const buf = new Uint8Array(3);
    for (let i = 0; i < 100; i++) {
      buf.set([i, i + 1, i + 2]);
      assert.equal(ab.send(buf), true); // the same buffer, rewritten each time
    }
    ba.send(Uint8Array.of(200));
    assert.equal(s.frames.get(ba)!.length, 0, 'nothing is delivered synchronously');
    await turn();
    await turn();
    const got = s.frames.get(ba)!;
    assert.equal(got.length, 100);
    got.forEach((f, i) => assert.deepEqual([...f], [i, i + 1, i + 2]));
    assert.deepEqual(s.frames.get(ab)!.map((f) => [...f]), [[200]]);
    got[0][0] = 99;
    assert.deepEqual([...got[1]], [1, 2, 3], 'each frame is its own copy');
  });

  it('yields to the event loop between turns: frames sent while delivering wait for the next turn', async () => {
    const s = setup(2);
    const { ab, ba } = await s.pair();
    // Ping-pong forever; a timer must still fire.
    ba.on('frame', (f) => ba.send(f));
    ab.on('frame', (f) => ab.send(f));
    ab.send(Uint8Array.of(1));
    await sleep(20);
    assert.ok(s.frames.get(ba)!.length > 2, 'frames kept flowing');
    ab.close('done');
  });

  it('close closes both ends with the reason and drops what was queued', async () => {
    const s = setup(2);
    const { ab, ba } = await s.pair();
    ab.send(Uint8Array.of(1));
    ba.send(Uint8Array.of(2));
    ab.close('bye');
    assert.equal(ab.open, false);
    assert.equal(ba.open, false);
    assert.deepEqual(s.closes.get(ab), ['bye']);
    assert.deepEqual(s.closes.get(ba), ['bye']);
    assert.equal(ab.send(Uint8Array.of(3)), false, 'a closed link takes no frame');
    ba.close('again'); // closing twice is harmless
    await turn();
    await turn();
    assert.equal(s.frames.get(ab)!.length + s.frames.get(ba)!.length, 0, 'queued frames were dropped');
    assert.deepEqual(s.closes.get(ba), ['bye']);
  });

  it('a frame listener closing the link stops the rest of the turn', async () => {
    const s = setup(2);
    const { a, b, ba } = await s.pair();
    ba.on('frame', (f) => f[0] === 2 && ba.close('enough'));
    for (let i = 1; i <= 5; i++) s.link(a, b)!.send(Uint8Array.of(i));
    await turn();
    await turn();
    assert.deepEqual(s.frames.get(ba)!.map((f) => f[0]), [1, 2]);
  });

  it('redials a closed link while both still list each other', async () => {
    const s = setup(2, { reconnectDelayMs: 5 });
    const { a, b } = await s.pair();
    s.link(a, b)!.close('flaky');
    await sleep(30);
    assert.equal(s.links.get(idKey(a))!.length, 2);
    assert.equal(s.links.get(idKey(b))!.length, 2);
    assert.ok(s.link(a, b)!.open && s.link(b, a)!.open);
  });

  it('redials back off exponentially, with jitter, up to a bound', () => {
    const even = new Backoff(100, 5000, () => 0.5);
    assert.deepEqual([1, 2, 3, 4].map(() => even.take()), [100, 200, 400, 800]);
    for (let i = 0; i < 10; i++) even.take();
    assert.equal(even.take(), 5000, 'capped');
    even.reset();
    assert.equal(even.take(), 100);
    assert.equal(new Backoff(100, 5000, () => 0).take(), 50, 'jitter: half at least');
    assert.equal(new Backoff(100, 5000, () => 0.999).take(), 149.9, 'and under one and a half');
  });

  it('setPartners without a device closes its link; listing it again brings a new one up', async () => {
    const s = setup(3);
    const [a, b, c] = s.ids;
    s.transports[0].setPartners([b, c]);
    s.transports[1].setPartners([a]);
    s.transports[2].setPartners([a]);
    await turn();
    const ab = s.link(a, b)!;
    const ac = s.link(a, c)!;
    s.transports[0].setPartners([c]);
    assert.equal(ab.open, false);
    assert.equal(s.link(b, a)!.open, false);
    assert.equal(s.closes.get(s.link(b, a)!)!.length, 1);
    assert.ok(ac.open, 'other links stay up');
    s.transports[0].setPartners([b, c]);
    await turn();
    const ab2 = s.link(a, b)!;
    assert.notEqual(ab2, ab);
    assert.ok(ab2.open && s.link(b, a)!.open);
    ab2.send(Uint8Array.of(7));
    await turn();
    assert.deepEqual(s.frames.get(s.link(b, a)!)!.map((f) => f[0]), [7]);
  });

  it('reports congestion past the bound and drain once delivered', async () => {
    const s = setup(2, { maxQueuedFrames: 10 });
    const { a, b, ab } = await s.pair();
    let drains = 0;
    ab.on('drain', () => drains++);
    for (let i = 0; i < 10; i++) ab.send(Uint8Array.of(i));
    assert.equal(ab.congested, false, 'at the bound, not over it');
    ab.send(Uint8Array.of(10));
    assert.equal(ab.congested, true);
    assert.equal(s.link(b, a)!.congested, false, 'per direction');
    await turn();
    assert.equal(ab.congested, false);
    assert.equal(drains, 1);
    assert.equal(s.frames.get(s.link(b, a)!)!.length, 11);

    const big = setup(2, { maxQueuedBytes: 1000 });
    big.transports[0].setPartners([big.ids[1]]);
    big.transports[1].setPartners([big.ids[0]]);
    await turn();
    const l = big.link(big.ids[0], big.ids[1])!;
    l.send(new Uint8Array(1001));
    assert.equal(l.congested, true, 'a byte bound too');
    await turn();
    assert.equal(l.congested, false);
  });

  it('Transport.close closes all its links and refuses new ones', async () => {
    const s = setup(3, { reconnectDelayMs: 1 });
    const [a, b, c] = s.ids;
    s.transports[0].setPartners([b, c]);
    s.transports[1].setPartners([a, c]);
    s.transports[2].setPartners([a, b]);
    await turn();
    await s.transports[0].close();
    for (const l of [s.link(a, b)!, s.link(a, c)!, s.link(b, a)!, s.link(c, a)!]) {
      assert.equal(l.open, false);
      assert.deepEqual(s.closes.get(l), ['transport closed']);
    }
    assert.ok(s.link(b, c)!.open);
    s.transports[0].setPartners([b, c]);
    await sleep(10);
    assert.equal(s.links.get(idKey(a))!.length, 2, 'no new link for a closed transport');
    assert.equal(s.links.get(idKey(b))!.length, 2);
    // A new transport for the same device (a restart) links again.
    const again = s.hub.transport(a);
    const got: Link[] = [];
    again.on('link', (l) => got.push(l));
    again.setPartners([b]);
    await turn();
    assert.equal(got.length, 1);
    assert.equal(idKey(got[0].remote), idKey(b));
  });

  it('carries peer sync between two libraries in real time', async () => {
    const hub = new MemoryHub();
    const dir = tempDir();
    const libraryId = newId();
    const secret = randomBytes(32);
    const [a, b] = [
      await Library.create({ dataDir: path.join(dir, 'a'), name: 't', libraryId, secret, deviceName: 'a' }),
      await Library.create({ dataDir: path.join(dir, 'b'), name: 't', libraryId, secret, deviceName: 'b' }),
    ];
    const syncs: PeerSync[] = [];
    const errors: Error[] = [];
    try {
      await Promise.all([a.ready(), b.ready()]);
      await a.addPartner(b.deviceId);
      await b.addPartner(a.deviceId);
      await a.commitShared([{ model: 'tag', op: 'create', data: { name: 'before', color: null, icon: null, description: null, namespace: null } }]);
      for (const lib of [a, b]) {
        const s = new PeerSync(lib, hub.transport(lib.deviceId));
        s.on('error', (e) => errors.push(e.error));
        syncs.push(s);
        s.start();
      }
      const until = async (done: () => boolean) => {
        for (let i = 0; !done(); i++) {
          assert.ok(i < 500, 'timed out');
          await sleep(5);
        }
      };
      await until(() => syncs.every((s) => s.state === 'ready') && b.counts().tag === 1);
      await b.commitShared([{ model: 'tag', op: 'create', data: { name: 'live', color: null, icon: null, description: null, namespace: null } }]);
      await until(() => a.counts().tag === 2);
      assert.equal(a.digest(), b.digest());
      assert.deepEqual(errors, []);
    } finally {
      for (const s of syncs) await s.stop();
      await a.close();
      await b.close();
    }
  });
});
