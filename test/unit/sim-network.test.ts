import assert from 'node:assert/strict';
import { idKey, newId } from '../../src/core/ids';
import type { Link } from '../../src/engine/transport';
import { Random } from '../support/random';
import { MemoryNetwork } from '../sim/memory-network';
import { VirtualClock } from '../sim/virtual-clock';

function setup(seed = 1) {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, new Random(seed));
  const [a, b, c] = [newId(), newId(), newId()];
  const links = new Map<string, Link[]>();
  const received = new Map<string, number[]>();
  for (const d of [a, b, c]) {
    const t = net.transport(d);
    t.setPartners([a, b, c].filter((x) => x !== d));
    t.on('link', (l) => {
      links.set(idKey(d), [...(links.get(idKey(d)) ?? []), l]);
      l.on('frame', (f) => received.set(idKey(d), [...(received.get(idKey(d)) ?? []), f[0]]));
    });
  }
  return { clock, net, a, b, c, links, received, linkTo: (from: Uint8Array, to: Uint8Array) => links.get(idKey(from))!.find((l) => l.open && idKey(l.remote) === idKey(to))! };
}

describe('simulator: memory network and virtual clock', () => {
  it('links partners and delivers frames in order without faults', () => {
    const s = setup();
    s.clock.advance(10);
    for (let i = 0; i < 5; i++) s.linkTo(s.a, s.b).send(Uint8Array.of(i));
    s.clock.advance(10);
    assert.deepEqual(s.received.get(idKey(s.b)), [0, 1, 2, 3, 4]);
  });

  it('drops, duplicates and reorders frames when told to, reproducibly from the seed', () => {
    const run = (seed: number) => {
      const s = setup(seed);
      s.clock.advance(10);
      s.net.faults = { drop: 0.2, duplicate: 0.2, delayMs: 1, jitterMs: 20 };
      for (let i = 0; i < 100; i++) s.linkTo(s.a, s.b).send(Uint8Array.of(i));
      s.clock.advance(100);
      return { got: s.received.get(idKey(s.b))!, stats: { ...s.net.stats } };
    };
    const r = run(7);
    assert.ok(r.stats.dropped > 5 && r.stats.duplicated > 5, JSON.stringify(r.stats));
    assert.notDeepEqual(r.got, [...r.got].sort((x, y) => x - y), 'some frames were reordered');
    assert.deepEqual(run(7), r, 'same seed, same run');
  });

  it('partitions cut links; healing brings them back; a crash cuts all of a device’s links', () => {
    const s = setup();
    s.clock.advance(10);
    const ab = s.linkTo(s.a, s.b);
    let closed = '';
    ab.on('close', (r) => (closed = r));
    s.net.partition([s.a], [s.b, s.c]);
    assert.equal(ab.open, false);
    assert.equal(closed, 'unreachable');
    assert.equal(ab.send(Uint8Array.of(1)), false, 'a send on a dead link fails');
    s.net.heal();
    s.clock.advance(10);
    assert.ok(s.linkTo(s.a, s.b).open);
    s.net.crash(s.c);
    s.clock.advance(10);
    assert.equal(s.links.get(idKey(s.a))!.filter((l) => l.open && idKey(l.remote) === idKey(s.c)).length, 0);
  });

  it('a crashed device’s frames already on the wire still arrive; its partners see the link close after them', () => {
    const s = setup();
    s.net.faults = { drop: 0, duplicate: 0, delayMs: 5, jitterMs: 0 };
    s.clock.advance(10);
    const ca = s.linkTo(s.c, s.a);
    const ac = s.linkTo(s.a, s.c);
    const events: string[] = [];
    ac.on('close', () => events.push('close'));
    ac.on('frame', (f) => events.push(`frame ${f[0]}`));
    ca.send(Uint8Array.of(7));
    s.clock.advance(1);
    s.net.crash(s.c);
    assert.equal(ca.open, false, 'its own end is gone at once');
    assert.equal(ca.send(Uint8Array.of(8)), false, 'a dead process sends nothing more');
    assert.equal(ac.open, true, 'its partner does not know yet');
    ac.send(Uint8Array.of(9)); // lost: nobody is there
    s.clock.advance(10);
    assert.deepEqual(events, ['frame 7', 'close']);
    assert.equal(s.received.get(idKey(s.c))?.includes(9) ?? false, false);
  });
});
