import assert from 'node:assert/strict';
import c from 'compact-encoding';
import fc from 'fast-check';
import { MAX_COUNTER, MAX_MS, type Hlc } from '../../src/core/hlc';
import { originId } from '../../src/core/ids';
import { encodeWith, sharedChangeEncoding, stateRecordEncoding } from '../../src/engine/records';
import { registry } from '../../src/engine/registry';
import type { FieldSpec, FieldValue, RecordData } from '../../src/models/fields';
import type { DeviceOwnedModel, SharedChange, SharedModel, SharedRow, StateRecord } from '../../src/models/model';
import {
  decodeMessage,
  encodedLength,
  encodeMessage,
  ERROR_CODES,
  errorMessage,
  MAX_ERROR_MESSAGE_CHARS,
  MAX_FRAME_BYTES,
  MAX_RECORDS,
  MAX_VECTOR_ENTRIES,
  MESSAGE_CODES,
  PROTOCOL_VERSION,
  ProtocolError,
  type ErrorCode,
  type Message,
  type MessageType,
} from '../../src/protocol';
import { concat } from '../support/bytes';

// ---------------------------------------------------------------------------
// Generators: valid content for every registered model, built from `fields`.

/** fc.record without null-prototype objects (decoded messages are plain objects). */
const record = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> => fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;

const idArb = fc.uint8Array({ minLength: 16, maxLength: 16 });
const timeArb = fc.uint8Array({ minLength: 8, maxLength: 8 });
const msArb = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: MAX_MS }) });
const hlcArb = (device?: Uint8Array): fc.Arbitrary<Hlc> =>
  record({ ms: msArb, counter: fc.integer({ min: 0, max: MAX_COUNTER }), device: device ? fc.constant(device) : idArb });
const requestIdArb = fc.integer({ min: 1, max: 0xffff_ffff });
const seqArb = fc.oneof(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }));
/** compact-encoding's int reaches ±2^52 (zig-zag), short of JavaScript's safe range. */
const INT_MIN = -(2 ** 52);
const INT_MAX = 2 ** 52 - 1;

const segment = fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/);
const pathArb = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));
const unicodeArb = fc.string({ unit: 'grapheme', maxLength: 16 });

function textArb(f: FieldSpec): fc.Arbitrary<string> {
  const max = f.maxLength ?? 4096;
  const realistic = f.name === 'path' || f.name === 'mount_point' ? pathArb.map((p) => '/' + p) : f.name === 'workspace_key' ? pathArb.map((p) => 'github.com/' + p) : segment;
  return fc.oneof(realistic, unicodeArb).filter((s) => s.length <= max);
}

function valueArb(f: FieldSpec): fc.Arbitrary<FieldValue> {
  let base: fc.Arbitrary<FieldValue>;
  switch (f.type) {
    case 'id':
      base = idArb;
      break;
    case 'text':
      base = textArb(f);
      break;
    case 'json':
      base = fc.json({ maxDepth: 2 }).filter((s) => s.length <= (f.maxLength ?? 4096));
      break;
    case 'int':
      base = fc.integer({ min: Math.max(f.min ?? INT_MIN, INT_MIN), max: Math.min(f.max ?? INT_MAX, INT_MAX) });
      break;
    case 'bool':
      base = fc.boolean();
      break;
  }
  return f.nullable ? fc.option(base, { nil: null, freq: 4 }) : base;
}

function dataArb(fields: readonly FieldSpec[], partial = false): fc.Arbitrary<RecordData> {
  const shape = Object.fromEntries(fields.map((f) => [f.name, valueArb(f)]));
  return fc.record(shape, { requiredKeys: partial ? [] : undefined, noNullPrototype: true }).map((d) => d as RecordData);
}

function stateRecordArb(m: DeviceOwnedModel, owner?: Uint8Array): fc.Arbitrary<StateRecord> {
  return fc.oneof(
    { weight: 4, arbitrary: record({ uuid: idArb, hlc: hlcArb(owner), deleted: fc.constant(false), data: dataArb(m.fields) }) },
    { weight: 1, arbitrary: record({ uuid: idArb, hlc: hlcArb(owner), deleted: fc.constant(true), data: dataArb(m.fields.filter((f) => f.identity)) }) },
  );
}

