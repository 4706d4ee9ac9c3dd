/**
 * Codecs for what the models put on the wire: model names, device-owned
 * state records, shared changes and shared snapshot rows. Built from the
 * registry, so a new model needs nothing here. The record layouts are those
 * of engine/records.ts; this adds model lookups (unknown or wrong-kind
 * models are 'unknown-model'), validation before encoding, and bounds.
 */
import c from 'compact-encoding';
import { sharedChangeEncoding, stateRecordEncoding } from '../engine/records';
import { INCARNATION_BYTES, isId } from '../core/ids';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../core/signing';
import type { Registry } from '../engine/registry';
import { checkData, type RecordData } from '../models/fields';
import { compareHlc, HLC_BYTES, type Hlc } from '../core/hlc';
import type { DeviceOwnedModel, ModelKind, ModelName, SharedChange, SharedModel, SharedOp, SharedRow, StateRecord } from '../models/model';
import { MAX_MODEL_NAME_BYTES, MAX_RECORDS } from './limits';
import { bool, boundedArray, boundedString, checkHlc, fail, hlc, id, optional, type Codec } from './primitives';

const OPS: readonly SharedOp[] = ['create', 'update', 'delete'];

/** Fewest bytes of one element, for failing fast on a count larger than the bytes left. */
const MIN_NAME_BYTES = 2;
const MIN_DATA_BYTES = 2; // present and null bitmaps
const MIN_STATE_RECORD_BYTES = 16 + 24 + 1 + MIN_DATA_BYTES;
const MIN_SHARED_CHANGE_BYTES = MIN_NAME_BYTES + 16 + 24 + 1 + 1 + 16 + 1 + PUBLIC_KEY_BYTES + MIN_DATA_BYTES + SIGNATURE_BYTES;
const MIN_SHARED_ROW_BYTES = 16 + 24 + 1 + 1 + 1 + MIN_DATA_BYTES + 2;

const optionalHlc = optional(hlc);

interface PerModel {
  record?: Codec<StateRecord>;
  records?: Codec<readonly StateRecord[]>;
  change?: c.Encoder<SharedChange>;
  rows?: Codec<readonly SharedRow[]>;
}

export class ModelCodecs {
  /** The name of a device-owned model. */
  readonly deviceOwnedName: Codec<ModelName>;
  /** The name of a shared model. */
  readonly sharedName: Codec<ModelName>;
  /** A shared change of any shared model: its model's name, then the change. */
  readonly sharedChange: Codec<SharedChange>;
  readonly sharedChanges: Codec<readonly SharedChange[]>;
  private readonly perModel = new Map<string, PerModel>();

  constructor(private readonly registry: Registry) {
    this.deviceOwnedName = this.modelName('device-owned');
    this.sharedName = this.modelName('shared');
    this.sharedChange = this.sharedChangeCodec();
    this.sharedChanges = boundedArray('changes', this.sharedChange, { max: MAX_RECORDS, minItemBytes: MIN_SHARED_CHANGE_BYTES });
  }

  /** One state record of a device-owned model (its name travels elsewhere in the message). */
  stateRecord(name: ModelName): Codec<StateRecord> {
    const slot = this.slot(name);
    return (slot.record ??= this.stateRecordCodec(this.registry.deviceOwnedModel(name)));
  }

  stateRecords(name: ModelName): Codec<readonly StateRecord[]> {
    const slot = this.slot(name);
    return (slot.records ??= boundedArray(`${name} records`, this.stateRecord(name), { max: MAX_RECORDS, minItemBytes: MIN_STATE_RECORD_BYTES }));
  }

  sharedRows(name: ModelName): Codec<readonly SharedRow[]> {
    const slot = this.slot(name);
    return (slot.rows ??= boundedArray(`${name} rows`, this.sharedRowCodec(this.registry.sharedModel(name)), {
      max: MAX_RECORDS,
      minItemBytes: MIN_SHARED_ROW_BYTES,
    }));
  }

  private slot(name: string): PerModel {
    let s = this.perModel.get(name);
    if (!s) this.perModel.set(name, (s = {}));
    return s;
  }

