/**
 * The simulator's ledger of local writes, and the invariants checked
 * against it after healing.
 *
 * Every record a device writes locally is an item here, from the moment
 * its transaction commits in memory, with one of these fates:
 *
 * - pending: committed in memory, not known durable yet;
 * - acked: durable, reported to the caller (the library's `committed`
 *   event, which fires after the journal's fsync);
 * - survived: its author lost power before it was acknowledged, but its
 *   journal record reached the disk (a torn tail may keep whole records):
 *   it exists, like an acknowledged write, though no one was told;
 * - lost: its author lost power (or was restored or re-joined) before it
 *   was durable, and it is not on the author's disk. No device may ever
 *   hold it: anything else means it left the device before it was durable
 *   (a phantom);
 * - rolled back: the transaction failed; it never existed.
 *
 * Acked and survived items are *counted*: they must be on every device at
 * the end, unless a later write changed them — except an item *excused* by
 * a restore or a re-join: when a device's data directory goes back to a
 * backup (or is deleted and the device joins again), every counted item
 * that is then durably held by no device at all (not the restored device,
 * not any other: their durable state is what a power loss at that moment
 * would leave) is excused: it may be gone or present, and the checks
 * ignore it. In practice these are writes the restored device made after
 * its backup (or before it left) that no other device had yet made
 * durable. A power loss alone never excuses anything: what was acked was
 * durable.
 */
import { compareHlc, hlcToString, type Hlc } from '../../src/core/hlc';
import { idKey, toHex, type Id } from '../../src/core/ids';
import type { Committed, Library } from '../../src/engine/library';
import { opCode } from '../../src/engine/records';
import type { SharedChange, StateRecord } from '../../src/models/model';
import { expectedLiveness } from '../support/oracle';
import type { Collected } from '../support/workload';

export type Fate = 'pending' | 'acked' | 'survived' | 'lost' | 'rolled-back';

export interface Item {
  /** The author's node name. */
  node: string;
  op: Collected;
  fate: Fate;
  /** Virtual time it committed in memory (internal writes: when they were acked). */
  at: number;
  /** Why it may be missing (a restore or re-join destroyed every durable copy). */
  excused?: string;
  /** The crash, restore or re-join it was lost (or survived) in. */
  crash?: string;
}

export interface Violation {
  invariant: 'phantom' | 'ghost' | 'acked-lost' | 'liveness' | 'diverged' | 'parked' | 'author' | 'write-failed' | 'liar-unnamed' | 'planted-held';
  node: string;
  detail: string;
}

/** A device as the checks see it. */
export interface Holder {
  name: string;
  library: Library;
}

/**
 * Who wrote a shared change: its author device when the change says so,
 * else its stamp's device (origin and author were one). A stamp's device
 * may be a per-run origin id, not a device id: never compare it with one.
 */
export function authorOf(change: SharedChange): Id {
  return (change as SharedChange & { device?: Id }).device ?? change.hlc.device;
}

/** Whether `lib`'s peer log holds change `seq` of `origin`. */
function heldInLog(lib: Library, origin: Uint8Array, seq: number): boolean {
  return lib.read((r) => r.value('SELECT 1 FROM peer_log WHERE origin = ? AND seq = ?', [origin, seq])) !== undefined;
}

/** Whether `lib` has row `uuid` of shared model `model`, or a change creating it in its log (applied, parked or above a gap). */
function holdsRow(lib: Library, model: string, uuid: Uint8Array): boolean {
  const m = lib.registry.sharedModel(model);
  return lib.read((r) => m.get(r, uuid) !== null || r.value("SELECT 1 FROM peer_log WHERE model = ? AND uuid = ? AND op = ?", [model, uuid, opCode('create')]) !== undefined);
}

function changeKey(ch: SharedChange): string {
  return `${idKey(ch.hlc.device)}:${ch.seq}`;
}

