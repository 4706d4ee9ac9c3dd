/**
 * What replicas must hold, computed from the set of changes alone (the
 * oracle the property tests and simulations check the engine against).
 */
import { compareHlc, type Hlc } from '../../src/core/hlc';
import { idKey } from '../../src/core/ids';
import type { SharedChange, StateRecord } from '../../src/models/model';
import type { Collected } from './workload';

/** The expected liveness of every row, computed from the op set alone. */
export function expectedLiveness(ops: readonly Collected[]): Map<string, boolean> {
  const state = new Map<string, StateRecord>();
  const created = new Map<string, Hlc>();
  const deleted = new Map<string, Hlc>();
  const max = (m: Map<string, Hlc>, k: string, h: Hlc) => {
    const cur = m.get(k);
    if (!cur || compareHlc(h, cur) > 0) m.set(k, h);
  };
  for (const op of ops) {
    if (op.kind === 'state') {
      const k = `${op.model}:${idKey(op.record.uuid)}`;
      const cur = state.get(k);
      if (!cur || compareHlc(op.record.hlc, cur.hlc) > 0) state.set(k, op.record);
    } else {
      const k = `${op.change.model}:${idKey(op.change.uuid)}`;
      if (op.change.op === 'create') max(created, k, op.change.hlc);
      if (op.change.op === 'delete') max(deleted, k, op.change.hlc);
    }
  }
  const out = new Map<string, boolean>();
  for (const [k, rec] of state) {
    let live = !rec.deleted;
    if (live && k.startsWith('entry:')) {
      // An entry goes with its location when the location is deleted after it was written.
      const loc = state.get(`location:${idKey(rec.data.location as Uint8Array)}`);
      if (loc?.deleted && compareHlc(loc.hlc, rec.hlc) > 0) live = false;
    }
    out.set(k, live);
  }
  for (const [k, c] of created) {
    const d = deleted.get(k);
    out.set(k, !d || compareHlc(c, d) > 0);
  }
  return out;
}

/** Per shared row and field: the value of the change with the newest stamp that set it. */
export function expectedFields(ops: readonly Collected[]): Map<string, { hlc: Hlc; value: unknown }> {
  const out = new Map<string, { hlc: Hlc; value: unknown }>();
  for (const op of ops) {
    if (op.kind !== 'shared') continue;
    const ch: SharedChange = op.change;
    for (const [f, v] of Object.entries(ch.data)) {
      const k = `${ch.model}:${idKey(ch.uuid)}:${f}`;
      const cur = out.get(k);
      if (!cur || compareHlc(ch.hlc, cur.hlc) > 0) out.set(k, { hlc: ch.hlc, value: v });
    }
  }
  return out;
}

