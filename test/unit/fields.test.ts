import assert from 'node:assert/strict';
import fc from 'fast-check';
import { registry } from '../../src/engine/registry';
import { decodeWith, sharedChangeEncoding, stateRecordEncoding, encodeWith } from '../../src/engine/records';
import { RecordFormatError } from '../../src/models/fields';
import { HlcFormatError } from '../../src/core/hlc';

describe('record codecs', () => {
  it('round-trip every model’s full and partial data', () => {
    for (const m of registry.all) {
      const full: Record<string, unknown> = {};
      for (const f of m.fields) {
        full[f.name] = f.type === 'id' ? new Uint8Array(16).fill(7) : f.type === 'int' ? Math.min(42, f.max ?? 42) : f.type === 'bool' ? true : f.type === 'json' ? '{"a":1}' : 'héllo ✓';
      }
      assert.deepEqual(m.codec.decode(m.codec.encode(full as never)), full, m.name);
      const partial = { [m.fields[m.fields.length - 1].name]: full[m.fields[m.fields.length - 1].name] };
      assert.deepEqual(m.codec.decode(m.codec.encode(partial as never)), partial);
      const nulls = Object.fromEntries(m.fields.filter((f) => f.nullable).map((f) => [f.name, null]));
      assert.deepEqual(m.codec.decode(m.codec.encode(nulls as never)), nulls);
    }
  });

  it('any bytes decode to a valid record or a typed error, never anything else', () => {
    const expected = (e: unknown) => e instanceof RecordFormatError || e instanceof HlcFormatError;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(...registry.all), (bytes, m) => {
        try {
          m.codec.decode(bytes);
        } catch (e) {
          assert.ok(expected(e), String(e));
        }
        try {
          if (m.kind === 'shared') decodeWith(sharedChangeEncoding(m), bytes, m.name);
          else decodeWith(stateRecordEncoding(m), bytes, m.name);
        } catch (e) {
          assert.ok(expected(e), String(e));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('truncations and bit flips of a valid record are typed errors or valid records', () => {
    const tag = registry.sharedModel('tag');
    const enc = sharedChangeEncoding(tag);
    const valid = encodeWith(enc, {
      model: 'tag',
      uuid: new Uint8Array(16).fill(1),
      hlc: { ms: 123456789, counter: 3, device: new Uint8Array(16).fill(2) },
      seq: 9,
      op: 'create',
      device: new Uint8Array(16).fill(2),
      incarnation: new Uint8Array(0),
      publicKey: new Uint8Array(32).fill(3),
      signature: new Uint8Array(64).fill(4),
      data: { name: 'todo', color: 'red', icon: null, description: 'x'.repeat(50), namespace: null },
    });
    for (let cut = 0; cut < valid.length; cut++) {
      assert.throws(() => decodeWith(enc, valid.subarray(0, cut), 'tag'), RecordFormatError);
    }
    for (let bit = 0; bit < valid.length * 8; bit++) {
      const copy = Uint8Array.from(valid);
      copy[bit >> 3] ^= 1 << (bit & 7);
      try {
        decodeWith(enc, copy, 'tag');
      } catch (e) {
        assert.ok(e instanceof RecordFormatError || e instanceof HlcFormatError, String(e));
      }
    }
  });

  it('enforces field limits: text length, int ranges, id size, unknown fields', () => {
    const tag = registry.sharedModel('tag');
    assert.throws(() => tag.codec.decode(tag.codec.encode({ name: 'x'.repeat(300) })), /limit is 256/);
    const entry = registry.deviceOwnedModel('entry');
    assert.throws(() => entry.codec.decode(entry.codec.encode({ kind: 7 })), /between 0 and 2/);
    assert.throws(() => entry.codec.decode(entry.codec.encode({ size: -1 })), RecordFormatError);
  });
});
