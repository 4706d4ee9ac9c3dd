/**
 * The binary layout of every message: one compact-encoding codec per
 * message, declared once (as its fields' codecs, in wire order) and used
 * for encoding and decoding alike.
 *
 * A message is
 *
 *   type      uint   wire code (table below; 0 is never valid)
 *   requestId uint   requests, responses and Error only: 1 … 2^32-1 (Error: 0 = none)
 *   payload          the message's other fields, in declaration order
 *
 * Hello's first payload field is the protocol version, so a peer speaking
 * another version is recognised whatever the rest of its Hello holds.
 * Integers are compact-encoding uints (1, 3, 5 or 9 bytes); ids are 16 raw
 * bytes; HLC stamps 24 bytes, HLC times 8; booleans one byte, 0 or 1; a
 * nullable value is a 0/1 byte then the value; arrays and strings are a
 * uint count then the elements. Model names travel as strings.
 */
import c from 'compact-encoding';
import { registry as defaultRegistry, type Registry } from '../engine/registry';
import { ERROR_CODES, ProtocolError, toProtocolError } from './errors';
import {
  MAX_ERROR_MESSAGE_CHARS,
  MAX_FRAME_BYTES,
  MAX_RECORDS,
  MAX_REQUEST_ID,
  MAX_VECTOR_ENTRIES,
  PROTOCOL_VERSION,
} from './limits';
import type {
  Message,
  MessageOf,
  MessageType,
  OriginSeq,
  SharedSnapshotPage,
  SharedSum,
  SnapshotCursor,
  Watermark,
} from './messages';
import { ModelCodecs } from './model-codecs';
import { idEquals } from '../core/ids';
import { SUM_BYTES } from '../models/owner-state';
import { SEAL_DIGEST_BYTES, type OwnerSeal } from '../engine/owner-seals';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../core/signing';
import {
  bool,
  boundedArray,
  boundedString,
  boundedUint,
  exactUint,
  fail,
  fixedBytes,
  hlcTime,
  id,
  idKeyOf,
  optional,
  stringEnum,
  struct,
  type Codec,
  type FieldCodecs,
} from './primitives';

/** Wire codes. Fixed forever: add new messages with new codes. */
export const MESSAGE_CODES: { readonly [T in MessageType]: number } = {
  hello: 1,
  'state-change': 2,
  'state-batch': 3,
  'shared-change': 4,
  'shared-change-batch': 5,
  'state-request': 6,
  'state-response': 7,
  'shared-change-request': 8,
  'shared-change-response': 9,
  ack: 10,
  heartbeat: 11,
  error: 12,
};

/** Messages whose first field after the type is a requestId. */
const WITH_REQUEST_ID: ReadonlySet<MessageType> = new Set<MessageType>([
  'state-request',
  'state-response',
  'shared-change-request',
  'shared-change-response',
  'error',
]);

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Models a registry may hold, at most (far above the real ones). */
const MAX_MODELS = 64;
const requestId = boundedUint('requestId', 1, MAX_REQUEST_ID);
const limit = boundedUint('limit', 1, MAX_RECORDS);
const seq = boundedUint('seq', 0, MAX_SAFE);

const originSeq = struct<OriginSeq>('vector entry', { origin: id, seq });
const vector = boundedArray('vector', originSeq, { max: MAX_VECTOR_ENTRIES, minItemBytes: 16 + 1, uniqueBy: (e) => idKeyOf(e.origin) });

function message<T extends MessageType>(type: T, fields: FieldCodecs<MessageOf<T>>, check?: (m: MessageOf<T>) => void): Codec<MessageOf<T>> {
  return struct<MessageOf<T>>(type, fields, { init: () => ({ type }) as Partial<MessageOf<T>>, check });
}

type MessageCodecTable = { readonly [T in MessageType]: Codec<MessageOf<T>> };

