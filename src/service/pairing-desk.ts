/**
 * Pairing for the engine service: the invites this device has open, and
 * joining a library with a code (net/pairing.ts does the protocol).
 *
 * - invite(): a code for one library, valid `ttlMs` (10 min) and once. The
 *   joiner is recorded as a member before the secret leaves this device, so
 *   every partner learns of it through sync; this device's own member row
 *   (its key) is written first if it was never written. 'invite' events
 *   report each step (waiting, a wrong attempt, joined, expired, revoked,
 *   exhausted).
 * - join(): pairs with the inviting device, creates this device's copy of
 *   the library with the same device id as its other libraries, records
 *   the members it was told of as partners (their member rows arrive with
 *   the backfill), and runs it: the backfill starts at once.
 *
 * Pairing needs the network (the DHT); without it both fail with a clear
 * error instead of waiting.
 */
import * as os from 'node:os';
import { idEquals, idToString, toHex, type Id } from '../core/ids';
import { isDeviceIdOf } from '../core/signing';
import { PairingError } from '../net/errors';
import type { Library } from '../engine/library';
import { DEFAULT_INVITE_TTL_MS, Invite, joinWithCode, type DeviceCard, type InviteState } from '../net/pairing';
import { parseInviteCode } from '../net/invite-code';
import { NotFoundError } from '../engine/errors';

export interface InviteInfo {
  code: string;
  library: string;
  libraryName: string;
  expiresAt: number;
  state: InviteState;
  attemptsLeft: number;
  /** The device that joined, once one did. */
  joined: { device: string; name: string } | null;
}

export interface JoinResult {
  library: string;
  name: string;
  /** Partners this device now syncs with. */
  partners: { device: string; name: string }[];
}

/** What the desk needs from the service. */
export interface PairingHost {
  readonly publicKey: Uint8Array;
  readonly bootstrap: { host: string; port: number }[] | undefined;
  /** Null unless the swarm is up. */
  networkError(): string | null;
  library(ref?: string): Library;
  hasLibrary(id: Id): boolean;
  /** This device's id in its libraries (derived from its key). */
  deviceId(): Id;
  deviceName(): string | undefined;
  createLibrary(opts: { name: string; libraryId: Id; secret: Uint8Array; deviceId: Id }): Promise<Library>;
  /** Admits these network keys before the library that lists them exists (the inviter dials at once). */
  expectPeers(keys: Uint8Array[]): void;
  emitInvite(info: InviteInfo): void;
  log(line: string): void;
}

/** Pairing was asked for while the network is off or unavailable. */
export class PairingUnavailableError extends Error {
  readonly code = 'ERR_NETWORK';
  constructor(why: string) {
    super(`Pairing needs the network, which is not running here: ${why}`);
    this.name = 'PairingUnavailableError';
  }
}

/** The code leads to a library this device already has. */
export class AlreadyJoinedError extends Error {
  readonly code = 'ERR_EXISTS';
  constructor(name: string, id: Id) {
    super(`This device already has library "${name}" (${idToString(id)})`);
    this.name = 'AlreadyJoinedError';
  }
}

export class PairingDesk {
  private readonly invites = new Map<string, { invite: Invite; info: InviteInfo }>();

  constructor(private readonly host: PairingHost) {}

  /** Opens an invite for a library; resolves with its code as soon as it can be shown. */
  async invite(ref: string | undefined, opts: { ttlMs?: number } = {}): Promise<InviteInfo> {
    this.needNetwork();
    const lib = this.host.library(ref);
    const self = this.selfCard(lib);
    const invite = await Invite.create({
      host: {
        libraryId: lib.id,
        libraryName: lib.name,
        secret: lib.secret,
        self,
        members: () => memberCards(lib, self),
        anchors: () => lib.anchors(),
        admit: async (joiner) => {
          // Identity is a key: the id a joiner announces must be its key's, and an id already live in the library is that device, already paired.
          if (!isDeviceIdOf(joiner.device, joiner.publicKey)) throw new Error(`the joining device's id ${idToString(joiner.device)} is not the one its key makes`);
          if (lib.members().some((m) => m.live && idEquals(m.device, joiner.device))) throw new Error(`device ${idToString(joiner.device)} is already a member of this library`);
          if (!lib.members().some((m) => m.live && idEquals(m.device, self.device))) await lib.addMember(self);
          await lib.addMember(joiner);
        },
      },
      bootstrap: this.host.bootstrap,
      ttlMs: opts.ttlMs ?? DEFAULT_INVITE_TTL_MS,
      log: (line) => this.host.log(line),
    });
    const info: InviteInfo = {
      code: invite.code,
      library: idToString(lib.id),
      libraryName: lib.name,
      expiresAt: invite.expiresAt,
      state: invite.state,
      attemptsLeft: invite.attemptsLeft,
      joined: null,
    };
    const entry = { invite, info };
    this.invites.set(invite.code, entry);
    const update = () => {
      info.state = invite.state;
      info.attemptsLeft = invite.attemptsLeft;
      this.host.emitInvite({ ...info });
    };
    invite.on('attempt', update);
    invite.on('state', update);
    invite.done.then(
      (d) => {
        info.joined = { device: idToString(d.device), name: d.name };
        update();
      },
      () => update(),
    );
    this.host.log(`invite for "${lib.name}" open until ${new Date(info.expiresAt).toISOString()}`);
    this.host.emitInvite({ ...info });
    return { ...info };
  }