function sharedChangeArb(m: SharedModel): fc.Arbitrary<SharedChange> {
  // The origin in the stamp is the one its writer's device and incarnation name (a legacy change: the device itself).
  const head = fc
    .tuple(record({ uuid: idArb, hlc: hlcArb(), seq: seqArb }), idArb, fc.option(fc.uint8Array({ minLength: 8, maxLength: 8 }), { nil: new Uint8Array(0) }))
    .map(([h, device, incarnation]) => ({ ...h, hlc: { ...h.hlc, device: originId(device, incarnation) }, device, incarnation, publicKey: h.uuid.length ? new Uint8Array(32).fill(h.uuid[0]) : new Uint8Array(32), signature: new Uint8Array(64).fill(7) }));
  return fc.oneof(
    fc.tuple(head, dataArb(m.fields)).map(([h, data]) => ({ model: m.name, ...h, uuid: m.derivedId(data) ?? h.uuid, op: 'create' as const, data })),
    fc.tuple(head, dataArb(m.fields.filter((f) => !f.identity), true)).map(([h, data]) => ({ model: m.name, ...h, op: 'update' as const, data })),
    head.map((h) => ({ model: m.name, ...h, op: 'delete' as const, data: {} })),
  );
}

/** Like SharedTable.get: every field with its value and stamp (often the create's); sometimes only some fields. */
function sharedRowArb(m: SharedModel): fc.Arbitrary<SharedRow> {
  const stamp = fc.oneof(fc.constant(null), fc.constant('created' as const), hlcArb());
  const stamps = record(Object.fromEntries(m.fields.map((f) => [f.name, stamp])));
  const keep = fc.oneof(fc.constant(null), record(Object.fromEntries(m.fields.map((f) => [f.name, fc.boolean()]))));
  return fc
    .tuple(
      record({ uuid: idArb, hlc: hlcArb(), live: fc.boolean(), createdHlc: fc.option(hlcArb(), { nil: null }), deletedHlc: fc.option(hlcArb(), { nil: null }) }),
      dataArb(m.fields),
      stamps,
      keep,
    )
    .map(([head, full, st, kept]) => {
      const data: RecordData = {};
      const fieldHlcs: Record<string, Hlc | null> = {};
      for (const f of m.fields) {
        if (kept && !kept[f.name]) continue;
        data[f.name] = full[f.name];
        const h = st[f.name];
        fieldHlcs[f.name] = h === 'created' ? (head.createdHlc ?? head.hlc) : h;
      }
      return { ...head, data, fieldHlcs };
    });
}

const deviceOwnedArb = fc.constantFrom(...registry.deviceOwned);
const sharedArb = fc.constantFrom(...registry.shared);
const anySharedChangeArb = sharedArb.chain(sharedChangeArb);
const vectorArb = fc.uniqueArray(record({ origin: idArb, seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) }), {
  maxLength: 6,
  selector: (e) => Buffer.from(e.origin).toString('hex'),
});

const sealArb = (owner?: Uint8Array) =>
  record({
    owner: owner ? fc.constant(owner) : idArb,
    sealedAt: timeArb,
    base: timeArb,
    newest: timeArb,
    rows: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    digest: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    publicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
  });