function stampKey(h: Hlc): string {
  return hlcToString(h);
}

export function itemKey(op: Collected): string {
  return op.kind === 'state' ? `${op.model}:${idKey(op.record.uuid)}:${stampKey(op.record.hlc)}` : `${op.change.model}:${idKey(op.change.uuid)}:${stampKey(op.change.hlc)}`;
}

/** The row the item wrote (model:uuid), as the liveness oracle keys it. */
function rowKey(op: Collected): string {
  return op.kind === 'state' ? `${op.model}:${idKey(op.record.uuid)}` : `${op.change.model}:${idKey(op.change.uuid)}`;
}

export function describeItem(it: Item): string {
  const op = it.op;
  const what =
    op.kind === 'state'
      ? `${op.model} ${idKey(op.record.uuid).slice(0, 8)} ${op.record.deleted ? 'tombstone' : 'state'} @${hlcToString(op.record.hlc).slice(0, 16)}`
      : `${op.change.model} ${idKey(op.change.uuid).slice(0, 8)} ${op.change.op} seq ${op.change.seq} of origin ${idKey(op.change.hlc.device).slice(0, 6)} @${hlcToString(op.change.hlc).slice(0, 16)}`;
  return `${what} written by ${it.node} at t=${it.at}${it.crash ? ` (${it.fate} in ${it.crash})` : ''}`;
}

function canon(v: unknown): string {
  if (v instanceof Uint8Array) return `x${toHex(v)}`;
  return JSON.stringify(v ?? null);
}

function sameData(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (canon(a[k]) !== canon(b[k])) return false;
  return true;
}

/**
 * Whether `lib` holds the item's effect: its row is at the item's stamp or
 * newer (a later write changed it), field by field for shared changes; an
 * entry also counts as held when its location was deleted after it.
 */
export function covers(lib: Library, op: Collected): boolean {
  return lib.read((r) => {
    if (op.kind === 'state') {
      const m = lib.registry.deviceOwnedModel(op.model);
      const row = m.get(r, op.record.uuid);
      if (row && compareHlc(row.hlc, op.record.hlc) >= 0) return true;
      if (op.model === 'entry') {
        const locId = op.record.data.location;
        if (locId instanceof Uint8Array) {
          const loc = lib.registry.deviceOwnedModel('location').get(r, locId);
          if (loc?.deleted && compareHlc(loc.hlc, op.record.hlc) > 0) return true; // went with its deleted location
        }
      }
      return false;
    }
    const ch = op.change;
    const row = lib.registry.sharedModel(ch.model).get(r, ch.uuid);
    if (!row) return false;
    if (ch.op === 'create' && !(row.createdHlc && compareHlc(row.createdHlc, ch.hlc) >= 0)) return false;
    if (ch.op === 'delete') return !!row.deletedHlc && compareHlc(row.deletedHlc, ch.hlc) >= 0;
    for (const f of Object.keys(ch.data)) {
      const h = row.fieldHlcs[f];
      if (h === undefined) continue; // not a field of the row (nothing to compare)
      if (!h || compareHlc(h, ch.hlc) < 0) return false;
    }
    return true;
  });
}

/**
 * Whether `lib` holds exactly this write: the row (or one of its fields)
 * carries the item's stamp and the item's values. A later write leaves no
 * trace of it; digests compare the rest.
 */
export function holdsExactly(lib: Library, op: Collected): boolean {
  return lib.read((r) => {
    if (op.kind === 'state') {
      const row = lib.registry.deviceOwnedModel(op.model).get(r, op.record.uuid);
      return !!row && compareHlc(row.hlc, op.record.hlc) === 0 && row.deleted === op.record.deleted && (row.deleted || sameData(row.data, op.record.data));
    }
    const ch = op.change;
    const row = lib.registry.sharedModel(ch.model).get(r, ch.uuid);
    if (!row) return false;
    if (ch.op === 'delete') return !!row.deletedHlc && compareHlc(row.deletedHlc, ch.hlc) === 0;
    if (ch.op === 'create' && row.createdHlc && compareHlc(row.createdHlc, ch.hlc) === 0) return true;
    for (const [f, v] of Object.entries(ch.data)) {
      const h = row.fieldHlcs[f];
      if (h && compareHlc(h, ch.hlc) === 0 && canon(row.data[f]) === canon(v)) return true;
    }
    return false;
  });
}

