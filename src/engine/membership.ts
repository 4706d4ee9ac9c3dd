/**
 * Who is a member of a library: a pure function of the library's anchors
 * and its member statements, so every device that holds the same
 * statements agrees, whatever order they arrived in and whoever relayed
 * them (DESIGN rule 12).
 *
 * - **Anchors** are the devices a library starts from: its founder (the
 *   device that first invited), pinned on every device at pairing (the
 *   inviter hands its anchors to the joiner), never taken from sync. A
 *   library from before statements were kept anchors the members it had.
 * - **Statements** are the signed `member` changes: a create is a grant
 *   (the author lets a device in, bound for good to the key its id is made
 *   from), an update renames the author itself, a delete is an unpair.
 *   Each names the statements its author held when it wrote it (`after`:
 *   the heads of the graph it saw, by id), so statements form a graph of
 *   who had seen what. Stamps play no part: a device can put any stamp on
 *   what it signs, but not claim to have seen what it had not (an `after`
 *   names exact statements); hiding what it saw makes its grants count for
 *   less (they race the unpairs they hide), never more.
 *
 * The rules (after the strong-remove resolvers of local-first group
 * membership, e.g. @localfirst/auth, made monotone):
 *
 * 1. A statement counts only if its author was a member in the statement's
 *    own past (an anchor, or granted there with every unpair there followed
 *    by a later grant) — so a device never granted, or unpaired and aware of
 *    it, changes nothing.
 * 2. Every unpair that passes rule 1 counts. The unpaired device's other
 *    statements concurrent with it (neither saw the other) do not — so a
 *    device being unpaired cannot let itself or an accomplice in during the
 *    race, nor by hiding that it saw its unpair — and neither does a grant
 *    of it racing the unpair. Two devices that unpair each other are both
 *    unpaired: no device wins such a race, and the others can grant the
 *    honest one again.
 * 3. A grant or rename whose author stands only through a grant that does
 *    not count does not count either (an accomplice, and all it granted).
 *
 * Unpairs are never dropped after rule 1, and rule 3 only ever takes
 * grants away, so the result is one fixpoint whatever the order: no
 * tie-break (no stamp, no id) decides who is a member. What a device that
 * is about to be unpaired can still do is what any member can: unpair
 * others (its unpairs count); it cannot stay, come back or let anyone in.
 *
 * A statement whose `after` names one this device does not hold waits
 * (it is not folded) until that one arrives. Two statements from one run
 * with one sequence number (a device that signed two versions) are two
 * statements: both are kept and relayed, so devices still agree.
 */
import { createHash } from 'node:crypto';
import { fromHex, idKey, isId, toHex, type Id } from '../core/ids';
import type { SharedChange } from '../models/model';
import { RecordFormatError } from '../models/fields';
import { member } from '../models/catalog';

/** A device the library starts from. */
export interface Anchor {
  device: Id;
  /** Its 32-byte network public key. */
  publicKey: Uint8Array;
  name: string;
}

/** Statements one statement may name as seen (the heads of the graph its author held). */
export const MAX_AFTER = 64;

export interface Membership {
  /** The statements that count, in the fold's order (causal; ties by id). */
  readonly effective: readonly SharedChange[];
  /** Devices (idKey) that are members at the end. */
  readonly live: ReadonlySet<string>;
  /** Every device a statement that counts granted, or an anchor (idKey → its device, key and latest name). */
  readonly known: ReadonlyMap<string, Anchor>;
  /**
   * At most MAX_AFTER of the heads for a statement by `author` about
   * `target`: first those whose past holds the author's latest grant (so its
   * own standing is in what it names), then those holding the target's
   * latest grant or unpair (so a grant after an unpair is seen to come
   * after it, however many other heads there are), then the rest.
   */
  headsFor(author: Id, target?: Id | null): string[];
  /** Statements not folded: one they name is missing here. */
  readonly waiting: number;
  /** Devices (idKey) that a statement made by a member at the time grants, renames or unpairs (counting or not). */
  readonly mentioned: ReadonlySet<string>;
}

/** The member row id of a device. */
export function memberId(device: Id): Id {
  return member.derivedId({ device })!;
}

/** A statement's id (hex): of its key and signature, which cover all it says. */
export function statementId(s: { publicKey: Uint8Array; signature: Uint8Array }): string {
  return createHash('sha256').update(s.publicKey).update(s.signature).digest('hex').slice(0, 32);
}

/** The `after` field as statements carry it: JSON list of statement ids. */
export function encodeAfter(ids: readonly string[]): string {
  return JSON.stringify([...ids].sort());
}