const arbs: { [T in MessageType]: fc.Arbitrary<Extract<Message, { type: T }>> } = {
  hello: record({
    type: fc.constant('hello'),
    protocolVersion: fc.constant(PROTOCOL_VERSION),
    libraryId: idArb,
    deviceId: idArb,
    vector: vectorArb,
    watermarks: fc.uniqueArray(
      record({ owner: idArb, model: deviceOwnedArb.map((m) => m.name), hlc: timeArb, rows: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), sum: fc.uint8Array({ minLength: 16, maxLength: 16 }), complete: fc.boolean() }),
      {
      maxLength: 6,
      selector: (w) => Buffer.from(w.owner).toString('hex') + w.model,
    }),
    shared: fc.uniqueArray(record({ model: sharedArb.map((m) => m.name), rows: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), sum: fc.uint8Array({ minLength: 16, maxLength: 16 }) }), {
      maxLength: 4,
      selector: (x) => x.model,
    }),
    settled: fc.boolean(),
    seals: fc.uniqueArray(sealArb(), { maxLength: 3, selector: (x) => Buffer.from(x.owner).toString('hex') }),
  }),
  'state-change': deviceOwnedArb.chain((m) =>
    record({ type: fc.constant('state-change'), model: fc.constant(m.name), record: stateRecordArb(m), seal: fc.option(sealArb(), { nil: null }) }),
  ),
  'state-batch': deviceOwnedArb.chain((m) =>
    record({ type: fc.constant('state-batch'), model: fc.constant(m.name), records: fc.array(stateRecordArb(m), { maxLength: 6 }), seal: fc.option(sealArb(), { nil: null }) }),
  ),
  'shared-change': record({ type: fc.constant('shared-change'), change: anySharedChangeArb }),
  'shared-change-batch': record({ type: fc.constant('shared-change-batch'), changes: fc.array(anySharedChangeArb, { maxLength: 6 }) }),
  'state-request': record({
    type: fc.constant('state-request'),
    requestId: requestIdArb,
    model: deviceOwnedArb.map((m) => m.name),
    owner: idArb,
    after: fc.option(timeArb, { nil: null }),
    limit: fc.integer({ min: 1, max: MAX_RECORDS }),
    asHeld: fc.boolean(),
  }),
  'state-response': fc.tuple(deviceOwnedArb, idArb).chain(([m, owner]) =>
    record({
      type: fc.constant('state-response'),
      requestId: requestIdArb,
      model: fc.constant(m.name),
      owner: fc.constant(owner),
      records: fc.array(stateRecordArb(m, owner), { maxLength: 6 }),
      hasMore: fc.boolean(),
      remaining: fc.nat(),
      completeThrough: fc.option(fc.uint8Array({ minLength: 8, maxLength: 8 }), { nil: null }),
      seal: fc.option(sealArb(owner), { nil: null }),
    }),
  ),
  'shared-change-request': record({
    type: fc.constant('shared-change-request'),
    requestId: requestIdArb,
    have: vectorArb,
    limit: fc.integer({ min: 1, max: MAX_RECORDS }),
    snapshot: fc.option(
      sharedArb.map((m) => m.name),
      { nil: null },
    ).chain((model) => (model === null ? fc.constant(null) : record({ model: fc.constant(model), after: fc.option(idArb, { nil: null }) }))),
  }),
  'shared-change-response': record({
    type: fc.constant('shared-change-response'),
    requestId: requestIdArb,
    changes: fc.array(anySharedChangeArb, { maxLength: 4 }),
    hasMore: fc.boolean(),
    snapshot: fc.option(
      sharedArb.chain((m) =>
        record({ model: fc.constant(m.name), rows: fc.array(sharedRowArb(m), { maxLength: 4 }), after: fc.option(idArb, { nil: null }), hasMore: fc.boolean(), base: vectorArb }),
      ),
      { nil: null },
    ),
    pruned: fc.uniqueArray(idArb, { maxLength: 3, selector: (b) => Buffer.from(b).toString('hex') }),
  }),
  ack: record({ type: fc.constant('ack'), vector: vectorArb }),
  heartbeat: record({ type: fc.constant('heartbeat'), nowMs: fc.oneof(msArb, fc.constant(0), fc.constant(Number.MAX_SAFE_INTEGER)) }),
  error: record({
    type: fc.constant('error'),
    requestId: fc.integer({ min: 0, max: 0xffff_ffff }),
    code: fc.constantFrom(...ERROR_CODES),
    message: fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: MAX_ERROR_MESSAGE_CHARS })).filter((s) => s.length <= MAX_ERROR_MESSAGE_CHARS),
  }),
};

// ---------------------------------------------------------------------------
// Helpers

const uint = (n: number) => new Uint8Array(c.encode(c.uint, n));
const str = (s: string) => new Uint8Array(c.encode(c.string, s));
const type = (t: MessageType) => uint(MESSAGE_CODES[t]);
const id = (n: number) => new Uint8Array(16).fill(n);
/** A uint prefix claiming 2^40. */
const HUGE = uint(2 ** 40);

function expectProtocolError(fn: () => unknown, code: ErrorCode): ProtocolError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof ProtocolError, `expected ProtocolError ${code}, got ${thrown === undefined ? 'no error' : String(thrown)}`);
  assert.equal(thrown.code, code, thrown.message);
  return thrown;
}

