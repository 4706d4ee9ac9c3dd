import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ClockDriftError,
  HlcClock,
  HlcFormatError,
  compareHlc,
  decodeHlc,
  encodeHlc,
  hlcFromString,
  hlcToString,
  MAX_COUNTER,
  type Hlc,
} from '../../src/core/hlc';

const dev = (n: number) => new Uint8Array(16).fill(n);

describe('HLC', () => {
  it('issues strictly increasing stamps while the wall clock stands still', () => {
    const clock = new HlcClock({ device: dev(1), now: () => 1000 });
    const a = clock.now();
    const b = clock.now();
    assert.equal(a.ms, 1000);
    assert.equal(compareHlc(a, b), -1);
    assert.equal(b.counter, a.counter + 1);
  });

  it('never goes backwards when the wall clock steps back', () => {
    let wall = 10_000;
    const clock = new HlcClock({ device: dev(1), now: () => wall });
    const before = clock.now();
    wall = 5_000; // NTP step back
    const after = clock.now();
    assert.equal(compareHlc(before, after), -1);
    assert.equal(after.ms, 10_000);
  });

  it('moves ms forward instead of wrapping when the counter is exhausted', () => {
    const clock = new HlcClock({ device: dev(1), now: () => 1, last: { ms: 1, counter: MAX_COUNTER, device: dev(1) } });
    const next = clock.now();
    assert.deepEqual([next.ms, next.counter], [2, 0]);
  });

  it('adopts a remote stamp that is ahead and stays above it', () => {
    const clock = new HlcClock({ device: dev(1), now: () => 1000 });
    const remote: Hlc = { ms: 1000 + 60_000, counter: 7, device: dev(2) };
    clock.receive(remote);
    const next = clock.now();
    assert.equal(compareHlc(remote, next), -1);
    assert.equal(next.ms, remote.ms);
    assert.equal(next.counter, 8);
  });

  it('refuses a remote stamp beyond the drift bound with a typed error and is unchanged', () => {
    const clock = new HlcClock({ device: dev(1), now: () => 1000, maxDriftMs: 5 * 60_000 });
    const before = clock.now();
    const remote: Hlc = { ms: 1000 + 5 * 60_000 + 1, counter: 0, device: dev(2) };
    assert.throws(() => clock.receive(remote), (e: unknown) => e instanceof ClockDriftError && /ahead/.test(e.message));
    assert.deepEqual(clock.last(), before);
    // exactly at the bound is accepted
    clock.receive({ ms: 1000 + 5 * 60_000, counter: 0, device: dev(2) });
  });

  it('continues above the persisted last stamp after a restart with a clock behind it', () => {
    const last: Hlc = { ms: 50_000, counter: 3, device: dev(1) };
    const clock = new HlcClock({ device: dev(1), now: () => 1, last });
    assert.equal(compareHlc(last, clock.now()), -1);
  });

  it('binary and string forms round-trip and sort like compareHlc', () => {
    const arb = fc.record({
      ms: fc.integer({ min: 0, max: 0xffff_ffff_ffff }),
      counter: fc.integer({ min: 0, max: MAX_COUNTER }),
      device: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    });
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        assert.deepEqual(decodeHlc(encodeHlc(a)), { ...a, device: Uint8Array.from(a.device) });
        assert.deepEqual(hlcFromString(hlcToString(a)), { ...a, device: Uint8Array.from(a.device) });
        assert.equal(hlcToString(a).length, 48);
        const byCompare = Math.sign(compareHlc(a, b));
        const byString = Math.sign(hlcToString(a) < hlcToString(b) ? -1 : hlcToString(a) > hlcToString(b) ? 1 : 0);
        const byBytes = Math.sign(Buffer.compare(Buffer.from(encodeHlc(a)), Buffer.from(encodeHlc(b))));
        assert.equal(byString, byCompare);
        assert.equal(byBytes, byCompare);
      }),
    );
  });

  it('rejects malformed encodings with a typed error', () => {
    assert.throws(() => decodeHlc(new Uint8Array(23)), HlcFormatError);
    assert.throws(() => hlcFromString('zz'), HlcFormatError);
    const clock = new HlcClock({ device: dev(1), now: () => 0 });
    assert.throws(() => clock.receive({ ms: -1, counter: 0, device: dev(2) }), HlcFormatError);
    assert.throws(() => clock.receive({ ms: 1, counter: 1 << 16, device: dev(2) }), HlcFormatError);
  });

  it('is monotonic under any interleaving of wall-clock jumps and remote stamps', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('wall' as const), ms: fc.integer({ min: 0, max: 1_000_000 }) }),
      fc.record({ kind: fc.constant('tick' as const) }),
      fc.record({ kind: fc.constant('remote' as const), ahead: fc.integer({ min: -1_000_000, max: 400_000 }), counter: fc.integer({ min: 0, max: MAX_COUNTER }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        let wall = 500_000;
        const clock = new HlcClock({ device: dev(1), now: () => wall });
        let prev = clock.now();
        for (const o of ops) {
          if (o.kind === 'wall') wall = o.ms;
          else if (o.kind === 'remote') {
            const remote = { ms: Math.max(0, wall + o.ahead), counter: o.counter, device: dev(2) };
            try {
              clock.receive(remote);
              assert.ok(compareHlc(clock.last(), { ...remote, device: dev(0) }) >= 0);
            } catch (e) {
              assert.ok(e instanceof ClockDriftError);
            }
          }
          const next = clock.now();
          assert.equal(compareHlc(prev, next), -1);
          prev = next;
        }
      }),
    );
  });
});