/** Parses an `after` field (absent: none, as statements from before had); throws RecordFormatError on anything else. */
export function decodeAfter(text: unknown): string[] {
  if (text === undefined || text === null) return [];
  let list: unknown;
  try {
    list = JSON.parse(String(text));
  } catch {
    throw new RecordFormatError('member.after is not valid JSON');
  }
  if (!Array.isArray(list) || list.length > MAX_AFTER || !list.every((x) => typeof x === 'string' && /^[0-9a-f]{32}$/.test(x))) {
    throw new RecordFormatError(`member.after must be a list of at most ${MAX_AFTER} statement ids (32 hex digits)`);
  }
  return list as string[];
}

interface Node {
  s: SharedChange;
  id: string;
  author: string;
  /** Target device (idKey): granted, renamed (the author) or unpaired. */
  target: string | null;
  parents: number[];
}

/**
 * Folds `statements` (verified member changes: signatures and shape
 * already checked) over `anchors`. Pure: the same inputs, in any order,
 * give the same result on every device.
 */
export function foldMembership(anchors: readonly Anchor[], statements: readonly SharedChange[]): Membership {
  const g = buildGraph(statements, anchors);
  const n = g.nodes.length;
  const anchorKeys = new Set(anchors.map((a) => idKey(a.device)));
  /** Per device: indexes of grants (create) and unpairs (delete) of it, in causal order. */
  const events = new Map<string, number[]>();
  /** Per device: indexes of statements it wrote. */
  const byAuthor = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const node = g.nodes[i];
    if (node.target !== null && node.s.op !== 'update') push(events, node.target, i);
    push(byAuthor, node.author, i);
  }
  const before = (a: number, b: number) => has(g.anc[b], a);
  const concurrent = (a: number, b: number) => a !== b && !before(a, b) && !before(b, a);

  /**
   * Whether `device` is a member in the past of statement `at` (or at the
   * end: -1), counting only events not in `out`: an anchor or granted there,
   * and every latest event of it there (one no other event there follows)
   * a grant — an unpair with no grant after it, or concurrent with the
   * latest grant, leaves it out.
   */
  const followed = new Uint32Array(Math.ceil(n / 32));
  const active = (device: string, at: number, out: Uint8Array): boolean => {
    const evs = events.get(device);
    let granted = anchorKeys.has(device);
    if (!evs) return granted;
    // From the last event (causal order): one that no latest one already seen follows is latest itself.
    followed.fill(0);
    for (let k = evs.length - 1; k >= 0; k--) {
      const e = evs[k];
      if (out[e] || (at >= 0 && (e >= at || !before(e, at)))) continue;
      const isGrant = g.nodes[e].s.op === 'create';
      if (isGrant) granted = true;
      if (has(followed, e)) continue;
      if (!isGrant) return false;
      const anc = g.anc[e];
      for (let w = 0; w < followed.length; w++) followed[w] |= anc[w];
    }
    return granted;
  };

  // Rule 1, at each statement's own place, from its past alone: decided once, in causal order.
  const unauthorized = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (!active(g.nodes[i].author, i, unauthorized)) unauthorized[i] = 1;
  // Rule 2: every unpair that is authorized counts (none is ever dropped: so the result cannot depend on which
  // of two racing unpairs is looked at first); the unpaired device's other statements concurrent with it do
  // not, nor does a grant of it racing the unpair.
  const out = Uint8Array.from(unauthorized);
  for (let r = 0; r < n; r++) {
    const { s, target } = g.nodes[r];
    if (s.op !== 'delete' || target === null || unauthorized[r]) continue;
    for (const o of byAuthor.get(target) ?? []) if (g.nodes[o].s.op !== 'delete' && concurrent(o, r)) out[o] = 1;
    for (const e of events.get(target) ?? []) if (g.nodes[e].s.op === 'create' && concurrent(e, r)) out[e] = 1;
  }
  // Rule 3: a grant or rename whose author stands only through a grant that does not count does not count.
  // Only grants leave `out` short of counting here, so standing only shrinks: one fixpoint, whatever the order.
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 0; i < n; i++) {
      if (!out[i] && g.nodes[i].s.op !== 'delete' && !active(g.nodes[i].author, i, out)) {
        out[i] = 1;
        changed = true;
      }
    }
  }
  // Each device's name: the one its latest grant or rename that counts gave it (in the fold's order).
  const effective: SharedChange[] = [];
  const known = new Map<string, Anchor>(anchors.map((a) => [idKey(a.device), { ...a }]));
  for (let i = 0; i < n; i++) {
    if (out[i]) continue;
    const { s, target } = g.nodes[i];
    effective.push(s);
    const name = typeof s.data.name === 'string' ? s.data.name : null;
    if (s.op === 'create' && isId(s.data.device) && typeof s.data.public_key === 'string') {
      known.set(target!, { device: s.data.device, publicKey: fromHex(s.data.public_key), name: name ?? known.get(target!)?.name ?? '' });
    } else if (s.op === 'update' && name !== null && known.has(target!)) {
      known.get(target!)!.name = name;
    }
  }
  const live = new Set([...known.keys()].filter((d) => active(d, -1, out)));
  // Heads of what counts (statements that count with none that counts after them): what a statement written now names.
  const hasChild = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (!out[i]) for (const p of g.nodes[i].parents) hasChild[p] = 1;
  const headIdx = g.nodes.map((_, i) => i).filter((i) => !out[i] && !hasChild[i]);
  const headsFor = (author: Id, target: Id | null = null): string[] => {
    const holdsLatestOf = (device: Id | null) => {
      const evs = device ? (events.get(idKey(device)) ?? []).filter((e) => !out[e]) : [];
      const last = evs.length ? evs[evs.length - 1] : -1;
      return (h: number) => last >= 0 && (h === last || before(last, h));
    };
    const rank = [holdsLatestOf(author), holdsLatestOf(target)];
    const score = (h: number) => (rank[0](h) ? 0 : rank[1](h) ? 1 : 2);
    return [...headIdx]
      .sort((x, y) => score(x) - score(y) || x - y)
      .slice(0, MAX_AFTER)
      .map((i) => g.nodes[i].id);
  };
  const mentioned = new Set<string>();
  for (let i = 0; i < n; i++) if (!unauthorized[i] && g.nodes[i].target !== null) mentioned.add(g.nodes[i].target!);
  return { effective, live, known, headsFor, waiting: statements.length - n, mentioned };
}

