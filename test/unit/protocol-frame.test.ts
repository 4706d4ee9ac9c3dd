import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMessage, encodeMessage, frame, FrameReader, MAX_FRAME_BYTES, ProtocolError, type ErrorCode, type Message } from '../../src/protocol';
import { concat } from '../support/bytes';


function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

function expectProtocolError(fn: () => unknown, code: ErrorCode): ProtocolError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ProtocolError, String(e));
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ProtocolError ${code}`);
}

/** Feeds `stream` cut at `cuts` and returns every frame read. */
function read(stream: Uint8Array, cuts: readonly number[], reader = new FrameReader()): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...cuts, stream.byteLength]) {
    out.push(...reader.push(stream.subarray(from, cut)));
    from = cut;
  }
  reader.end();
  return out;
}

describe('protocol: frames', () => {
  // Lengths around each prefix width: 1 byte up to 252, 3 bytes up to 65535, 5 bytes beyond.
  const small = [0, 1, 17, 252, 253, 300].map((n, i) => bytes(n, i));
  const smallStream = concat(...small.map((b) => frame(b)));

  it('prefixes with the shortest uint', () => {
    assert.deepEqual([...frame(new Uint8Array([9]))], [1, 9]);
    assert.equal(frame(bytes(252, 0)).byteLength, 253);
    assert.equal(frame(bytes(253, 0)).byteLength, 256);
    assert.equal(frame(bytes(65_536, 0)).byteLength, 65_541);
  });

  it('reassembles frames split at every byte boundary', () => {
    for (let cut = 0; cut <= smallStream.byteLength; cut++) assert.deepEqual(read(smallStream, [cut]), small, `cut at ${cut}`);
    assert.deepEqual(
      read(smallStream, Array.from({ length: smallStream.byteLength }, (_, i) => i)),
      small,
      'one byte at a time',
    );
  });

  it('reassembles a large frame cut anywhere, and any chunking of many frames', () => {
    const big = bytes(70_000, 9);
    const stream = concat(frame(big), frame(small[2]));
    for (const cut of [1, 2, 3, 4, 5, 6, 1000, 69_999, 70_004, 70_005, 70_006, stream.byteLength - 1]) {
      assert.deepEqual(read(stream, [cut]), [big, small[2]], `cut at ${cut}`);
    }
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(smallStream.byteLength), { maxLength: 20 }), (cuts) => {
        assert.deepEqual(read(smallStream, [...cuts].sort((a, b) => a - b)), small);
      }),
      { numRuns: 300, seed: 5 },
    );
  });

  it('frames carry messages', () => {
    const msgs: Message[] = [
      { type: 'heartbeat', nowMs: 1_700_000_000_000 },
      { type: 'ack', vector: [{ origin: new Uint8Array(16).fill(1), seq: 42 }] },
      { type: 'error', requestId: 3, code: 'rate-limited', message: 'slow down' },
    ];
    const stream = Buffer.from(concat(...msgs.map((m) => frame(encodeMessage(m)))));
    const frames = read(stream, [5, 6, 20]);
    assert.deepEqual(frames.map(decodeMessage), msgs);
    for (const f of frames) assert.equal(Object.getPrototypeOf(f), Uint8Array.prototype, 'frames are copies, not views of the chunk');
  });

  it('rejects an oversize length before buffering any of the frame', () => {
    const reader = new FrameReader({ maxFrameBytes: 1000 });
    assert.deepEqual(reader.push(frame(bytes(1000, 1))), [bytes(1000, 1)], 'the limit itself is fine');
    const oversize = frame(bytes(1001, 1));
    const err = expectProtocolError(() => reader.push(oversize), 'too-large');
    assert.ok(reader.buffered <= 9, `held ${reader.buffered} bytes`);
    assert.equal(reader.failure, err);
    // It stays failed: nothing more is read or kept.
    assert.throws(() => reader.push(new Uint8Array(100_000)), (e) => e === err);
    assert.ok(reader.buffered <= 9);
    assert.throws(() => reader.end(), (e) => e === err);
  });

  it('rejects a length over MAX_FRAME_BYTES as soon as the prefix is complete', () => {
    const reader = new FrameReader();
    const over = MAX_FRAME_BYTES + 1;
    // A 5-byte prefix: 0xfe, then the length as uint32 little-endian.
    const header = new Uint8Array([0xfe, over & 0xff, (over >>> 8) & 0xff, (over >>> 16) & 0xff, over >>> 24]);
    assert.deepEqual(reader.push(header.subarray(0, 4)), []);
    expectProtocolError(() => reader.push(header.subarray(4)), 'too-large');
    assert.equal(reader.buffered, 5);
  });

  it('rejects a 9-byte prefix (2^32 or more) from its first byte', () => {
    const reader = new FrameReader();
    expectProtocolError(() => reader.push(new Uint8Array([0xff])), 'too-large');
    const huge = new FrameReader();
    // uint claiming 2^40 bytes, pushed in one piece with trailing data.
    expectProtocolError(() => huge.push(new Uint8Array([0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3])), 'too-large');
  });

  it('rejects a length in a longer form than needed', () => {
    expectProtocolError(() => new FrameReader().push(new Uint8Array([0xfd, 5, 0, 1, 2, 3, 4, 5])), 'bad-frame');
    expectProtocolError(() => new FrameReader().push(new Uint8Array([0xfe, 5, 0, 0, 0])), 'bad-frame');
  });

  it('end() reports a stream cut inside a frame', () => {
    const reader = new FrameReader();
    reader.push(frame(bytes(10, 1)).subarray(0, 5));
    expectProtocolError(() => reader.end(), 'bad-frame');
    const clean = new FrameReader();
    clean.push(frame(bytes(10, 1)));
    clean.end();
  });

  it('frame() refuses what a reader would refuse', () => {
    expectProtocolError(() => frame(new Uint8Array(11), 10), 'too-large');
  });
});