  /** Open and finished invites of this run, newest last. */
  list(): InviteInfo[] {
    return [...this.invites.values()].map((e) => ({ ...e.info }));
  }

  /** Resolves once the invite joined, expired, was revoked or died. */
  async wait(code: string): Promise<InviteInfo> {
    const e = this.entry(code);
    await e.invite.done.catch(() => undefined);
    return { ...e.info, state: e.invite.state, attemptsLeft: e.invite.attemptsLeft };
  }

  async revoke(code: string): Promise<InviteInfo> {
    const e = this.entry(code);
    await e.invite.revoke();
    return { ...e.info, state: e.invite.state };
  }

  /** Joins the library behind `code`. */
  async join(code: string, opts: { timeoutMs?: number } = {}): Promise<JoinResult> {
    parseInviteCode(code); // a typo fails here, before anything else
    this.needNetwork();
    const device = this.host.deviceId();
    const joiner: DeviceCard = { device, name: this.host.deviceName() ?? defaultDeviceName(), publicKey: this.host.publicKey };
    const offer = await joinWithCode({ code, joiner, bootstrap: this.host.bootstrap, timeoutMs: opts.timeoutMs, log: (line) => this.host.log(line) });
    if (this.host.hasLibrary(offer.libraryId)) throw new AlreadyJoinedError(offer.name, offer.libraryId);
    if (!isDeviceIdOf(offer.inviter.device, offer.inviter.publicKey)) {
      throw new PairingError('protocol', `the inviting device's id ${idToString(offer.inviter.device)} is not the one its key ${toHex(offer.inviter.publicKey)} makes`);
    }
    // A member whose id is not its key's is no device anyone paired: skipped (its own devices would refuse it too).
    const members = [offer.inviter, ...offer.members].filter((m) => {
      const ok = isDeviceIdOf(m.device, m.publicKey);
      if (!ok) this.host.log(`join: skipped member "${m.name}" (${idToString(m.device)}): its id is not its key's`);
      return ok;
    });
    this.host.expectPeers(members.filter((m) => !idEquals(m.device, device)).map((m) => m.publicKey));
    const lib = await this.host.createLibrary({ name: offer.name, libraryId: offer.libraryId, secret: offer.secret, deviceId: device });
    // Who the library's membership starts from, as the inviter (whose proof checked) has it: never taken from sync.
    const anchors = offer.anchors.filter((a) => isDeviceIdOf(a.device, a.publicKey));
    if (anchors.length) await lib.pinAnchors(anchors);
    const partners: JoinResult['partners'] = [];
    for (const m of members) {
      if (idEquals(m.device, device) || partners.some((p) => p.device === idToString(m.device))) continue;
      await lib.addPartner(m.device, m.name, m.publicKey);
      partners.push({ device: idToString(m.device), name: m.name });
    }
    this.host.log(`joined "${offer.name}" (${idToString(offer.libraryId)}): backfilling from ${partners.length} partner(s)`);
    return { library: idToString(offer.libraryId), name: offer.name, partners };
  }

  /** Revokes every open invite (the service is stopping). */
  async close(): Promise<void> {
    await Promise.all([...this.invites.values()].map((e) => e.invite.revoke()));
  }

  private entry(code: string) {
    const e = this.invites.get(code) ?? [...this.invites.values()].find((x) => x.info.code.replace(/-/g, '') === code.toUpperCase().replace(/-/g, ''));
    if (!e) throw new NotFoundError(`No invite ${code} on this device`);
    return e;
  }

  private needNetwork(): void {
    const why = this.host.networkError();
    if (why !== null) throw new PairingUnavailableError(why);
  }

  private selfCard(lib: Library): DeviceCard {
    return { device: lib.deviceId, name: lib.deviceName(), publicKey: this.host.publicKey };
  }
}

/** The members a joiner is told of: live members, plus partners paired before membership synced, plus this device. */
function memberCards(lib: Library, self: DeviceCard): DeviceCard[] {
  const cards = new Map<string, DeviceCard>();
  cards.set(idToString(self.device), self);
  for (const m of lib.members()) if (m.live && m.publicKey.length === 32) cards.set(idToString(m.device), { device: m.device, name: m.name, publicKey: m.publicKey });
  for (const p of lib.partners()) {
    if (p.publicKey && !cards.has(idToString(p.device))) cards.set(idToString(p.device), { device: p.device, name: p.name ?? '', publicKey: p.publicKey });
  }
  return [...cards.values()];
}

function defaultDeviceName(): string {
  return os.hostname();
}