function messageCodecs(models: ModelCodecs): MessageCodecTable {
  const watermark = struct<Watermark>('watermark', {
    owner: id,
    model: models.deviceOwnedName,
    hlc: hlcTime,
    rows: boundedUint('rows', 0, MAX_SAFE),
    sum: fixedBytes('sum', SUM_BYTES),
    complete: bool,
  });
  const sharedSum = struct<SharedSum>('shared sum', { model: models.sharedName, rows: boundedUint('rows', 0, MAX_SAFE), sum: fixedBytes('sum', SUM_BYTES) });
  const snapshot = struct<SharedSnapshotPage>('snapshot', {
    model: models.sharedName,
    rows: (p) => models.sharedRows(p.model),
    after: optional(id),
    hasMore: bool,
    base: vector,
  });
  const seal = struct<OwnerSeal>('seal', {
    owner: id,
    sealedAt: hlcTime,
    base: hlcTime,
    newest: hlcTime,
    rows: boundedUint('rows', 0, MAX_SAFE),
    digest: fixedBytes('digest', SEAL_DIGEST_BYTES),
    publicKey: fixedBytes('public key', PUBLIC_KEY_BYTES),
    signature: fixedBytes('signature', SIGNATURE_BYTES),
  });
  const snapshotCursor = struct<SnapshotCursor>('snapshot cursor', { model: models.sharedName, after: optional(id) });
  return {
    hello: message('hello', {
      protocolVersion: exactUint('protocol version', PROTOCOL_VERSION, 'version'),
      libraryId: id,
      deviceId: id,
      vector,
      watermarks: boundedArray('watermarks', watermark, {
        max: MAX_VECTOR_ENTRIES,
        minItemBytes: 16 + 2 + 8 + 1 + SUM_BYTES + 1,
        uniqueBy: (w) => idKeyOf(w.owner) + '\0' + w.model,
      }),
      shared: boundedArray('shared sums', sharedSum, { max: MAX_MODELS, minItemBytes: 2 + 1 + SUM_BYTES, uniqueBy: (x) => x.model }),
      settled: bool,
      seals: boundedArray('seals', seal, {
        max: MAX_VECTOR_ENTRIES,
        minItemBytes: 16 + 8 + 8 + 1 + SEAL_DIGEST_BYTES + PUBLIC_KEY_BYTES + SIGNATURE_BYTES,
        uniqueBy: (x) => `${idKeyOf(x.owner)}/${idKeyOf(x.signature)}`,
        // Per device, its newest seal, the one the sender's rows of it last matched, and the latest of a copy of
        // its data its newest one does not descend from (OwnerProofs.sealsToShare).
        perKey: { key: (x) => idKeyOf(x.owner), max: 3 },
      }),
    }),
    'state-change': message('state-change', {
      model: models.deviceOwnedName,
      record: (m) => models.stateRecord(m.model),
      seal: optional(seal),
    }),
    'state-batch': message('state-batch', {
      model: models.deviceOwnedName,
      records: (m) => models.stateRecords(m.model),
      seal: optional(seal),
    }),
    'shared-change': message('shared-change', { change: models.sharedChange }),
    'shared-change-batch': message('shared-change-batch', { changes: models.sharedChanges }),
    'state-request': message('state-request', {
      requestId,
      model: models.deviceOwnedName,
      owner: id,
      after: optional(hlcTime),
      limit,
      asHeld: bool,
    }),
    'state-response': message(
      'state-response',
      {
        requestId,
        model: models.deviceOwnedName,
        owner: id,
        records: (m) => models.stateRecords(m.model),
        hasMore: bool,
        remaining: boundedUint('remaining', 0, MAX_SAFE),
        completeThrough: optional(hlcTime),
        seal: optional(seal),
      },
      (m) => {
        for (const r of m.records) {
          if (!idEquals(r.hlc.device, m.owner)) fail('not-owner', `a ${m.model} record in a response for one owner is stamped by another device`);
        }
        if (m.seal && !idEquals(m.seal.owner, m.owner)) fail('not-owner', `a response for one owner's ${m.model} rows carries another device's seal`);
      },
    ),
    'shared-change-request': message('shared-change-request', { requestId, have: vector, limit, snapshot: optional(snapshotCursor) }),
    'shared-change-response': message('shared-change-response', {
      requestId,
      changes: models.sharedChanges,
      hasMore: bool,
      snapshot: optional(snapshot),
      pruned: boundedArray('pruned', id, { max: MAX_VECTOR_ENTRIES, minItemBytes: 16, uniqueBy: idKeyOf }),
    }),
    ack: message('ack', { vector }),
    heartbeat: message('heartbeat', { nowMs: boundedUint('nowMs', 0, MAX_SAFE) }),
    error: message('error', {
      requestId: boundedUint('requestId', 0, MAX_REQUEST_ID),
      code: stringEnum('error code', ERROR_CODES),
      // A UTF-16 code unit is at most 3 UTF-8 bytes.
      message: boundedString('error message', 3 * MAX_ERROR_MESSAGE_CHARS, MAX_ERROR_MESSAGE_CHARS),
    }),
  };
}

interface Entry {
  type: MessageType;
  code: number;
  codec: Codec<Message>;
}

export interface MessageCodecOptions {
  /** Largest encoded message accepted or produced (default MAX_FRAME_BYTES). */
  maxMessageBytes?: number;
}

/** Encodes and decodes messages for the models of one registry. */
export class MessageCodec {
  readonly maxMessageBytes: number;
  private readonly byType = new Map<string, Entry>();
  private readonly byCode = new Map<number, Entry>();