  private modelName(kind: ModelKind): Codec<ModelName> {
    const text = boundedString('model name', MAX_MODEL_NAME_BYTES, MAX_MODEL_NAME_BYTES, 'unknown-model');
    const lookup = (name: string): ModelName => {
      if (!this.registry.has(name)) fail('unknown-model', `unknown model ${JSON.stringify(name)}`);
      const m = this.registry.get(name);
      if (m.kind !== kind) fail('unknown-model', `model "${name}" is ${m.kind}; ${kind} expected here`);
      return m.name;
    };
    return {
      preencode(state, name) {
        if (typeof name !== 'string') fail('unknown-model', 'model name must be a string');
        lookup(name);
        text.preencode(state, name);
      },
      encode(state, name) {
        text.encode(state, name);
      },
      decode(state) {
        return lookup(text.decode(state));
      },
    };
  }

  private stateRecordCodec(model: DeviceOwnedModel): Codec<StateRecord> {
    const base = stateRecordEncoding(model);
    return {
      preencode(state, r) {
        if (!r || typeof r !== 'object') fail('bad-record', `${model.name} record must be an object`);
        if (!isId(r.uuid)) fail('bad-record', `${model.name} record uuid must be a 16-byte id`);
        checkHlc(r.hlc, `${model.name} record hlc`);
        if (typeof r.deleted !== 'boolean') fail('bad-record', `${model.name} record deleted must be true or false`);
        checkData(model.name, model.fields, r.data, false);
        base.preencode(state, r);
      },
      encode: base.encode,
      decode: base.decode,
    };
  }

  private sharedChangeCodec(): Codec<SharedChange> {
    const name = this.sharedName;
    const base = (model: ModelName): c.Encoder<SharedChange> => {
      const slot = this.slot(model);
      return (slot.change ??= sharedChangeEncoding(this.registry.sharedModel(model)));
    };
    const registry = this.registry;
    return {
      preencode(state, ch) {
        if (!ch || typeof ch !== 'object') fail('bad-record', 'shared change must be an object');
        name.preencode(state, ch.model);
        const model = registry.sharedModel(ch.model);
        if (!isId(ch.uuid)) fail('bad-record', `${model.name} change uuid must be a 16-byte id`);
        checkHlc(ch.hlc, `${model.name} change hlc`);
        if (!Number.isSafeInteger(ch.seq) || ch.seq < 1) fail('bad-record', `${model.name} change seq must be a positive integer`);
        if (!OPS.includes(ch.op)) fail('bad-record', `${model.name} change has an unknown operation`);
        if (!isId(ch.device)) fail('bad-record', `${model.name} change device must be a 16-byte id`);
        if (!(ch.incarnation instanceof Uint8Array) || (ch.incarnation.byteLength !== 0 && ch.incarnation.byteLength !== INCARNATION_BYTES))
          fail('bad-record', `${model.name} change incarnation must be ${INCARNATION_BYTES} bytes (or none)`);
        if (!(ch.publicKey instanceof Uint8Array) || ch.publicKey.byteLength !== PUBLIC_KEY_BYTES) fail('bad-record', `${model.name} change public key must be ${PUBLIC_KEY_BYTES} bytes`);
        if (!(ch.signature instanceof Uint8Array) || ch.signature.byteLength !== SIGNATURE_BYTES) fail('bad-record', `${model.name} change signature must be ${SIGNATURE_BYTES} bytes`);
        checkData(model.name, model.fields, ch.data, false);
        base(ch.model).preencode(state, ch);
      },
      encode(state, ch) {
        name.encode(state, ch.model);
        base(ch.model).encode(state, ch);
      },
      decode(state) {
        return base(name.decode(state)).decode(state);
      },
    };
  }

