/**
 * A lying device for the simulator: a paired member whose engine is honest
 * but whose frames are rewritten on their way out, with the lies issue 12
 * names and the engine refuses today:
 *
 * - `altered`: a change of another device it relays, with a byte changed
 *   after signing (its stamp): the signature no longer verifies;
 * - `claimed`: a change in another device's name with that origin's next
 *   sequence number, signed with the liar's own key;
 * - `foreign`: asked for one owner's rows, a page of rows that name another;
 * - `acks`: acknowledgements of made-up origins;
 * - `orphans`: more rows than one partner may leave waiting for a parent
 *   (locations of made-up devices, whose device row never comes);
 * - `garbage`: a frame that is no message at all.
 *
 * Honest devices must refuse every lie, name the liar (an error reported
 * against it), keep every acknowledged write and converge (the liar with
 * them, once it stops lying and its cut-offs expire). Lies it cannot be
 * caught in yet (a relay leaving rows out of a page, forged rows of
 * another owner sent live, member grants) wait for the rest of issue 12.
 *
 * Seeded from its own stream, so schedules without a liar are unchanged.
 */
import { idKey, type Id } from '../../src/core/ids';
import { sign, type DeviceKeyPair } from '../../src/core/signing';
import { changeSigningBytes } from '../../src/engine/records';
import { registry } from '../../src/engine/registry';
import type { SharedChange, StateRecord } from '../../src/models/model';
import { decodeMessage, encodeMessage, type Message } from '../../src/protocol';
import { Random } from '../support/random';
import type { MemoryNetwork } from './memory-network';

export type Lie = 'altered' | 'claimed' | 'foreign' | 'acks' | 'garbage' | 'orphans';

/** Rows in one orphan flood: more than a partner's share in the liar's schedules (schedule.ts LIAR_PARKED_SHARE). */
const ORPHANS_PER_FLOOD = 60;

export class Liar {
  /** Lies told, by kind. */
  readonly told: Record<Lie, number> = { altered: 0, claimed: 0, foreign: 0, acks: 0, garbage: 0, orphans: 0 };
  /** Partners (idKey) that were told at least one lie. */
  readonly victims = new Set<string>();
  private readonly rnd: Random;
  private active = false;

  constructor(
    private readonly net: MemoryNetwork,
    readonly device: Id,
    private readonly keyPair: DeviceKeyPair,
    private readonly libraryId: Id,
    /** Other devices of the library (a foreign row claims one of them). */
    private readonly others: () => Id[],
    seed: number,
  ) {
    this.rnd = new Random(seed * 7919 + 17);
  }

  get lies(): number {
    return Object.values(this.told).reduce((a, b) => a + b, 0);
  }

  start(): void {
    this.active = true;
    this.net.tamper = (from, to, frame) => (this.active && idKey(from) === idKey(this.device) ? this.rewrite(to, frame) : [frame]);
  }

  /** Tells no more lies (the network heals; its frames go out as its engine wrote them). */
  stop(): void {
    this.active = false;
    this.net.tamper = null;
  }

  /** Locations of made-up devices: each waits for its device's row, which never comes. */
  private orphans(): StateRecord[] {
    return Array.from({ length: ORPHANS_PER_FLOOD }, (_, i) => {
      const device = this.rnd.bytes(16);
      return {
        uuid: this.rnd.bytes(16),
        hlc: { ms: 1_000_000, counter: i, device },
        deleted: false,
        data: { device, volume: null, path: `/made-up/${i}`, name: `made-up ${i}`, workspace_key: `made-up/${i}`, entry_count: 0, total_bytes: 0 },
      };
    });
  }

  private rewrite(to: Id, frame: Uint8Array): Uint8Array[] {
    let msg: Message;
    try {
      msg = decodeMessage(frame);
    } catch {
      return [frame];
    }
    const out: Uint8Array[] = [];
    const lie = (kind: Lie, bytes: Uint8Array) => {
      this.told[kind]++;
      this.victims.add(idKey(to));
      out.push(bytes);
    };
    const changes = sharedChangesOf(msg);
    const relayed = changes.filter((c) => idKey(c.device) !== idKey(this.device));
    if (relayed.length && this.rnd.chance(0.3)) {
      const victim = this.rnd.pick(relayed);
      if (this.rnd.chance(0.5)) {
        // altered after signing: the same change, one field different
        const altered: SharedChange = { ...victim, hlc: { ...victim.hlc, counter: victim.hlc.counter + 1 } };
        msg = replaceChange(msg, victim, altered);
        frame = encodeMessage(msg);
        this.told.altered++;
        this.victims.add(idKey(to));
      } else {
        // the victim origin's next change, in its name, signed by the liar
        const body = { ...victim, seq: victim.seq + 1, hlc: { ...victim.hlc, counter: victim.hlc.counter + 1 }, publicKey: this.keyPair.publicKey };
        const claimed: SharedChange = { ...body, signature: sign(this.keyPair, changeSigningBytes(this.libraryId, registry.sharedModel(body.model), body)) };
        lie('claimed', encodeMessage({ type: 'shared-change', change: claimed }));
      }
    }
    if (msg.type === 'state-response' && msg.records.length && this.rnd.chance(0.3)) {
      const owner = this.rnd.pick(this.others().filter((d) => idKey(d) !== idKey(msg.owner)));
      if (owner) {
        // (A page whose rows name another owner than the page does cannot even be encoded: it names the other.)
        const records: StateRecord[] = msg.records.map((r) => ({ ...r, hlc: { ...r.hlc, device: owner } }));
        frame = encodeMessage({ ...msg, owner, records, seal: null });
        this.told.foreign++;
        this.victims.add(idKey(to));
      }
    }
    out.unshift(frame);
    if (this.rnd.chance(0.03)) {
      const vector = Array.from({ length: 1 + this.rnd.int(200) }, () => ({ origin: this.rnd.bytes(16), seq: 1 + this.rnd.int(1000) }));
      lie('acks', encodeMessage({ type: 'ack', vector }));
    }
    if (this.rnd.chance(0.02)) lie('garbage', this.rnd.bytes(1 + this.rnd.int(64)));
    if (this.rnd.chance(0.01)) lie('orphans', encodeMessage({ type: 'state-batch', model: 'location', records: this.orphans(), seal: null }));
    return out;
  }
}

function sharedChangesOf(msg: Message): readonly SharedChange[] {
  switch (msg.type) {
    case 'shared-change':
      return [msg.change];
    case 'shared-change-batch':
    case 'shared-change-response':
      return msg.changes;
    default:
      return [];
  }
}

function replaceChange(msg: Message, from: SharedChange, to: SharedChange): Message {
  switch (msg.type) {
    case 'shared-change':
      return { ...msg, change: to };
    case 'shared-change-batch':
    case 'shared-change-response':
      return { ...msg, changes: msg.changes.map((c) => (c === from ? to : c)) };
    default:
      return msg;
  }
}
