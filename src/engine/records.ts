/**
 * Binary codecs for the two kinds of synced record: device-owned state and
 * shared changes. Used for parked records and by the wire protocol.
 */
import c from 'compact-encoding';
import { RecordFormatError } from '../models/fields';
import type { DeviceOwnedModel, SharedChange, SharedModel, SharedOp, StateRecord } from '../models/model';
import { decodeHlc, encodeHlc, encodeHlcTime, HLC_BYTES, HLC_TIME_BYTES, readHlc, type Hlc } from '../core/hlc';
import { ID_BYTES, INCARNATION_BYTES, readId } from '../core/ids';

const OPS: readonly SharedOp[] = ['create', 'update', 'delete'];
const id = c.fixed(ID_BYTES);
const hlc = c.fixed(HLC_BYTES);

export function stateRecordEncoding(model: DeviceOwnedModel): c.Encoder<StateRecord> {
  // Consecutive records mostly share their owner: one id object for all of them.
  let lastDevice: Uint8Array | null = null;
  return {
    preencode(state, r) {
      state.end += ID_BYTES + HLC_BYTES;
      c.bool.preencode(state, r.deleted);
      model.codec.preencode(state, r.data);
    },
    encode(state, r) {
      id.encode(state, r.uuid);
      writeHlc(state, r.hlc);
      c.bool.encode(state, r.deleted);
      model.codec.encodeInto(state, r.data);
    },
    decode(state) {
      if (state.end - state.start < ID_BYTES + HLC_BYTES) throw new Error('Out of bounds');
      const uuid = readId(state.buffer!, state.start, null);
      const stamp = readHlc(state.buffer!, state.start + ID_BYTES, lastDevice);
      lastDevice = stamp.device;
      state.start += ID_BYTES + HLC_BYTES;
      const deleted = c.bool.decode(state);
      const data = model.codec.decodeFrom(state);
      return { uuid, hlc: stamp, deleted, data };
    },
  };
}

/** Writes a 24-byte stamp in place (no intermediate array: a backfill encodes a million). */
function writeHlc(state: c.State, h: Hlc): void {
  encodeHlcTime(h, state.buffer!, state.start);
  state.buffer!.set(h.device, state.start + HLC_TIME_BYTES);
  state.start += HLC_BYTES;
}

/**
 * uuid, stamp (whose device is the origin), seq, op, the author device, its
 * incarnation (length byte, then 0 or INCARNATION_BYTES), data.
 */
export function sharedChangeEncoding(model: SharedModel): c.Encoder<SharedChange> {
  // A page of changes mostly shares its author: one id object for all of them.
  let lastDevice: Uint8Array | null = null;
  return {
    preencode(state, ch) {
      id.preencode(state, ch.uuid);
      hlc.preencode(state, encodeHlc(ch.hlc));
      c.uint.preencode(state, ch.seq);
      c.uint.preencode(state, OPS.indexOf(ch.op));
      id.preencode(state, ch.device);
      state.end += 1 + ch.incarnation.byteLength;
      model.codec.preencode(state, ch.data);
    },
    encode(state, ch) {
      id.encode(state, ch.uuid);
      hlc.encode(state, encodeHlc(ch.hlc));
      c.uint.encode(state, ch.seq);
      c.uint.encode(state, OPS.indexOf(ch.op));
      id.encode(state, ch.device);
      state.buffer![state.start++] = ch.incarnation.byteLength;
      state.buffer!.set(ch.incarnation, state.start);
      state.start += ch.incarnation.byteLength;
      model.codec.encodeInto(state, ch.data);
    },
    decode(state) {
      const uuid = Uint8Array.from(id.decode(state));
      const stamp = decodeHlc(Uint8Array.from(hlc.decode(state)));
      const seq = c.uint.decode(state);
      const op = OPS[c.uint.decode(state)];
      if (!op) throw new RecordFormatError(`${model.name}: unknown change operation`);
      if (seq < 1) throw new RecordFormatError(`${model.name}: log sequence must be ≥ 1`);
      if (state.end - state.start < ID_BYTES + 1) throw new Error('Out of bounds');
      const device = readId(state.buffer!, state.start, lastDevice);
      lastDevice = device;
      state.start += ID_BYTES;
      const n = state.buffer![state.start++];
      if (n !== 0 && n !== INCARNATION_BYTES) throw new RecordFormatError(`${model.name}: an incarnation is ${INCARNATION_BYTES} bytes, not ${n}`);
      if (state.end - state.start < n) throw new Error('Out of bounds');
      const incarnation = Uint8Array.from(state.buffer!.subarray(state.start, state.start + n));
      state.start += n;
      const data = model.codec.decodeFrom(state);
      return { model: model.name, uuid, hlc: stamp, seq, op, device, incarnation, data };
    },
  };
}

/**
 * Decodes a shared change in the layout parked before changes named their
 * writer (uuid, stamp, seq, op, data): its origin was its device.
 */
export function legacySharedChangeEncoding(model: SharedModel): c.Encoder<SharedChange> {
  return {
    preencode() {
      throw new Error('legacy changes are only read');
    },
    encode() {
      throw new Error('legacy changes are only read');
    },
    decode(state) {
      const uuid = Uint8Array.from(id.decode(state));
      const stamp = decodeHlc(Uint8Array.from(hlc.decode(state)));
      const seq = c.uint.decode(state);
      const op = OPS[c.uint.decode(state)];
      if (!op) throw new RecordFormatError(`${model.name}: unknown change operation`);
      const data = model.codec.decodeFrom(state);
      return { model: model.name, uuid, hlc: stamp, seq, op, device: stamp.device, incarnation: new Uint8Array(0), data };
    },
  };
}

export function opCode(op: SharedOp): number {
  return OPS.indexOf(op);
}

export function opFromCode(code: number): SharedOp {
  const op = OPS[code];
  if (!op) throw new RecordFormatError(`unknown change operation ${code}`);
  return op;
}

/** Encodes with a compact-encoding encoder; decodes wrapping every failure in RecordFormatError. */
export function encodeWith<T>(enc: c.Encoder<T>, value: T): Uint8Array {
  return c.encode(enc, value);
}

export function decodeWith<T>(enc: c.Encoder<T>, bytes: Uint8Array, what: string): T {
  const state = c.state(0, bytes.byteLength, bytes);
  let value: T;
  try {
    value = enc.decode(state);
  } catch (e) {
    if (e instanceof RecordFormatError) throw e;
    throw new RecordFormatError(`${what}: malformed (${(e as Error).message})`);
  }
  if (state.start !== state.end) throw new RecordFormatError(`${what}: ${state.end - state.start} trailing bytes`);
  return value;
}