  /**
   * uuid, hlc, live, createdHlc?, deletedHlc?, data (the model's codec), then
   * two field bitmaps: the fields present in data that carry a stamp, and of
   * those the ones whose stamp is the row's createdHlc (the usual case: set
   * by the newest create), then the other stamps in field order, 24 bytes
   * each. A field present in data without a stamp decodes with
   * fieldHlcs[field] = null.
   */
  private sharedRowCodec(model: SharedModel): Codec<SharedRow> {
    const fields = model.fields;
    const masks = (row: SharedRow): { stamped: number; same: number } => {
      let stamped = 0;
      let same = 0;
      for (let i = 0; i < fields.length; i++) {
        const h = row.fieldHlcs[fields[i].name];
        if (!h) continue;
        stamped |= 1 << i;
        if (row.createdHlc && compareHlc(h, row.createdHlc) === 0) same |= 1 << i;
      }
      return { stamped: stamped >>> 0, same: same >>> 0 };
    };
    return {
      preencode(state, row) {
        if (!row || typeof row !== 'object') fail('bad-record', `${model.name} row must be an object`);
        if (!isId(row.uuid)) fail('bad-record', `${model.name} row uuid must be a 16-byte id`);
        if (typeof row.live !== 'boolean') fail('bad-record', `${model.name} row live must be true or false`);
        checkData(model.name, fields, row.data, false);
        if (!row.fieldHlcs || typeof row.fieldHlcs !== 'object') fail('bad-record', `${model.name} row fieldHlcs must be an object`);
        for (const k in row.fieldHlcs) {
          const h = row.fieldHlcs[k];
          if (!fields.some((f) => f.name === k)) fail('bad-record', `${model.name} has no field "${k.slice(0, 64)}"`);
          if (h === null || h === undefined) continue;
          checkHlc(h, `${model.name}.${k} stamp`);
          if (row.data[k] === undefined) fail('bad-record', `${model.name}.${k} has a stamp but no value`);
        }
        id.preencode(state, row.uuid);
        hlc.preencode(state, row.hlc);
        bool.preencode(state, row.live);
        optionalHlc.preencode(state, row.createdHlc);
        optionalHlc.preencode(state, row.deletedHlc);
        model.codec.preencode(state, row.data);
        const { stamped, same } = masks(row);
        c.uint.preencode(state, stamped);
        c.uint.preencode(state, same);
        for (let i = 0; i < fields.length; i++) if ((stamped & ~same) & (1 << i)) state.end += HLC_BYTES;
      },
      encode(state, row) {
        id.encode(state, row.uuid);
        hlc.encode(state, row.hlc);
        bool.encode(state, row.live);
        optionalHlc.encode(state, row.createdHlc);
        optionalHlc.encode(state, row.deletedHlc);
        model.codec.encodeInto(state, row.data);
        const { stamped, same } = masks(row);
        c.uint.encode(state, stamped);
        c.uint.encode(state, same);
        for (let i = 0; i < fields.length; i++) if ((stamped & ~same) & (1 << i)) hlc.encode(state, row.fieldHlcs[fields[i].name]!);
      },
      decode(state) {
        const uuid = id.decode(state);
        const rowHlc = hlc.decode(state);
        const live = bool.decode(state);
        const createdHlc = optionalHlc.decode(state);
        const deletedHlc = optionalHlc.decode(state);
        const data: RecordData = model.codec.decodeFrom(state);
        const stamped = c.uint.decode(state);
        const same = c.uint.decode(state);
        if (stamped >= 2 ** fields.length || (same & ~stamped) !== 0 || same >= 2 ** fields.length)
          fail('bad-record', `${model.name}: bad field stamp bitmap`);
        if (same !== 0 && !createdHlc) fail('bad-record', `${model.name}: a field stamp refers to a missing createdHlc`);
        const fieldHlcs: Record<string, Hlc | null> = {};
        for (let i = 0; i < fields.length; i++) {
          const name = fields[i].name;
          const bit = 1 << i;
          if (stamped & bit) {
            if (data[name] === undefined) fail('bad-record', `${model.name}.${name} has a stamp but no value`);
            fieldHlcs[name] = same & bit ? createdHlc : hlc.decode(state);
          } else if (data[name] !== undefined) {
            fieldHlcs[name] = null;
          }
        }
        return { uuid, hlc: rowHlc, live, createdHlc, deletedHlc, data, fieldHlcs };
      },
    };
  }
}
