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
 *   from), an update renames the author itself, a delete is an unpair and
 *   carries the remover's cutoff: how far it had seen each run (origin) of
 *   the removed device's statements.
 *
 * The fold takes the statements in stamp order; one counts only if its
 * author is live at that point (an anchor, or granted and not removed
 * since). A device that is removed cannot speak for the library any more:
 * its statements beyond the remover's cutoff are void whatever their
 * stamps (a removed device could stamp a grant in the past, or had one
 * under way when it was removed: the remover's view wins), unless a live
 * member granted it again later and the statement came after that grant.
 * Voiding one statement can change what others mean, so the fold runs
 * again without it, until nothing more is voided (at most once per
 * statement; libraries have few).
 */
import { compareBytes, compareHlc, type Hlc } from '../core/hlc';
import { fromHex, idEquals, idKey, isId, toHex, type Id } from '../core/ids';
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

/** Runs (origins) of a removed device per its hex, and the highest seq of each the remover had seen. */
export type Cutoff = ReadonlyMap<string, number>;

/** Most runs one cutoff may name (each run of a device that wrote member statements). */
export const MAX_CUTOFF_ORIGINS = 1024;

export interface Membership {
  /** The statements that count, in stamp order. */
  readonly effective: readonly SharedChange[];
  /** Statements a removal's cutoff voided. */
  readonly voided: readonly SharedChange[];
  /** Devices (idKey) live at the end. */
  readonly live: ReadonlySet<string>;
}

/** The member row id of a device. */
export function memberId(device: Id): Id {
  return member.derivedId({ device })!;
}

/** A cutoff as a delete's `cutoff` field carries it: JSON [[origin hex, seq], …]. */
export function encodeCutoff(cutoff: Cutoff): string {
  return JSON.stringify([...cutoff].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/** Parses a delete's `cutoff` field; throws RecordFormatError on anything else. */
export function decodeCutoff(text: unknown): Map<string, number> {
  if (typeof text !== 'string') throw new RecordFormatError('member: an unpair must carry the cutoff of the removed device');
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw new RecordFormatError('member.cutoff is not valid JSON');
  }
  if (!Array.isArray(list) || list.length > MAX_CUTOFF_ORIGINS) throw new RecordFormatError(`member.cutoff must be a list of at most ${MAX_CUTOFF_ORIGINS} [origin, seq] pairs`);
  const out = new Map<string, number>();
  for (const e of list) {
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || !/^[0-9a-f]{32}$/.test(e[0]) || !Number.isSafeInteger(e[1]) || e[1] < 0) {
      throw new RecordFormatError('member.cutoff entries must be [32 hex digits, seq]');
    }
    out.set(e[0], e[1]);
  }
  return out;
}

function order(a: SharedChange, b: SharedChange): number {
  return compareHlc(a.hlc, b.hlc) || compareBytes(a.hlc.device, b.hlc.device) || a.seq - b.seq;
}

const statementKey = (s: SharedChange) => `${idKey(s.hlc.device)}/${s.seq}`;

/**
 * Folds `statements` (verified member changes: signatures and shape
 * already checked) over `anchors`. Pure: the same inputs give the same
 * result on every device.
 */
export function foldMembership(anchors: readonly Anchor[], statements: readonly SharedChange[]): Membership {
  const sorted = [...statements].sort(order);
  const voided = new Set<string>();
  for (let round = 0; ; round++) {
    const pass = foldOnce(anchors, sorted, voided);
    const more: SharedChange[] = [];
    for (const s of sorted) {
      if (!voided.has(statementKey(s)) && isVoid(s, pass)) more.push(s);
    }
    if (more.length === 0 || round > sorted.length) {
      return { effective: pass.effective, voided: sorted.filter((s) => voided.has(statementKey(s))), live: pass.live };
    }
    for (const s of more) voided.add(statementKey(s));
  }
}

interface Pass {
  effective: SharedChange[];
  live: Set<string>;
  /** Per device (idKey): effective grants' stamps. */
  grants: Map<string, Hlc[]>;
  /** Per device (idKey): effective removals. */
  removals: Map<string, { hlc: Hlc; cutoff: Cutoff }[]>;
}

function foldOnce(anchors: readonly Anchor[], sorted: readonly SharedChange[], voided: ReadonlySet<string>): Pass {
  const pass: Pass = { effective: [], live: new Set(), grants: new Map(), removals: new Map() };
  /** Member row id (idKey) → its device. */
  const deviceOf = new Map<string, Id>();
  for (const a of anchors) {
    pass.live.add(idKey(a.device));
    deviceOf.set(idKey(memberId(a.device)), a.device);
  }
  for (const s of sorted) {
    if (voided.has(statementKey(s)) || !pass.live.has(idKey(s.device))) continue;
    const row = idKey(s.uuid);
    if (s.op === 'create') {
      const device = s.data.device;
      if (!isId(device)) continue;
      deviceOf.set(row, device);
      pass.live.add(idKey(device));
      push(pass.grants, idKey(device), s.hlc);
    } else if (s.op === 'update') {
      // Only its own name (checked with the statement's shape): counts while it is live, which it is.
    } else {
      const device = deviceOf.get(row);
      if (!device || !pass.live.has(idKey(device))) continue;
      pass.live.delete(idKey(device));
      let cutoff: Cutoff;
      try {
        cutoff = decodeCutoff(s.data.cutoff);
      } catch {
        cutoff = new Map();
      }
      push(pass.removals, idKey(device), { hlc: s.hlc, cutoff });
    }
    pass.effective.push(s);
  }
  return pass;
}

/**
 * Whether a removal of `s`'s author voids it: `s` lies beyond what the
 * remover had seen of its run, and no later grant let the author back in
 * before `s`.
 */
function isVoid(s: SharedChange, pass: Pass): boolean {
  const removals = pass.removals.get(idKey(s.device));
  if (!removals) return false;
  const origin = toHex(s.hlc.device);
  const grants = pass.grants.get(idKey(s.device)) ?? [];
  return removals.some(
    (r) => s.seq > (r.cutoff.get(origin) ?? 0) && !grants.some((g) => compareHlc(g, r.hlc) > 0 && compareHlc(s.hlc, g) > 0),
  );
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Whether `device` is an anchor. */
export function isAnchor(anchors: readonly Anchor[], device: Id): boolean {
  return anchors.some((a) => idEquals(a.device, device));
}

/** Anchors as kept in meta: JSON [[device hex, key hex, name], …]. */
export function encodeAnchors(anchors: readonly Anchor[]): string {
  return JSON.stringify(anchors.map((a) => [toHex(a.device), toHex(a.publicKey), a.name]));
}

export function decodeAnchors(text: string): Anchor[] {
  const list = JSON.parse(text) as [string, string, string][];
  return list.map(([d, k, n]) => ({ device: fromHex(d), publicKey: fromHex(k), name: n }));
}