export class Ledger {
  readonly items: Item[] = [];
  private readonly byKey = new Map<string, Item>();
  /** Per node: items pending when it lost power, decided when it is open again. */
  private readonly doubt = new Map<string, { items: Item[]; crash: string }>();

  /** Records a local transaction that committed in memory (not yet durable). */
  issued(node: string, ops: readonly Collected[], at: number): Item[] {
    return ops.map((op) => {
      const it: Item = { node, op, fate: 'pending', at };
      this.items.push(it);
      this.byKey.set(itemKey(op), it);
      return it;
    });
  }

  /** The transaction failed before it committed: it never existed. */
  rolledBack(items: readonly Item[]): void {
    for (const it of items) if (it.fate === 'pending') it.fate = 'rolled-back';
  }

  /** A `committed` event: these records are durable and acknowledged (writes not issued through the ledger are added). */
  committed(node: string, c: Committed, at: number): void {
    for (const [model, recs] of c.state) for (const record of recs) this.ack(node, { kind: 'state', model, record }, at);
    for (const change of c.shared) this.ack(node, { kind: 'shared', change }, at);
  }

  /** One durable record (idempotent). */
  ack(node: string, op: Collected, at: number): void {
    const it = this.byKey.get(itemKey(op));
    if (it) {
      if (it.fate === 'pending') it.fate = 'acked';
      return;
    }
    const item: Item = { node, op, fate: 'acked', at };
    this.items.push(item);
    this.byKey.set(itemKey(op), item);
  }

  /** The node lost power (or its directory is being replaced): what it had pending is decided when it opens again. */
  crashed(node: string, crash: string): void {
    const items = this.items.filter((it) => it.node === node && it.fate === 'pending');
    const prev = this.doubt.get(node);
    this.doubt.set(node, { items: [...(prev?.items ?? []), ...items], crash });
  }

  /** The node is open again: each pending item survived if its disk still has it, else it is lost for good. */
  reopened(node: string, lib: Library): { survived: number; lost: number } {
    const d = this.doubt.get(node);
    this.doubt.delete(node);
    const out = { survived: 0, lost: 0 };
    for (const it of d?.items ?? []) {
      if (it.fate !== 'pending') continue;
      it.crash = d!.crash;
      if (covers(lib, it.op)) {
        it.fate = 'survived';
        out.survived++;
      } else {
        it.fate = 'lost';
        out.lost++;
      }
    }
    return out;
  }

  /** Acked or survived, and not excused: must be on every device at the end. */
  counted(): Item[] {
    return this.items.filter((it) => (it.fate === 'acked' || it.fate === 'survived') && !it.excused);
  }

  /**
   * A restore or re-join just happened: every counted item that none of
   * `holders` (each device's durable state at this moment) covers is
   * excused. Returns how many were.
   */
  excuse(holders: readonly Library[], reason: string): number {
    let n = 0;
    for (const it of this.counted()) {
      // A shared change is held when a holder has it (its vector covers it, or its log has it above a gap),
      // not merely its effect: a later write may have overwritten that, and the change itself could then
      // never be delivered again.
      const held = (h: Library) =>
        it.op.kind === 'shared'
          ? (h.vector().get(idKey(it.op.change.hlc.device))?.seq ?? 0) >= it.op.change.seq || heldInLog(h, it.op.change.hlc.device, it.op.change.seq)
          : covers(h, it.op);
      if (holders.some(held)) continue;
      it.excused = reason;
      n++;
    }
    // A create whose parent (the tag of an assignment, the album of an item) no device holds any more
    // can never apply: it waits for that parent for good, like the user's write that made it.
    for (const it of this.counted()) {
      if (it.op.kind !== 'shared' || it.op.change.op !== 'create') continue;
      const change = it.op.change;
      const parent = holders[0]?.registry.sharedModel(change.model).parentOf(change);
      if (!parent || holders.some((h) => holdsRow(h, parent.model, parent.uuid))) continue;
      it.excused = `${reason}: its ${parent.model} went with it`;
      n++;
    }
    return n;
  }

