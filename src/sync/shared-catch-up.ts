/**
 * Catching up on shared data from one partner: the changes this device
 * lacks, by version vector, page by page. Where the partner has pruned the
 * range this device needs (DESIGN rule 5), it sends a snapshot of its shared
 * rows instead, with per-field stamps and tombstones; the rows are merged like
 * changes, and the vector moves to what the snapshot reflects.
 */
import { idKey, toHex, type Id } from '../core/ids';
import { sameSum } from '../models/owner-state';
import type { SharedChange, SharedModel } from '../models/model';
import type { OriginSeq } from '../protocol';
import type { Session } from './session';

/** In a request's `have`: "send nothing of this origin" (an origin this device cannot take from this partner now). */
const SKIP = Number.MAX_SAFE_INTEGER;

/** Member statements one snapshot may bring (gathered before they are applied together); a library has far fewer. */
const MAX_GATHERED_STATEMENTS = 100_000;

/** Snapshots one catch-up may take before it gives up (the partner keeps pruning below us). */
const MAX_SNAPSHOTS = 3;

/**
 * Progress is per origin: an origin whose changes this device cannot take
 * now (stamped too far ahead, invalid, or more than may wait for a parent)
 * is left out of the following requests of this catch-up (a later one
 * tries again), so it never keeps the others from arriving.
 */
export async function catchUpShared(s: Session): Promise<void> {
  const { library: lib, options } = s.host;
  let snapshots = 0;
  if (lib.snapshotWanted()) {
    snapshots++;
    if (!(await pullSnapshot(s))) return;
  }
  const stuck = new Map<string, Id>();
  /** Changes taken since an origin was last left out: one of them (a member's grant, a parent) may be what it waited for. */
  let takenSinceStuck = false;
  for (;;) {
    const before = seqs(lib.have());
    const skipped = new Map([...stuck, ...s.unprovenOrigins]);
    const have: OriginSeq[] = [...before.values()].map((v) => (skipped.has(idKey(v.origin)) ? { origin: v.origin, seq: SKIP } : v));
    for (const [k, o] of skipped) if (!before.has(k)) have.push({ origin: o, seq: SKIP });
    const resp = await s.requestShared(have, options.pageSize);
    if (resp.pruned.length) {
      if (++snapshots > MAX_SNAPSHOTS) throw new Error(`the partner pruned its log below this device ${MAX_SNAPSHOTS} times in one catch-up`);
      if (!(await pullSnapshot(s))) return;
      continue;
    }
    if (resp.changes.length) await s.apply(() => lib.applyShared(resp.changes));
    // An origin that did not move forward would come back the same: leave it out from now on.
    const after = seqs(lib.have());
    for (const ch of resp.changes) {
      const k = idKey(ch.hlc.device);
      if ((after.get(k)?.seq ?? 0) <= (before.get(k)?.seq ?? 0)) stuck.set(k, ch.hlc.device);
      else if (stuck.size) takenSinceStuck = true;
    }
    if (!resp.hasMore || resp.changes.length === 0) {
      // Once, if what came after may have been what the ones left out waited for (a member statement that came
      // before its author's grant): ask for them again now rather than at the next catch-up.
      if (stuck.size && takenSinceStuck) {
        stuck.clear();
        takenSinceStuck = false;
        continue;
      }
      return reconcileShared(s);
    }
  }
}

/**
 * With the partner caught up to the same vector and nothing waiting on
 * either side, both must hold the same shared rows. Where a model's sum
 * differs, one holds effects the other lacks (merged from a snapshot whose
 * base it could not adopt, say, when every device whose log had them is
 * gone): its rows of that model are merged here (and the partner does the
 * same with this device's when it compares): once per sum it reports.
 *
 * Also while something waits here (or there) for a parent: with equal
 * vectors that parent is in neither log, so such rows may be the only way
 * it ever arrives (a tag merged from a snapshot on the partner, an item
 * waiting for it here). Merging is idempotent; at worst a model whose sums
 * differ only by what waits is pulled once per sum.
 */