  constructor(readonly registry: Registry = defaultRegistry, opts: MessageCodecOptions = {}) {
    this.maxMessageBytes = opts.maxMessageBytes ?? MAX_FRAME_BYTES;
    const table = messageCodecs(new ModelCodecs(registry));
    for (const type of Object.keys(MESSAGE_CODES) as MessageType[]) {
      const entry: Entry = { type, code: MESSAGE_CODES[type], codec: table[type] as Codec<Message> };
      this.byType.set(type, entry);
      this.byCode.set(entry.code, entry);
    }
  }

  /** Bytes `msg` encodes to. Throws ProtocolError if it is not a valid message. */
  encodedLength(msg: Message): number {
    return this.measure(this.entryOf(msg), msg).end;
  }

  /**
   * Validates and encodes. Throws ProtocolError: 'unknown-type', 'unknown-model',
   * 'bad-record' (a field that the receiver would refuse), 'too-large'.
   */
  encode(msg: Message): Uint8Array {
    const entry = this.entryOf(msg);
    const state = this.measure(entry, msg);
    state.buffer = new Uint8Array(state.end);
    try {
      c.uint.encode(state, entry.code);
      entry.codec.encode(state, msg);
    } catch (e) {
      throw toProtocolError(e, `encoding ${entry.type}`, { messageType: entry.type, requestId: requestIdOf(msg) }, 'bad-record');
    }
    if (state.start !== state.end) throw new ProtocolError('internal', `encoding ${entry.type}: wrote ${state.start} of ${state.end} bytes`);
    return state.buffer;
  }

  /**
   * Decodes one whole message. Anything malformed throws ProtocolError with
   * the message type and requestId when those could be read.
   */
  decode(bytes: Uint8Array): Message {
    if (!(bytes instanceof Uint8Array)) throw new ProtocolError('bad-frame', 'a message must be bytes');
    if (bytes.byteLength > this.maxMessageBytes)
      throw new ProtocolError('too-large', `message of ${bytes.byteLength} bytes; the limit is ${this.maxMessageBytes}`);
    const state = c.state(0, bytes.byteLength, bytes);
    let entry: Entry | undefined;
    let rid = 0;
    try {
      const code = c.uint.decode(state);
      entry = this.byCode.get(code);
      if (!entry) fail('unknown-type', `unknown message type ${code}`);
      if (WITH_REQUEST_ID.has(entry.type)) rid = peekUint(state);
      const msg = entry.codec.decode(state);
      if (state.start !== state.end) fail('bad-frame', `${state.end - state.start} bytes after the end of the message`);
      return msg;
    } catch (e) {
      throw toProtocolError(e, entry ? `decoding ${entry.type}` : 'decoding', { messageType: entry?.type, requestId: rid });
    }
  }

  private entryOf(msg: Message): Entry {
    const entry = msg && typeof msg === 'object' ? this.byType.get(msg.type) : undefined;
    if (!entry) throw new ProtocolError('unknown-type', `not a message type: ${JSON.stringify(String(msg?.type)).slice(0, 64)}`);
    return entry;
  }

  private measure(entry: Entry, msg: Message): c.State {
    const state = c.state();
    try {
      c.uint.preencode(state, entry.code);
      entry.codec.preencode(state, msg);
    } catch (e) {
      throw toProtocolError(e, `encoding ${entry.type}`, { messageType: entry.type, requestId: requestIdOf(msg) }, 'bad-record');
    }
    if (state.end > this.maxMessageBytes)
      throw new ProtocolError('too-large', `${entry.type} would be ${state.end} bytes; the limit is ${this.maxMessageBytes}`, {
        messageType: entry.type,
        requestId: requestIdOf(msg),
      });
    return state;
  }
}

/** The requestId a message carries (0 for messages that have none). */
export function requestIdOf(msg: Message): number {
  const r = 'requestId' in msg ? msg.requestId : 0;
  return Number.isSafeInteger(r) && r >= 0 && r <= MAX_REQUEST_ID ? r : 0;
}

/** The next uint, without consuming it; 0 if it cannot be read or is not a valid request id. */
function peekUint(state: c.State): number {
  const start = state.start;
  try {
    const n = c.uint.decode(state);
    return n <= MAX_REQUEST_ID ? n : 0;
  } catch {
    return 0;
  } finally {
    state.start = start;
  }
}

let defaultCodec: MessageCodec | null = null;

function codec(): MessageCodec {
  return (defaultCodec ??= new MessageCodec());
}

/** Encodes a message for the registered models (see MessageCodec.encode). */
export function encodeMessage(msg: Message): Uint8Array {
  return codec().encode(msg);
}

/** Decodes a message for the registered models (see MessageCodec.decode). */
export function decodeMessage(bytes: Uint8Array): Message {
  return codec().decode(bytes);
}

/** Encoded size of a message, for batching by bytes. */
export function encodedLength(msg: Message): number {
  return codec().encodedLength(msg);
}