/** Decoding either yields a message that re-encodes to an equal message, or throws ProtocolError. */
function decodesSafely(bytes: Uint8Array): 'ok' | ErrorCode {
  let msg: Message;
  try {
    msg = decodeMessage(bytes);
  } catch (e) {
    if (!(e instanceof ProtocolError)) assert.fail(`decode threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    assert.ok((ERROR_CODES as readonly string[]).includes(e.code), e.code);
    return e.code;
  }
  assert.deepEqual(decodeMessage(encodeMessage(msg)), msg);
  return 'ok';
}

const sample = <T>(arb: fc.Arbitrary<T>, n: number, seed: number) => fc.sample(arb, { numRuns: n, seed });

// ---------------------------------------------------------------------------

describe('protocol: message codecs', () => {
  it('round-trips every message type', () => {
    for (const [t, arb] of Object.entries(arbs)) {
      fc.assert(
        fc.property(arb as fc.Arbitrary<Message>, (msg) => {
          const bytes = encodeMessage(msg);
          assert.equal(bytes.byteLength, encodedLength(msg), t);
          assert.deepEqual(decodeMessage(bytes), msg, t);
          assert.deepEqual(decodeMessage(Buffer.from(bytes)), msg, 'a Buffer decodes the same');
        }),
        { numRuns: 60, seed: 1 },
      );
    }
  });

  it('carries state records and shared changes and rows of every model in each message that holds them', () => {
    for (const m of registry.deviceOwned) {
      const owner = id(9);
      const records = sample(stateRecordArb(m, owner), 40, 7);
      assert.ok(records.some((r) => r.deleted) && records.some((r) => !r.deleted), m.name);
      const msgs: Message[] = [
        { type: 'state-change', model: m.name, record: records[0], seal: null },
        { type: 'state-batch', model: m.name, records, seal: null },
        { type: 'state-request', requestId: 7, model: m.name, owner, after: new Uint8Array(8).fill(1), limit: MAX_RECORDS, asHeld: true },
        { type: 'state-response', requestId: 7, model: m.name, owner, records, hasMore: true, remaining: 123_456, completeThrough: new Uint8Array(8).fill(9), seal: null },
      ];
      for (const msg of msgs) assert.deepEqual(decodeMessage(encodeMessage(msg)), msg, `${m.name} ${msg.type}`);
    }
    for (const m of registry.shared) {
      const changes = sample(sharedChangeArb(m), 40, 8);
      for (const op of ['create', 'update', 'delete']) assert.ok(changes.some((ch) => ch.op === op), `${m.name} ${op}`);
      const rows = sample(sharedRowArb(m), 20, 9);
      const msgs: Message[] = [
        { type: 'shared-change', change: changes[0] },
        { type: 'shared-change-batch', changes },
        { type: 'shared-change-response', requestId: 3, changes, hasMore: false, snapshot: { model: m.name, rows, after: rows[0].uuid, hasMore: true, base: [{ origin: id(4), seq: 7 }] }, pruned: [id(1), id(2)] },
      ];
      for (const msg of msgs) assert.deepEqual(decodeMessage(encodeMessage(msg)), msg, `${m.name} ${msg.type}`);
    }
  });

  it('sends a snapshot field stamp equal to the row\'s createdHlc as one bit, not 24 bytes', () => {
    const created = { ms: 1_700_000_000_000, counter: 2, device: id(5) };
    const edited = { ms: 1_700_000_000_100, counter: 0, device: id(6) };
    const row = (descriptionHlc: Hlc): SharedRow => ({
      uuid: id(1),
      hlc: edited,
      live: true,
      createdHlc: created,
      deletedHlc: null,
      data: { name: 'reading list', description: 'later' },
      fieldHlcs: { name: created, description: descriptionHlc },
    });
    const msg = (r: SharedRow): Message => ({ type: 'shared-change-response', requestId: 1, changes: [], hasMore: false, snapshot: { model: 'album', rows: [r], after: null, hasMore: false, base: [] }, pruned: [] });
    const same = encodeMessage(msg(row({ ...created, device: Uint8Array.from(created.device) })));
    const other = encodeMessage(msg(row(edited)));
    assert.equal(other.byteLength - same.byteLength, 24);
    assert.deepEqual(decodeMessage(same), msg(row(created)));
    assert.deepEqual(decodeMessage(other), msg(row(edited)));
  });

  it('carries the largest values each field allows', () => {
    for (const m of registry.all) {
      const data: RecordData = {};
      for (const f of m.fields) {
        data[f.name] =
          f.type === 'id' ? id(0xff) : f.type === 'int' ? Math.min(f.max ?? INT_MAX, INT_MAX) : f.type === 'bool' ? true : f.type === 'json' ? JSON.stringify('✓'.repeat((f.maxLength ?? 4096) - 2)) : '✓'.repeat(f.maxLength ?? 4096);
      }
      const hlc = { ms: MAX_MS, counter: MAX_COUNTER, device: id(0xff) };
      const msg: Message =
        m.kind === 'device-owned'
          ? { type: 'state-batch', model: m.name, records: [{ uuid: id(1), hlc, deleted: false, data }], seal: null }
          : { type: 'shared-change', change: { model: m.name, uuid: m.derivedId(data) ?? id(1), hlc, seq: Number.MAX_SAFE_INTEGER, op: 'create', device: id(0xff), incarnation: new Uint8Array(0), publicKey: new Uint8Array(32).fill(0xff), signature: new Uint8Array(64).fill(0xff), data } };
      assert.deepEqual(decodeMessage(encodeMessage(msg)), msg, m.name);
    }
  });

  it('a full batch of MAX_RECORDS entries fits; one more does not', () => {
    const entry = registry.deviceOwnedModel('entry');
    const rec = (i: number): StateRecord => ({
      uuid: id(i & 0xff),
      hlc: { ms: 1_700_000_000_000 + i, counter: 0, device: id(3) },
      deleted: false,
      data: { location: id(4), parent: id(5), name: `file-${i}.ts`, kind: 0, size: i * 100, mtime: 1_700_000_000_000 },
    });
    const records = Array.from({ length: MAX_RECORDS }, (_, i) => rec(i));
    const msg: Message = { type: 'state-batch', model: entry.name, records, seal: null };
    assert.deepEqual(decodeMessage(encodeMessage(msg)), msg);
    expectProtocolError(() => encodeMessage({ ...msg, records: [...records, rec(1)] }), 'too-large');
  });

  it('refuses to encode what a peer would refuse', () => {
    const hlc = { ms: 1, counter: 0, device: id(1) };
    const enc = (m: unknown) => () => encodeMessage(m as Message);
    expectProtocolError(enc({ type: 'nope' }), 'unknown-type');
    expectProtocolError(enc(null), 'unknown-type');
    expectProtocolError(enc({ type: 'state-batch', model: 'tag', records: [] }), 'unknown-model');
    expectProtocolError(enc({ type: 'state-batch', model: 'bogus', records: [] }), 'unknown-model');
    expectProtocolError(enc({ type: 'shared-change', change: { model: 'entry', uuid: id(1), hlc, seq: 1, op: 'delete', data: {} } }), 'unknown-model');
    expectProtocolError(enc({ type: 'shared-change', change: { model: 'tag', uuid: id(1), hlc, seq: 0, op: 'delete', data: {} } }), 'bad-record');
    expectProtocolError(enc({ type: 'shared-change', change: { model: 'tag', uuid: id(1), hlc, seq: 1, op: 'merge', data: {} } }), 'bad-record');
    expectProtocolError(enc({ type: 'shared-change', change: { model: 'tag', uuid: id(1), hlc, seq: 1, op: 'update', data: { name: 'x'.repeat(257) } } }), 'bad-record');
    expectProtocolError(enc({ type: 'shared-change', change: { model: 'tag', uuid: id(1), hlc, seq: 1, op: 'update', data: { colour: 'red' } } }), 'bad-record');
    expectProtocolError(enc({ type: 'shared-change', change: { model: 'tag', uuid: id(1), hlc: { ...hlc, ms: -1 }, seq: 1, op: 'delete', data: {} } }), 'bad-record');
    expectProtocolError(enc({ type: 'state-change', model: 'device', record: { uuid: new Uint8Array(15), hlc, deleted: false, data: {} } }), 'bad-record');
    // A safe integer beyond compact-encoding's int range (±2^52) is refused by the encoder, not sent broken.
    const bigFile = { location: id(1), parent: null, name: 'big', kind: 0, size: 2 ** 52 + 5, mtime: 0 };
    expectProtocolError(enc({ type: 'state-change', model: 'entry', record: { uuid: id(2), hlc, deleted: false, data: bigFile } }), 'bad-record');
    expectProtocolError(enc({ type: 'state-request', requestId: 0, model: 'entry', owner: id(1), after: null, limit: 10, asHeld: false }), 'bad-record');
    expectProtocolError(enc({ type: 'state-request', requestId: 1, model: 'entry', owner: id(1), after: null, limit: MAX_RECORDS + 1, asHeld: false }), 'bad-record');
    expectProtocolError(enc({ type: 'state-request', requestId: 1, model: 'entry', owner: id(1), after: new Uint8Array(7), limit: 1, asHeld: false }), 'bad-record');
    expectProtocolError(enc({ type: 'hello', protocolVersion: PROTOCOL_VERSION + 1, libraryId: id(1), deviceId: id(2), vector: [], watermarks: [], shared: [], settled: true }), 'version');
    expectProtocolError(enc({ type: 'ack', vector: [{ origin: id(1), seq: 1 }, { origin: id(1), seq: 2 }] }), 'bad-record');
    expectProtocolError(enc({ type: 'ack', vector: Array.from({ length: MAX_VECTOR_ENTRIES + 1 }, () => ({ origin: id(1), seq: 1 })) }), 'too-large');
    expectProtocolError(enc({ type: 'error', requestId: 0, code: 'oops', message: '' }), 'bad-record');
    expectProtocolError(enc({ type: 'error', requestId: 0, code: 'internal', message: 'x'.repeat(MAX_ERROR_MESSAGE_CHARS + 1) }), 'too-large');
    expectProtocolError(
      enc({ type: 'state-response', requestId: 1, model: 'device', owner: id(1), records: [{ uuid: id(1), hlc: { ...hlc, device: id(2) }, deleted: true, data: {} }], hasMore: false, remaining: 0, completeThrough: null }),
      'not-owner',
    );
    expectProtocolError(
      enc({
        type: 'shared-change-response',
        requestId: 1,
        changes: [],
        hasMore: false,
        snapshot: { model: 'tag', rows: [{ uuid: id(1), hlc, live: true, createdHlc: hlc, deletedHlc: null, data: {}, fieldHlcs: { name: hlc } }], after: null, hasMore: false, base: [] },
        pruned: [],
      }),
      'bad-record',
    );
  });

  it('refuses to encode a message over MAX_FRAME_BYTES', () => {
    const um = registry.sharedModel('user_metadata');
    const note = 'n'.repeat(65_536);
    const hlc = { ms: 1, counter: 0, device: id(1) };
    const rows: SharedRow[] = Array.from({ length: Math.ceil(MAX_FRAME_BYTES / note.length) + 1 }, (_, i) => ({
      uuid: id(i),
      hlc,
      live: true,
      createdHlc: hlc,
      deletedHlc: null,
      data: { workspace_key: 'k', path: `p${i}`, note },
      fieldHlcs: { workspace_key: hlc, path: hlc, note: hlc },
    }));
    const msg: Message = { type: 'shared-change-response', requestId: 1, changes: [], hasMore: false, snapshot: { model: um.name, rows, after: null, hasMore: true, base: [] }, pruned: [] };
    const err = expectProtocolError(() => encodeMessage(msg), 'too-large');
    assert.equal(err.requestId, 1);
    expectProtocolError(() => decodeMessage(new Uint8Array(MAX_FRAME_BYTES + 1)), 'too-large');
  });

  it('refuses a Hello of another protocol version', () => {
    const hello: Message = { type: 'hello', protocolVersion: PROTOCOL_VERSION, libraryId: id(1), deviceId: id(2), vector: [], watermarks: [], shared: [], settled: true, seals: [] };
    const bytes = encodeMessage(hello);
    assert.equal(bytes[1], PROTOCOL_VERSION, 'the version follows the type');
    const err = expectProtocolError(() => decodeMessage(concat(type('hello'), uint(PROTOCOL_VERSION + 1), bytes.subarray(2))), 'version');
    assert.equal(err.messageType, 'hello');
    expectProtocolError(() => decodeMessage(concat(type('hello'), uint(PROTOCOL_VERSION + 1))), 'version');
  });

  it('builds Error messages from errors, cut to the wire limit', () => {
    const long = errorMessage(new ProtocolError('clock-drift', '✓'.repeat(5000)), 9);
    assert.equal(long.code, 'clock-drift');
    assert.equal(long.requestId, 9);
    assert.ok(long.message.length <= MAX_ERROR_MESSAGE_CHARS);
    assert.deepEqual(decodeMessage(encodeMessage(long)), long);
    const pairs = errorMessage('internal', '😀'.repeat(2000));
    assert.ok(pairs.message.length <= MAX_ERROR_MESSAGE_CHARS);
    assert.deepEqual(decodeMessage(encodeMessage(pairs)), pairs);
    assert.equal(errorMessage(new TypeError('boom')).code, 'internal');
  });
});

describe('protocol: decoding hostile input', () => {
  let cases = 0;
  const check = (bytes: Uint8Array) => {
    cases++;
    return decodesSafely(bytes);
  };

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        check(bytes);
      }),
      { numRuns: 3000, seed: 11 },
    );
    // Past the type code: random payloads for every message type.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.uint8Array({ maxLength: 256 }), (t, payload) => {
        check(concat(uint(t), payload));
      }),
      { numRuns: 5000, seed: 12 },
    );
  });

  // Valid messages to damage: every type, a few of each.
  const valid = Object.values(arbs).flatMap((arb, i) => sample(arb as fc.Arbitrary<Message>, 4, 100 + i).map((m) => encodeMessage(m)));

  it('truncations of valid messages at every length', () => {
    for (const bytes of valid) {
      for (let cut = 0; cut < bytes.byteLength; cut++) assert.equal(check(bytes.subarray(0, cut)), 'bad-frame', `cut at ${cut}`);
      assert.equal(check(concat(bytes, new Uint8Array([0]))), 'bad-frame', 'a trailing byte');
    }
  });

  it('bit flips and byte overwrites of valid messages', () => {
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.nat(), fc.nat(7), (which, at, bit) => {
        const bytes = Uint8Array.from(valid[which]);
        bytes[at % bytes.byteLength] ^= 1 << bit;
        check(bytes);
      }),
      { numRuns: 6000, seed: 13 },
    );
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 9 }), (which, at, patch) => {
        const bytes = Uint8Array.from(valid[which]);
        bytes.set(patch.subarray(0, bytes.byteLength - (at % bytes.byteLength)), at % bytes.byteLength);
        check(bytes);
      }),
      { numRuns: 3000, seed: 14 },
    );
  });

  it('huge and lying length prefixes fail before allocating', () => {
    const rec = encodeWith(stateRecordEncoding(registry.deviceOwnedModel('device')), {
      uuid: id(1),
      hlc: { ms: 1, counter: 0, device: id(1) },
      deleted: true,
      data: {},
    });
    const lyingBatch = concat(type('state-batch'), str('device'), uint(MAX_RECORDS), rec);
    const lyingVector = concat(type('hello'), uint(PROTOCOL_VERSION), id(1), id(2), uint(MAX_VECTOR_ENTRIES), id(3), uint(1));
    const lying = new Set([lyingBatch, lyingVector]);
    const cases_: [Uint8Array, ErrorCode][] = [
      [concat(type('state-batch'), str('entry'), HUGE), 'too-large'],
      [concat(type('state-batch'), str('entry'), uint(MAX_RECORDS + 1)), 'too-large'],
      [lyingBatch, 'bad-frame'],
      [concat(type('shared-change-batch'), HUGE), 'too-large'],
      [concat(type('hello'), uint(PROTOCOL_VERSION), id(1), id(2), HUGE), 'too-large'],
      [concat(type('hello'), uint(PROTOCOL_VERSION), id(1), id(2), uint(MAX_VECTOR_ENTRIES + 1)), 'too-large'],
      [lyingVector, 'bad-frame'],
      [concat(type('hello'), uint(PROTOCOL_VERSION), id(1), id(2), uint(0), HUGE), 'too-large'],
      [concat(type('ack'), HUGE), 'too-large'],
      [concat(type('shared-change-request'), uint(1), HUGE), 'too-large'],
      [concat(type('shared-change-response'), uint(1), uint(0), uint(0), uint(0), HUGE), 'too-large'],
      [concat(type('shared-change-response'), uint(1), uint(0), uint(0), uint(1), str('tag'), HUGE), 'too-large'],
      [concat(type('state-response'), uint(1), str('entry'), id(1), HUGE), 'too-large'],
      [concat(type('error'), uint(0), uint(0), HUGE), 'too-large'],
      [concat(type('error'), uint(0), uint(0), uint(3 * MAX_ERROR_MESSAGE_CHARS + 1)), 'too-large'],
      [concat(type('error'), uint(0), uint(0), str('x'.repeat(MAX_ERROR_MESSAGE_CHARS + 1))), 'too-large'],
      [concat(type('error'), uint(0), uint(0), uint(1000), new Uint8Array(10)), 'bad-frame'],
      [concat(type('state-batch'), HUGE), 'unknown-model'],
      [concat(type('state-batch'), uint(0xffff_ffff)), 'unknown-model'],
      [concat(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), 'bad-frame'],
    ];
    for (const [bytes, code] of cases_) {
      cases++;
      const err = expectProtocolError(() => decodeMessage(bytes), code);
      // A count larger than the bytes left is refused from the count alone, before any element is read.
      if (lying.has(bytes)) assert.match(err.message, /claims \d+ elements but only \d+ bytes remain/);
    }
  });

  it('well-formed frames with values of the wrong kind', () => {
    const hlc = { ms: 1_700_000_000_000, counter: 1, device: id(7) };
    const deviceRec = encodeWith(stateRecordEncoding(registry.deviceOwnedModel('device')), { uuid: id(1), hlc, deleted: true, data: {} });
    const tagChange = (data: RecordData, op: SharedChange['op'] = 'update', seq = 1) =>
      encodeWith(sharedChangeEncoding(registry.sharedModel('tag')), { model: 'tag', uuid: id(1), hlc, seq, op, device: hlc.device, incarnation: new Uint8Array(0), publicKey: new Uint8Array(32), signature: new Uint8Array(64), data });
    const entryData = (kind: number) => registry.deviceOwnedModel('entry').codec.encode({ location: id(1), parent: null, name: 'a', kind: 0, size: 0, mtime: 0 }).map((b, i, a) => (i === a.length - 3 ? kind : b));
    const cases_: [string, Uint8Array, ErrorCode][] = [
      ['state batch of a shared model', concat(type('state-batch'), str('tag'), uint(1), deviceRec), 'unknown-model'],
      ['state batch of an unknown model', concat(type('state-batch'), str('bogus'), uint(0)), 'unknown-model'],
      ['state change of a shared model', concat(type('state-change'), str('album'), deviceRec), 'unknown-model'],
      ['shared change of a device-owned model', concat(type('shared-change'), str('entry'), tagChange({})), 'unknown-model'],
      ['shared change of an unknown model', concat(type('shared-change-batch'), uint(2), str('tag'), tagChange({}), str('tags'), tagChange({})), 'unknown-model'],
      ['watermark of a shared model', concat(type('hello'), uint(PROTOCOL_VERSION), id(1), id(2), uint(0), uint(1), id(3), str('tag'), new Uint8Array(8), uint(0), new Uint8Array(16), new Uint8Array(1)), 'unknown-model'],
      ['snapshot of a device-owned model', concat(type('shared-change-response'), uint(1), uint(0), uint(0), uint(1), str('device'), uint(0), uint(0), uint(0), uint(0)), 'unknown-model'],
      ['state request of a shared model', concat(type('state-request'), uint(1), str('user_metadata'), id(1), uint(0), uint(10)), 'unknown-model'],
      ['unknown type 0', uint(0), 'unknown-type'],
      ['unknown type 13', uint(13), 'unknown-type'],
      ['unknown type 2^40', HUGE, 'unknown-type'],
      ['empty', new Uint8Array(0), 'bad-frame'],
      ['request id 0', concat(type('state-request'), uint(0), str('entry'), id(1), uint(0), uint(10)), 'bad-record'],
      ['request id over 2^32', concat(type('shared-change-request'), uint(2 ** 33), uint(0), uint(10)), 'bad-record'],
      ['limit 0', concat(type('state-request'), uint(5), str('entry'), id(1), uint(0), uint(0)), 'bad-record'],
      ['limit over MAX_RECORDS', concat(type('shared-change-request'), uint(5), uint(0), uint(MAX_RECORDS + 1)), 'bad-record'],
      ['boolean 2', concat(type('state-response'), uint(5), str('entry'), id(1), uint(0), uint(2), uint(0)), 'bad-record'],
      ['null flag 2', concat(type('state-request'), uint(5), str('entry'), id(1), uint(2), uint(1)), 'bad-record'],
      ['unknown error code', concat(type('error'), uint(0), uint(ERROR_CODES.length), str('x')), 'bad-record'],
      ['duplicate vector origin', concat(type('ack'), uint(2), id(1), uint(1), id(1), uint(2)), 'bad-record'],
      ['duplicate pruned origin', concat(type('shared-change-response'), uint(1), uint(0), uint(0), uint(0), uint(2), id(1), id(1)), 'bad-record'],
      ['record of another owner in a response', concat(type('state-response'), uint(5), str('device'), id(1), uint(1), deviceRec, uint(0), uint(0), uint(0), uint(0)), 'not-owner'],
      [
        "another owner's seal in a response",
        concat(type('state-response'), uint(5), str('device'), id(1), uint(0), uint(0), uint(0), uint(0), uint(1), id(2), new Uint8Array(8), new Uint8Array(8), new Uint8Array(8), uint(0), new Uint8Array(32), new Uint8Array(32), new Uint8Array(64)),
        'not-owner',
      ],
      ['seq 0', concat(type('shared-change'), str('tag'), tagChange({}, 'delete', 1).map((b, i) => (i === 40 ? 0 : b))), 'bad-record'],
      ['operation 3', concat(type('shared-change'), str('tag'), tagChange({}, 'delete', 1).map((b, i) => (i === 41 ? 3 : b))), 'bad-record'],
      ['string longer than the frame', concat(type('shared-change'), str('tag'), tagChange({ name: 'x'.repeat(100) }).map((b, i, a) => (i === a.length - 64 - 101 ? 0xfd : b))), 'bad-frame'],
      ['text over its maxLength', concat(type('shared-change'), str('tag'), tagChange({ name: 'x'.repeat(257) })), 'bad-record'],
      ['int out of range', concat(type('state-batch'), str('entry'), uint(1), id(1), new Uint8Array(24), uint(0), entryData(2 * 7)), 'bad-record'],
      ['bitmap naming fields the model lacks', concat(type('state-batch'), str('device'), uint(1), id(1), new Uint8Array(24), uint(1), uint(0xff), uint(0)), 'bad-record'],
      ['invalid JSON', concat(type('shared-change'), str('user_metadata'), id(1), new Uint8Array(24), uint(1), uint(1), id(2), new Uint8Array(1), new Uint8Array(32), uint(1 << 5), uint(0), str('{nope')), 'bad-record'],
      ['snapshot stamp for an absent field', concat(type('shared-change-response'), uint(1), uint(0), uint(0), uint(1), str('tag'), uint(1), id(1), new Uint8Array(24), uint(1), uint(0), uint(0), uint(0), uint(0), uint(1), uint(0), new Uint8Array(24), uint(0), uint(0), uint(0)), 'bad-record'],
      ['snapshot stamp "as created" without createdHlc', concat(type('shared-change-response'), uint(1), uint(0), uint(0), uint(1), str('album'), uint(1), id(1), new Uint8Array(24), uint(1), uint(0), uint(0), uint(1), uint(0), str('a'), uint(1), uint(1), uint(0), uint(0), uint(0)), 'bad-record'],
    ];
    for (const [what, bytes, code] of cases_) {
      cases++;
      const err = expectProtocolError(() => decodeMessage(bytes), code);
      assert.ok(err.message.length > 0, what);
    }
  });

  it('an error in a request carries its requestId', () => {
    const err = expectProtocolError(() => decodeMessage(concat(type('state-request'), uint(77), str('tag'), id(1), uint(0), uint(10))), 'unknown-model');
    assert.equal(err.requestId, 77);
    assert.equal(err.messageType, 'state-request');
    assert.deepEqual(errorMessage(err), { type: 'error', requestId: 77, code: 'unknown-model', message: err.message });
    const truncated = expectProtocolError(() => decodeMessage(concat(type('shared-change-response'), uint(300))), 'bad-frame');
    assert.equal(truncated.requestId, 300);
  });

  it(`ran at least 20,000 hostile inputs`, () => {
    assert.ok(cases >= 20_000, `only ${cases}`);
  });
});