async function reconcileShared(s: Session): Promise<void> {
  const lib = s.host.library;
  const hello = s.hello;
  if (!hello || !sameVector(lib.have(), hello.vector)) return;
  const mine = new Map(lib.sharedStates().map((x) => [x.model, x]));
  const models: SharedModel[] = [];
  for (const theirs of hello.shared) {
    const held = mine.get(theirs.model);
    if (theirs.rows === 0 || (held && held.rows === theirs.rows && sameSum(held.sum, theirs.sum))) continue;
    const mark = `${theirs.model}/${toHex(theirs.sum)}`;
    if (s.reconciledShared.has(mark)) continue;
    s.reconciledShared.add(mark);
    models.push(lib.registry.sharedModel(theirs.model));
  }
  if (models.length) await pullSnapshot(s, models);
}

function sameVector(a: readonly OriginSeq[], b: readonly OriginSeq[]): boolean {
  const x = seqs(a.filter((e) => e.seq > 0));
  const y = seqs(b.filter((e) => e.seq > 0));
  if (x.size !== y.size) return false;
  for (const [k, v] of x) if (y.get(k)?.seq !== v.seq) return false;
  return true;
}

function seqs(v: readonly OriginSeq[]): Map<string, OriginSeq> {
  return new Map(v.map((e) => [idKey(e.origin), e]));
}

/**
 * Merges every shared row the partner holds, model by model in dependency
 * order (tags and albums before what points at them), then adopts the
 * vector the first page said the rows reflect. False if a stamp was refused
 * (clock drift): nothing is adopted and a later catch-up tries again.
 * With `only`, just those models, and nothing is adopted (the other models'
 * rows are not merged, so the base does not hold here).
 */
async function pullSnapshot(s: Session, only?: readonly SharedModel[]): Promise<boolean> {
  const { library: lib, options } = s.host;
  let base: readonly OriginSeq[] | null = null;
  /** The signed changes at the base's seqs (sent with the first page): how far each origin provably wrote. */
  let heads: readonly SharedChange[] = [];
  let rows = 0;
  const statements: SharedChange[] = [];
  for (const model of lib.registry.shared) {
    if (only && !only.includes(model)) continue;
    let after: Uint8Array | null = null;
    for (;;) {
      const resp = await s.requestShared([], options.pageSize, { model: model.name, after });
      const page = resp.snapshot;
      if (!page || page.model !== model.name) throw new Error(`asked for a snapshot of ${model.name}, got ${page ? `one of ${page.model}` : 'none'}`);
      // Rows only gain changes after this: the first page's base holds for every later page.
      if (base === null) {
        base = page.base;
        if (model === lib.registry.shared[0]) heads = resp.changes;
      }
      // Members come as the signed statements they are folded from, not as rows: gathered from every page
      // first (a statement is kept once the one letting its author in is), then applied together.
      const members = model.name === 'member';
      const got = members ? resp.changes.length : page.rows.length;
      rows += got;
      if (members) statements.push(...resp.changes);
      else if (got) {
        const report = await s.apply(() => lib.applySnapshotRows(model.name, page.rows));
        if (report.refused.length) return false;
      }
      if (statements.length > MAX_GATHERED_STATEMENTS) throw new Error(`the partner's snapshot holds more than ${MAX_GATHERED_STATEMENTS} member statements`);
      if (!page.hasMore || got === 0) break;
      after = page.after;
    }
    if (statements.length) {
      const report = await s.apply(() => lib.applyMemberStatements(statements.splice(0)));
      if (report.refused.length) return false;
    }
  }
  if (!only) {
    const { unproven } = await s.host.exclusive(() => lib.adoptSnapshot(base ?? [], heads));
    if (unproven.length) {
      // Rows merged, vector kept: those origins' changes come through the log, from whoever holds them; not asked of this partner again this session.
      for (const o of unproven) s.unprovenOrigins.set(idKey(o), o);
      s.host.report({
        type: 'error',
        peer: s.remote,
        error: new Error(`its snapshot named ${unproven.length} device log position(s) that no signed change proves: not adopted`),
      });
    }
  }
  s.host.report({ type: 'snapshot', peer: s.remote, rows });
  return true;
}