/**
 * The statements whose every named predecessor is here (transitively), in
 * causal order (ties by id), with their ancestor sets.
 */
function buildGraph(statements: readonly SharedChange[], anchors: readonly Anchor[]): { nodes: Node[]; anc: Uint32Array[] } {
  // A statement from before `after` existed (a library upgraded) names nothing: concurrent with every other,
  // which makes it count for least (it could not be placed by its stamp: any device can pick any stamp).
  const byId = new Map<string, { s: SharedChange; after: string[] }>();
  /** Member row id (idKey) → the device a create of it names (a row id is derived from its device). */
  const rowDevice = new Map<string, string>(anchors.map((a) => [idKey(memberId(a.device)), idKey(a.device)]));
  for (const s of statements) {
    if (s.op === 'create' && isId(s.data.device)) rowDevice.set(idKey(s.uuid), idKey(s.data.device));
    let after: string[];
    try {
      after = decodeAfter(s.data.after);
    } catch {
      continue;
    }
    byId.set(statementId(s), { s, after: [...new Set(after)] });
  }
  // Kahn's algorithm over the statements held; one naming a statement not held never becomes ready.
  const children = new Map<string, string[]>();
  const missing = new Map<string, number>();
  const ready: string[] = [];
  for (const [id, { after }] of byId) {
    missing.set(id, after.length);
    for (const p of after) push(children, p, id);
    if (after.length === 0) ready.push(id);
  }
  const order: string[] = [];
  const index = new Map<string, number>();
  ready.sort();
  while (ready.length) {
    const id = ready.shift()!;
    index.set(id, order.length);
    order.push(id);
    const next: string[] = [];
    for (const c of children.get(id) ?? []) {
      const left = missing.get(c)! - 1;
      missing.set(c, left);
      if (left === 0 && byId.has(c)) next.push(c);
    }
    if (next.length) {
      ready.push(...next);
      ready.sort();
    }
  }
  const words = Math.ceil(order.length / 32);
  const nodes: Node[] = [];
  const anc: Uint32Array[] = [];
  for (const id of order) {
    const { s, after } = byId.get(id)!;
    const parents = after.map((p) => index.get(p)!);
    const bits = new Uint32Array(words);
    for (const p of parents) {
      const pa = anc[p];
      for (let w = 0; w < words; w++) bits[w] |= pa[w];
      bits[p >>> 5] |= 1 << (p & 31);
    }
    const author = idKey(s.device);
    const target = s.op === 'update' ? author : s.op === 'create' ? (isId(s.data.device) ? idKey(s.data.device) : null) : (rowDevice.get(idKey(s.uuid)) ?? null);
    nodes.push({ s, id, author, target, parents });
    anc.push(bits);
  }
  return { nodes, anc };
}

function has(bits: Uint32Array, i: number): boolean {
  return (bits[i >>> 5] & (1 << (i & 31))) !== 0;
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Anchors as kept in meta: JSON [[device hex, key hex, name], …]. */
export function encodeAnchors(anchors: readonly Anchor[]): string {
  return JSON.stringify(anchors.map((a) => [toHex(a.device), toHex(a.publicKey), a.name]));
}

export function decodeAnchors(text: string): Anchor[] {
  const list = JSON.parse(text) as [string, string, string][];
  return list.map(([d, k, n]) => ({ device: fromHex(d), publicKey: fromHex(k), name: n }));
}

