/**
 * Binary codecs for the two kinds of synced record: device-owned state and
 * shared changes. Used for parked records and by the wire protocol.
 */
import c from 'compact-encoding';
import { RecordFormatError } from '../models/fields';
import type { DeviceOwnedModel, SharedChange, SharedModel, SharedOp, StateRecord } from '../models/model';
import { decodeHlc, encodeHlc, encodeHlcTime, HLC_BYTES, HLC_TIME_BYTES, readHlc, type Hlc } from '../core/hlc';
import { ID_BYTES, INCARNATION_BYTES, readId } from '../core/ids';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../core/signing';

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
 * incarnation (length byte, then 0 or INCARNATION_BYTES), its public key
 * (32 bytes), data, then the signature (64 bytes) unless `unsigned`.
 */
export function sharedChangeEncoding(model: SharedModel, unsigned = false): c.Encoder<SharedChange> {
  // A page of changes mostly shares its author: one id (and key) object for all of them.
  let lastDevice: Uint8Array | null = null;
  let lastKey: Uint8Array | null = null;
  return {
    preencode(state, ch) {
      id.preencode(state, ch.uuid);
      hlc.preencode(state, encodeHlc(ch.hlc));
      c.uint.preencode(state, ch.seq);
      c.uint.preencode(state, OPS.indexOf(ch.op));
      id.preencode(state, ch.device);
      state.end += 1 + ch.incarnation.byteLength + PUBLIC_KEY_BYTES;
      model.codec.preencode(state, ch.data);
      if (!unsigned) state.end += SIGNATURE_BYTES;
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
      putFixed(state, ch.publicKey, PUBLIC_KEY_BYTES, 'public key');
      model.codec.encodeInto(state, ch.data);
      if (!unsigned) putFixed(state, ch.signature, SIGNATURE_BYTES, 'signature');
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
      if (state.end - state.start < PUBLIC_KEY_BYTES) throw new Error('Out of bounds');
      const publicKey = lastKey && sameBytes(lastKey, state.buffer!, state.start) ? lastKey : Uint8Array.from(state.buffer!.subarray(state.start, state.start + PUBLIC_KEY_BYTES));
      lastKey = publicKey;
      state.start += PUBLIC_KEY_BYTES;
      const data = model.codec.decodeFrom(state);
      let signature = EMPTY;
      if (!unsigned) {
        if (state.end - state.start < SIGNATURE_BYTES) throw new Error('Out of bounds');
        signature = Uint8Array.from(state.buffer!.subarray(state.start, state.start + SIGNATURE_BYTES));
        state.start += SIGNATURE_BYTES;
      }
      return { model: model.name, uuid, hlc: stamp, seq, op, device, incarnation, publicKey, signature, data };
    },
  };
}

const EMPTY = new Uint8Array(0);
const SIGNING_CONTEXT = Buffer.from('leaderless-sync/shared-change/v1\0', 'utf8');

/**
 * What a shared change's signature covers: a fixed context, the library id
 * (a change signed for one library is worth nothing in another), the model
 * name, and the change without its signature.
 */
export function changeSigningBytes(libraryId: Uint8Array, model: SharedModel, ch: SharedChange): Uint8Array {
  const body = c.encode(sharedChangeEncoding(model, true), ch);
  const name = Buffer.from(model.name, 'utf8');
  const out = new Uint8Array(SIGNING_CONTEXT.length + ID_BYTES + 1 + name.length + body.length);
  let at = 0;
  out.set(SIGNING_CONTEXT, at);
  at += SIGNING_CONTEXT.length;
  out.set(libraryId, at);
  at += ID_BYTES;
  out[at++] = name.length;
  out.set(name, at);
  at += name.length;
  out.set(body, at);
  return out;
}

function putFixed(state: c.State, bytes: Uint8Array, size: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength !== size) throw new RecordFormatError(`a change's ${what} is ${size} bytes`);
  state.buffer!.set(bytes, state.start);
  state.start += size;
}

function sameBytes(a: Uint8Array, buf: Uint8Array, at: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[at + i]) return false;
  return true;
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
