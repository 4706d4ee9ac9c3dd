import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import fc from 'fast-check';
import { LtHash, LTHASH_BYTES, lthashBackend } from '../../src/core/lthash';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('LtHash', () => {
  it('is the same for the same multiset of elements in any order, and adds and removes exactly', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { maxLength: 12 }), fc.integer(), (elements, seed) => {
        const a = new LtHash();
        for (const e of elements) a.add(e);
        const shuffled = [...elements].sort((x, y) => ((hex(x).length * 31 + seed) % 7) - ((hex(y).length * 31 + seed) % 7));
        const b = new LtHash();
        const extra = randomBytes(20);
        b.add(extra);
        for (const e of shuffled) b.add(e);
        b.remove(extra);
        assert.equal(hex(a.bytes()), hex(b.bytes()));
        assert.equal(hex(new LtHash(a.bytes()).digest()), hex(a.digest()), 'round-trips through its bytes');
      }),
      { numRuns: 100 },
    );
  });

  it('tells different multisets apart (one element more, a duplicate, one byte changed)', () => {
    const x = new LtHash();
    x.add(Buffer.from('row one'));
    const twice = new LtHash(x.bytes());
    twice.add(Buffer.from('row one'));
    const other = new LtHash();
    other.add(Buffer.from('row onf'));
    const digests = new Set([new LtHash().digest(), x.digest(), twice.digest(), other.digest()].map(hex));
    assert.equal(digests.size, 4);
    assert.ok(new LtHash().isZero);
    assert.ok(!x.isZero);
    assert.equal(x.bytes().length, LTHASH_BYTES);
  });

  it('gives the same bytes through libsodium and through OpenSSL', () => {
    assert.equal(lthashBackend, 'libsodium', 'sodium-native loads here (Hyperswarm needs it too)');
    const script = `const { LtHash, lthashBackend } = require(${JSON.stringify(path.resolve(__dirname, '../../src/core/lthash.ts'))});
      const h = new LtHash(); for (let i = 0; i < 50; i++) h.add(Buffer.from('element ' + i)); h.remove(Buffer.from('element 7'));
      process.stdout.write(lthashBackend + ' ' + Buffer.from(h.digest()).toString('hex'));`;
    const out = execFileSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], { env: { ...process.env, LEADERLESS_NO_SODIUM: '1' } }).toString();
    const h = new LtHash();
    for (let i = 0; i < 50; i++) h.add(Buffer.from('element ' + i));
    h.remove(Buffer.from('element 7'));
    assert.equal(out, `openssl ${hex(h.digest())}`);
  });
});

describe('LtHash lanes', () => {
  it('adds and subtracts each 16-bit lane modulo 2^16, carries never crossing lanes', () => {
    const e1 = Buffer.from('one');
    const h = new LtHash();
    h.add(e1);
    const once = Array.from(h.lanes);
    for (let i = 0; i < 70; i++) h.add(e1);
    for (let i = 0; i < 70; i++) h.remove(e1);
    assert.deepEqual(Array.from(h.lanes), once);
    h.remove(e1);
    assert.ok(h.isZero);
    // Against plain per-lane arithmetic: three adds, one remove.
    const lanesOf = (e: Uint8Array) => {
      const x = new LtHash();
      x.add(e);
      return Array.from(x.lanes);
    };
    const [a, b, c] = [lanesOf(Buffer.from('a')), lanesOf(Buffer.from('b')), lanesOf(Buffer.from('c'))];
    const y = new LtHash();
    y.add(Buffer.from('a'));
    y.add(Buffer.from('b'));
    y.remove(Buffer.from('c'));
    assert.deepEqual(Array.from(y.lanes), a.map((v, i) => (v + b[i] - c[i] + 0x10000) & 0xffff));
  });
});