  /**
   * The invariants, on devices that have healed and gone quiet. Ordered
   * from the most specific: phantoms, ghosts, lost acknowledged writes,
   * wrong liveness, then divergence and parked records.
   */
  check(nodes: readonly Holder[]): Violation[] {
    const out: Violation[] = [];
    const counted = this.counted();
    const byDevice = new Map(nodes.map((n) => [idKey(n.library.deviceId), n]));

    // A shared change that names its author names the device that wrote it.
    for (const it of this.items) {
      if (it.op.kind !== 'shared' || !(it.op.change as { device?: Id }).device) continue;
      const author = byDevice.get(idKey(authorOf(it.op.change)));
      if (author?.name !== it.node) out.push({ invariant: 'author', node: it.node, detail: `${describeItem(it)} names ${author?.name ?? idKey(authorOf(it.op.change)).slice(0, 8)} as its author` });
    }

    // Phantoms: a write its author never made durable is held by no device.
    for (const it of this.items) {
      if (it.fate !== 'lost') continue;
      for (const n of nodes) if (holdsExactly(n.library, it.op)) out.push({ invariant: 'phantom', node: n.name, detail: `holds ${describeItem(it)}, which was never durable on its author` });
    }

    // Ghosts: no device holds a device-owned row its owner does not have (at that stamp or newer, with the same values at the same stamp).
    for (const n of nodes) {
      n.library.read((r) => {
        for (const m of n.library.registry.deviceOwned) {
          for (const owner of m.owners(r)) {
            const o = byDevice.get(idKey(owner));
            if (!o || o === n) continue;
            for (const rec of m.stateSince(r, owner, null, 1_000_000)) {
              const mine = o.library.read((ro) => m.get(ro, rec.uuid));
              const why = ghost(rec, mine);
              if (why) out.push({ invariant: 'ghost', node: n.name, detail: `${m.name} ${idKey(rec.uuid).slice(0, 8)} of ${o.name} @${hlcToString(rec.hlc).slice(0, 16)}${rec.deleted ? ' (tombstone)' : ''}: ${why}` });
            }
          }
        }
      });
    }

    // Every counted write is held by every device (or a later write changed it); shared ones are in the
    // version vector, or held in the peer log above a gap that can never close (the changes before it
    // were lost with the disk of the device that wrote them: wiped or restored before they left).
    const lostSeqs = new Set(this.items.filter((it) => (it.fate === 'lost' || it.excused) && it.op.kind === 'shared').map((it) => changeKey((it.op as { change: SharedChange }).change)));
    for (const n of nodes) {
      const vector = n.library.vector();
      for (const it of counted) {
        if (!covers(n.library, it.op)) out.push({ invariant: 'acked-lost', node: n.name, detail: `lacks ${describeItem(it)}` });
        else if (it.op.kind === 'shared') {
          const ch = it.op.change;
          const v = vector.get(idKey(ch.hlc.device));
          const held = v?.seq ?? 0;
          const gapLost = () => {
            for (let s = held + 1; s < ch.seq; s++) if (!lostSeqs.has(`${idKey(ch.hlc.device)}:${s}`) && !heldInLog(n.library, ch.hlc.device, s)) return false;
            return heldInLog(n.library, ch.hlc.device, ch.seq);
          };
          if (held < ch.seq && !gapLost()) {
            const o = idKey(ch.hlc.device);
            const fates = this.items.filter((x) => x.op.kind === 'shared' && idKey(x.op.change.hlc.device) === o).map((x) => `${(x.op as { change: SharedChange }).change.seq}:${x.fate}${x.excused ? '/excused' : ''}${heldInLog(n.library, ch.hlc.device, (x.op as { change: SharedChange }).change.seq) ? '/inlog' : ''}`);
            out.push({ invariant: 'acked-lost', node: n.name, detail: `its vector (${held}) does not cover ${describeItem(it)} [seqs of its origin: ${fates.join(' ')}]` });
          }
        }
      }
    }

    // Nothing deleted is live, nothing live is gone: liveness as the counted writes imply, where no excused write could change it.
    const uncertain = new Set(this.items.filter((it) => it.excused).map((it) => rowKey(it.op)));
    const expected = expectedLiveness(counted.map((it) => it.op));
    const entryLocation = new Map<string, string>();
    for (const it of counted) {
      if (it.op.kind === 'state' && it.op.model === 'entry' && it.op.record.data.location instanceof Uint8Array) {
        entryLocation.set(rowKey(it.op), `location:${idKey(it.op.record.data.location as Id)}`);
      }
    }
    for (const n of nodes) {
      for (const [key, live] of expected) {
        if (uncertain.has(key) || uncertain.has(entryLocation.get(key) ?? '')) continue;
        const [model, hex] = key.split(':');
        const uuid = Uint8Array.from(Buffer.from(hex, 'hex'));
        const m = n.library.registry.get(model);
        const got = n.library.read((r) => {
          if (m.kind === 'shared') return !!m.get(r, uuid)?.live;
          const row = m.get(r, uuid);
          return !!row && !row.deleted;
        });
        if (got !== live) out.push({ invariant: 'liveness', node: n.name, detail: `${model} ${hex.slice(0, 8)} is ${got ? 'live' : 'gone'}, the acknowledged writes say ${live ? 'live' : 'gone'}` });
      }
    }

    const digests = nodes.map((n) => n.library.digest());
    if (!digests.every((d) => d === digests[0])) {
      out.push({ invariant: 'diverged', node: nodes.map((n) => n.name).join(','), detail: `digests ${digests.map((d) => d.slice(0, 8)).join(' ')}` });
    }
    // Nothing waits for a parent some device has (it would have arrived); a record may wait for good for a
    // parent no device has any more (lost with the disk of the device that made it: see excuse()).
    const libs = nodes.map((n) => n.library);
    for (const n of nodes) {
      const waiting = n.library.read((r) => r.rows('SELECT parent_model, parent_uuid FROM parked')) as [string, Uint8Array][];
      const stuck = waiting.filter(([model, uuid]) => libs.some((l) => (l.registry.get(model).kind === 'shared' ? holdsRow(l, model, uuid) : l.read((r) => r.value(`SELECT 1 FROM ${l.registry.get(model).table} WHERE uuid = ?`, [uuid])) !== undefined)));
      if (stuck.length) out.push({ invariant: 'parked', node: n.name, detail: `${stuck.length} records still parked for a parent that exists (${waiting.length} parked in all)` });
    }
    return out;
  }
}

/** Why `rec`, held by a peer, is a ghost given its owner's row `mine` (null: it is not). */
function ghost(rec: StateRecord, mine: StateRecord | null): string | null {
  if (!mine) return 'its owner has no such row';
  const c = compareHlc(mine.hlc, rec.hlc);
  if (c < 0) return `its owner has it only at the older stamp ${hlcToString(mine.hlc).slice(0, 16)}`;
  if (c === 0 && (mine.deleted !== rec.deleted || (!mine.deleted && !sameData(mine.data, rec.data)))) return 'its owner has other values at the same stamp (a reused stamp)';
  return null;
}

