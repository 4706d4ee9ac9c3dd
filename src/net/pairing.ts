/**
 * Pairing a new device into a library with a short invite code.
 *
 * The inviting device shows a code (invite-code.ts) and waits on a
 * rendezvous topic derived from it, on a short-lived swarm of its own with
 * a throwaway key: the library's swarm and firewall are not touched, and
 * nothing links the rendezvous to this device's identity. The joining
 * device derives the same topic from the typed code and dials.
 *
 * On the encrypted connection (one Protomux channel, PAIR_PROTOCOL):
 *
 *   joiner  → JoinRequest { proof_join, its device id, name, network key }
 *   inviter → Accept { proof_invite, library id, name, secret, inviter, members, anchors }
 *           | Refuse { reason, attempts left }
 *   joiner  → Done
 *
 * A proof is BLAKE2b keyed with the code's proof key over a role label, the
 * connection's Noise handshake hash and both connection keys: it proves
 * knowledge of the code for this connection only, so a proof seen on one
 * connection is useless on another (no replay), and one side's proof does
 * not help forge the other's. The joiner proves first; the inviter sends
 * nothing but a refusal until the proof checks, and the joiner accepts the
 * library only if the inviter's proof checks too (a device that merely
 * found the topic cannot hand it a rogue library).
 *
 * The invite is single use: the first correct proof consumes it, before
 * the secret is sent, and the joiner is recorded as a member (so every
 * partner learns of it through sync). A wrong proof costs an attempt and is
 * answered only after a delay that grows with each (1 s, 2 s, …), one
 * attempt at a time; after `maxAttempts` wrong ones the invite dies. It
 * expires after `ttlMs` (10 minutes) and can be revoked.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import c from 'compact-encoding';
import { ID_BYTES, idToString, type Id } from '../core/ids';
import { Backoff } from '../engine/backoff';
import { PairingError } from './errors';
import type { Channel, SecretStream, Swarm } from './hyperswarm-types';
import { deriveInviteKeys, format, newInviteCode, parseInviteCode, type InviteKeys } from './invite-code';
import { keyPairFromSeed } from './keys';
import { loadNetModules, loadSodium, type NetModules } from './native';
import { afterResponsiveWait, channelOpenWaitMs, newSwarm } from './swarm-host';

export const PAIR_PROTOCOL = 'leaderless-sync/pair/2';

export const DEFAULT_INVITE_TTL_MS = 10 * 60_000;
export const DEFAULT_MAX_ATTEMPTS = 5;
/** The wait before answering the n-th wrong attempt is n × this. */
const WRONG_ATTEMPT_DELAY_MS = 1000;
const MAX_PAIR_MESSAGE_BYTES = 256 * 1024;
const MAX_NAME_CHARS = 256;
const MAX_MEMBERS = 1000;
const MAX_REASON_CHARS = 512;
/** How long a last answer gets to reach the remote before the connection is closed. */
const ANSWER_GRACE_MS = 200;
/** How long the inviter waits for the joiner's Done before it lets the connection go. */
const DONE_WAIT_MS = 5000;

/** A device as pairing introduces it: its id in the library, its name, its network key. */
export interface DeviceCard {
  device: Id;
  name: string;
  publicKey: Uint8Array;
}

/** What the joining device receives: everything it needs to create its copy of the library. */
export interface LibraryOffer {
  libraryId: Id;
  name: string;
  /** The 32-byte library secret. Never log it. */
  secret: Uint8Array;
  inviter: DeviceCard;
  /** Every member the inviter knows (itself included); the joiner syncs with them. */
  members: DeviceCard[];
  /** The devices the library's membership starts from (engine/membership.ts): the joiner pins them. */
  anchors: DeviceCard[];
}

/** What the inviting side needs from its library. */
export interface InviteHost {
  libraryId: Id;
  libraryName: string;
  secret: Uint8Array;
  /** This device in the library. */
  self: DeviceCard;
  /** The library's current members (this device included). */
  members(): DeviceCard[];
  /** The library's anchors (read after admit, which may pin them). */
  anchors(): DeviceCard[];
  /** Records the joiner as a member (durably) before the secret is sent. */
  admit(joiner: DeviceCard): Promise<void>;
}

export interface NetOptions {
  bootstrap?: { host: string; port: number }[];
  bindHost?: string;
  log?: (line: string) => void;
}

// ------------------------------------------------------------------ messages

const enum Type {
  JoinRequest = 1,
  Accept = 2,
  Refuse = 3,
  Done = 4,
}

type Message =
  | { type: Type.JoinRequest; proof: Uint8Array; joiner: DeviceCard }
  | { type: Type.Accept; proof: Uint8Array; offer: LibraryOffer }
  | { type: Type.Refuse; reason: string; attemptsLeft: number | null }
  | { type: Type.Done };

type State = { start: number; end: number; buffer: Uint8Array | null };

function bounded(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) : text;
}

const card = {
  preencode(s: State, d: DeviceCard) {
    c.fixed(ID_BYTES).preencode(s, d.device);
    c.string.preencode(s, bounded(d.name, MAX_NAME_CHARS));
    c.fixed32.preencode(s, d.publicKey);
  },
  encode(s: State, d: DeviceCard) {
    c.fixed(ID_BYTES).encode(s, d.device);
    c.string.encode(s, bounded(d.name, MAX_NAME_CHARS));
    c.fixed32.encode(s, d.publicKey);
  },
  decode(s: State): DeviceCard {
    const device = new Uint8Array(c.fixed(ID_BYTES).decode(s));
    const name = c.string.decode(s);
    if (name.length > MAX_NAME_CHARS) throw new Error('device name too long');
    return { device, name, publicKey: new Uint8Array(c.fixed32.decode(s)) };
  },
};

function messageBody(op: 'preencode' | 'encode', s: State, m: Message): void {
  c.uint[op](s, m.type);
  switch (m.type) {
    case Type.JoinRequest:
      c.fixed32[op](s, m.proof);
      card[op](s, m.joiner);
      break;
    case Type.Accept: {
      const members = m.offer.members.slice(0, MAX_MEMBERS);
      c.fixed32[op](s, m.proof);
      c.fixed(ID_BYTES)[op](s, m.offer.libraryId);
      c.string[op](s, bounded(m.offer.name, MAX_NAME_CHARS));
      c.fixed32[op](s, m.offer.secret);
      card[op](s, m.offer.inviter);
      c.uint[op](s, members.length);
      for (const d of members) card[op](s, d);
      const anchors = m.offer.anchors.slice(0, MAX_MEMBERS);
      c.uint[op](s, anchors.length);
      for (const d of anchors) card[op](s, d);
      break;
    }
    case Type.Refuse:
      c.string[op](s, bounded(m.reason, MAX_REASON_CHARS));
      c.uint[op](s, m.attemptsLeft === null ? 0 : m.attemptsLeft + 1);
      break;
    case Type.Done:
      break;
  }
}

export function encodeMessage(m: Message): Uint8Array {
  const s: State = { start: 0, end: 0, buffer: null };
  messageBody('preencode', s, m);
  s.buffer = new Uint8Array(s.end);
  messageBody('encode', s, m);
  return s.buffer;
}

/** Throws PairingError('protocol') on anything malformed. */
export function decodeMessage(bytes: Uint8Array): Message {
  if (bytes.byteLength > MAX_PAIR_MESSAGE_BYTES) throw new PairingError('protocol', `a pairing message of ${bytes.byteLength} bytes (the limit is ${MAX_PAIR_MESSAGE_BYTES})`);
  const s: State = { start: 0, end: bytes.byteLength, buffer: bytes };
  try {
    const type = c.uint.decode(s);
    let m: Message;
    switch (type) {
      case Type.JoinRequest:
        m = { type, proof: new Uint8Array(c.fixed32.decode(s)), joiner: card.decode(s) };
        break;
      case Type.Accept: {
        const proof = new Uint8Array(c.fixed32.decode(s));
        const libraryId = new Uint8Array(c.fixed(ID_BYTES).decode(s));
        const name = c.string.decode(s);
        if (name.length > MAX_NAME_CHARS) throw new Error('library name too long');
        const secret = new Uint8Array(c.fixed32.decode(s));
        const inviter = card.decode(s);
        const n = c.uint.decode(s);
        if (n > MAX_MEMBERS) throw new Error(`${n} members (the limit is ${MAX_MEMBERS})`);
        const members: DeviceCard[] = [];
        for (let i = 0; i < n; i++) members.push(card.decode(s));
        const a = c.uint.decode(s);
        if (a > MAX_MEMBERS) throw new Error(`${a} anchors (the limit is ${MAX_MEMBERS})`);
        const anchors: DeviceCard[] = [];
        for (let i = 0; i < a; i++) anchors.push(card.decode(s));
        m = { type, proof, offer: { libraryId, name, secret, inviter, members, anchors } };
        break;
      }
      case Type.Refuse: {
        const reason = c.string.decode(s);
        const left = c.uint.decode(s);
        m = { type, reason: bounded(reason, MAX_REASON_CHARS), attemptsLeft: left === 0 ? null : left - 1 };
        break;
      }
      case Type.Done:
        m = { type };
        break;
      default:
        throw new Error(`unknown pairing message type ${type}`);
    }
    if (s.start !== s.end) throw new Error('trailing bytes');
    return m;
  } catch (e) {
    if (e instanceof PairingError) throw e;
    throw new PairingError('protocol', `malformed pairing message: ${e instanceof Error ? e.message : String(e)}`);
  }
}

// ------------------------------------------------------------------ proofs

type Role = 'join' | 'invite';

/** Proof of knowing the code, for this connection, by `role`. Both ends compute the same bytes. */
export function proofFor(keys: InviteKeys, role: Role, conn: { handshakeHash: Uint8Array; joinerKey: Uint8Array; inviterKey: Uint8Array }): Uint8Array {
  const out = Buffer.alloc(32);
  const label = Buffer.from(`leaderless-sync/pair-proof/${role}`, 'utf8');
  loadSodium().crypto_generichash(out, Buffer.concat([label, conn.handshakeHash, conn.joinerKey, conn.inviterKey]), keys.proofKey);
  return out;
}

function proofsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && loadSodium().sodium_memcmp(a, b);
}

// ------------------------------------------------------------------ the pairing channel

/** A throwaway swarm for one pairing: fresh key, nothing else on it. */
function pairingSwarm(net: NetModules, opts: NetOptions): Swarm {
  return newSwarm(net, { keyPair: keyPairFromSeed(randomBytes(32)), bootstrap: opts.bootstrap, bindHost: opts.bindHost }, () => false);
}

/** Opens the pairing channel on a connection; `onmessage` gets decoded messages (malformed ones close the connection). */
function openChannel(net: NetModules, conn: SecretStream, topic: Uint8Array, onmessage: (m: Message) => void, onclose: () => void, onopen: () => void = () => undefined): Channel | null {
  const mux = net.Protomux.from(conn);
  const channel = mux.createChannel({
    protocol: PAIR_PROTOCOL,
    id: topic,
    messages: [
      {
        encoding: c.raw,
        onmessage: (bytes) => {
          let m: Message;
          try {
            m = decodeMessage(bytes);
          } catch {
            conn.destroy();
            return;
          }
          onmessage(m);
        },
      },
    ],
    onopen: () => onopen(),
    onclose: () => onclose(),
    ondrain: () => undefined,
  });
  channel?.open();
  return channel;
}

const send = (ch: Channel, m: Message) => ch.messages[0].send(encodeMessage(m));

// ------------------------------------------------------------------ inviting

export type InviteState = 'waiting' | 'joined' | 'expired' | 'revoked' | 'exhausted';

export interface InviteOptions extends NetOptions {
  host: InviteHost;
  ttlMs?: number;
  maxAttempts?: number;
  /** The wait before answering the n-th wrong attempt is n × this (default 1 s). */
  wrongAttemptDelayMs?: number;
  /** The code to use; default a new random one. */
  code?: string;
}

/**
 * A live invite. `done` resolves with the device that joined, or rejects
 * with PairingError('expired' | 'revoked' | 'exhausted'). Events: 'attempt'
 * ({ ok, attemptsLeft }), 'state' (InviteState).
 */
export class Invite extends EventEmitter {
  /** For display: `XXXX-XXXX-XXXX`. */
  readonly code: string;
  readonly expiresAt: number;
  readonly done: Promise<DeviceCard>;
  private current: InviteState = 'waiting';
  private wrong = 0;
  private busy = false;
  private readonly conns = new Set<SecretStream>();
  private timer: NodeJS.Timeout;
  private settle!: { resolve: (d: DeviceCard) => void; reject: (e: Error) => void };
  private readonly log: (line: string) => void;

  /** Resolves once the rendezvous is announced on the DHT (false if that failed, e.g. offline). */
  readonly announced: Promise<boolean>;

  private constructor(
    private readonly net: NetModules,
    private readonly swarm: Swarm,
    private readonly keys: InviteKeys,
    private readonly opts: InviteOptions & { ttlMs: number; maxAttempts: number; wrongAttemptDelayMs: number },
    code: string,
  ) {
    super();
    this.code = format(code);
    this.expiresAt = Date.now() + opts.ttlMs;
    this.log = opts.log ?? (() => undefined);
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => undefined); // a caller that only shows the code need not await it
    this.timer = setTimeout(() => this.fail('expired', 'the invite expired'), opts.ttlMs);
    this.timer.unref();
    swarm.on('connection', (conn) => this.onConnection(conn));
    this.announced = swarm.join(keys.topic, { server: true, client: false }).flushed().then(
      () => true,
      () => false,
    );
  }

  /** Creates an invite and starts waiting for the joiner on its rendezvous. */
  static async create(opts: InviteOptions): Promise<Invite> {
    const code = parseInviteCode(opts.code ?? newInviteCode());
    return Invite.withKeys(code, await deriveInviteKeys(code), opts);
  }

  /** An invite showing `code` but using `keys` (tests use it to play an impostor that knows the topic but not the code). */
  static withKeys(code: string, keys: InviteKeys, opts: InviteOptions): Invite {
    const net = loadNetModules();
    const o = { ttlMs: DEFAULT_INVITE_TTL_MS, maxAttempts: DEFAULT_MAX_ATTEMPTS, wrongAttemptDelayMs: WRONG_ATTEMPT_DELAY_MS, ...opts };
    return new Invite(net, pairingSwarm(net, opts), keys, o, code);
  }

  get state(): InviteState {
    return this.current;
  }

  get attemptsLeft(): number {
    return Math.max(0, this.opts.maxAttempts - this.wrong);
  }

  /** Stops the invite: the code no longer works. */
  async revoke(): Promise<void> {
    this.fail('revoked', 'the invite was revoked');
    await this.delivering; // an invite already used finishes handing over the library
    return this.shutDown();
  }

  private onConnection(conn: SecretStream): void {
    conn.on('error', () => undefined);
    if (this.closing) return conn.destroy();
    this.conns.add(conn); // while not waiting any more, a request still gets a clear refusal
    conn.on('close', () => this.conns.delete(conn));
    conn.setTimeout(15_000);
    let asked = false;
    const channel = openChannel(
      this.net,
      conn,
      this.keys.topic,
      (m) => {
        if (m.type === Type.JoinRequest && !asked) {
          asked = true;
          void this.onJoinRequest(conn, channel!, m.proof, m.joiner);
        } else if (m.type !== Type.Done) conn.destroy();
      },
      () => undefined,
    );
    if (!channel) conn.destroy();
  }

  private async onJoinRequest(conn: SecretStream, channel: Channel, proof: Uint8Array, joiner: DeviceCard): Promise<void> {
    const refuse = (reason: string, left: number | null) => {
      send(channel, { type: Type.Refuse, reason, attemptsLeft: left });
      setTimeout(() => conn.destroy(), ANSWER_GRACE_MS).unref();
    };
    if (this.current !== 'waiting') return refuse('this invite is no longer valid', 0);
    if (this.busy) return refuse('another device is trying this invite: try again in a few seconds', this.attemptsLeft);
    const expected = proofFor(this.keys, 'join', { handshakeHash: conn.handshakeHash, joinerKey: conn.remotePublicKey, inviterKey: conn.publicKey });
    if (!proofsEqual(proof, expected)) {
      this.busy = true;
      this.wrong++;
      const left = this.attemptsLeft;
      this.log(`pairing: a wrong invite code was tried (${left} attempt${left === 1 ? '' : 's'} left)`);
      this.emit('attempt', { ok: false, attemptsLeft: left });
      await sleep(this.opts.wrongAttemptDelayMs * this.wrong);
      this.busy = false;
      refuse('wrong invite code', left);
      if (left === 0) this.fail('exhausted', `the invite died after ${this.opts.maxAttempts} wrong attempts`, ANSWER_GRACE_MS);
      return;
    }
    // Single use: consumed before anything secret leaves this device.
    this.setState('joined');
    clearTimeout(this.timer);
    this.emit('attempt', { ok: true, attemptsLeft: this.attemptsLeft });
    try {
      await this.opts.host.admit(joiner);
    } catch (e) {
      const why = `recording the new device failed: ${e instanceof Error ? e.message : String(e)}`;
      refuse('the inviting device could not record the new device', 0);
      this.log(`pairing: ${why}`);
      this.settle.reject(new PairingError('protocol', why));
      return void this.shutDown();
    }
    const { host } = this.opts;
    const offer: LibraryOffer = { libraryId: host.libraryId, name: host.libraryName, secret: host.secret, inviter: host.self, members: host.members(), anchors: host.anchors() };
    const inviteProof = proofFor(this.keys, 'invite', { handshakeHash: conn.handshakeHash, joinerKey: conn.remotePublicKey, inviterKey: conn.publicKey });
    send(channel, { type: Type.Accept, proof: inviteProof, offer });
    // Let the Accept reach the joiner (it answers Done and closes) before `done` resolves: a
    // caller that stops once the invite is used must not cut the answer off.
    this.delivering = Promise.race([new Promise<void>((r) => conn.on('close', () => r())), sleep(DONE_WAIT_MS)]);
    await this.delivering;
    this.log(`pairing: ${joiner.name} (${idToString(joiner.device)}) joined library ${idToString(host.libraryId)}`);
    this.settle.resolve(joiner);
    await this.shutDown();
  }

  /** While the Accept is on its way to the joiner. */
  private delivering: Promise<void> | null = null;

  private setState(s: InviteState): void {
    this.current = s;
    this.emit('state', s);
  }

  /** Ends a waiting invite (expired, revoked, exhausted): `done` rejects and the rendezvous closes. */
  private fail(state: 'expired' | 'revoked' | 'exhausted', message: string, graceMs = 0): void {
    if (this.current !== 'waiting') return;
    this.setState(state);
    this.settle.reject(new PairingError(state, message));
    void this.shutDown(graceMs);
  }

  private closing: Promise<void> | null = null;

  /** `graceMs`: time for a last answer to reach the remote first. */
  private shutDown(graceMs = 0): Promise<void> {
    return (this.closing ??= (async () => {
      clearTimeout(this.timer);
      if (graceMs > 0) await sleep(graceMs);
      for (const conn of this.conns) conn.destroy();
      await this.swarm.destroy().catch(() => undefined);
    })());
  }
}

// ------------------------------------------------------------------ joining

export interface JoinOptions extends NetOptions {
  code: string;
  /** This device as it will be in the library. */
  joiner: DeviceCard;
  /** How long to look for the inviting device and wait for its answer. Default 60 s. */
  timeoutMs?: number;
}

/**
 * Finds the inviting device for `code`, proves the code, and returns the
 * library it offers once the inviter proved the code too. Rejects with an
 * InviteCodeError (typo: no attempt spent) or a PairingError.
 */
export async function joinWithCode(opts: JoinOptions): Promise<LibraryOffer> {
  const keys = await deriveInviteKeys(parseInviteCode(opts.code));
  return joinWithKeys(keys, opts);
}

/** joinWithCode with the code's keys already derived (tests use it to play a joiner that knows the topic but not the code). */
export async function joinWithKeys(keys: InviteKeys, opts: Omit<JoinOptions, 'code'>): Promise<LibraryOffer> {
  const net = loadNetModules();
  const swarm = pairingSwarm(net, opts);
  const log = opts.log ?? (() => undefined);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let refresh: NodeJS.Timeout | null = null;
  let timer: NodeJS.Timeout | null = null;
  try {
    return await new Promise<LibraryOffer>((resolve, reject) => {
      let settled = false;
      const finish = (e: Error | null, offer?: LibraryOffer) => {
        if (settled) return;
        settled = true;
        if (e) reject(e);
        else resolve(offer!);
      };
      let attempt: SecretStream | null = null;
      timer = setTimeout(
        () => finish(new PairingError('timeout', `No inviting device answered for this code within ${Math.round(timeoutMs / 1000)} s: check that the invite is still open on the other device and that both are online`)),
        timeoutMs,
      );
      swarm.on('connection', (conn) => {
        conn.on('error', () => undefined);
        if (attempt || settled) return conn.destroy();
        attempt = conn;
        const joinerKey = conn.publicKey;
        const inviterKey = conn.remotePublicKey;
        let opened = false;
        // A connection can be up on this side only (a hole punch the other side never saw): without
        // the inviter's channel soon, drop it and dial again rather than wait for its ~13 s timeout.
        const cancelOpenWait = afterResponsiveWait(channelOpenWaitMs(conn), () => conn.destroy()); // as the sync swarm waits (swarm-host.ts)
        const channel = openChannel(
          net,
          conn,
          keys.topic,
          (m) => {
            if (m.type === Type.Refuse) {
              const left = m.attemptsLeft;
              finish(new PairingError('refused', `The inviting device refused: ${m.reason}${left !== null && left > 0 ? ` (${left} attempt${left === 1 ? '' : 's'} left)` : ''}`, left));
            } else if (m.type === Type.Accept) {
              const expected = proofFor(keys, 'invite', { handshakeHash: conn.handshakeHash, joinerKey, inviterKey });
              if (!proofsEqual(m.proof, expected)) return finish(new PairingError('bad-proof', 'The device at the rendezvous could not prove it knows the code: not pairing with it'));
              send(channel!, { type: Type.Done });
              log(`pairing: joined library ${m.offer.name} (${idToString(m.offer.libraryId)})`);
              finish(null, m.offer);
            } else finish(new PairingError('protocol', 'Unexpected pairing message from the inviting device'));
            setTimeout(() => conn.destroy(), ANSWER_GRACE_MS).unref();
          },
          () => {
            cancelOpenWait();
            if (settled) return;
            if (opened) return finish(new PairingError('protocol', 'The inviting device closed the connection without answering: the invite may have just expired, been used or revoked'));
            log('pairing: the connection to the inviting device did not come up; dialling again');
            attempt = null;
            swarm.joinPeer(inviterKey);
          },
          () => {
            opened = true;
            cancelOpenWait();
            send(channel!, { type: Type.JoinRequest, proof: proofFor(keys, 'join', { handshakeHash: conn.handshakeHash, joinerKey, inviterKey }), joiner: opts.joiner });
          },
        );
        if (!channel) return finish(new PairingError('protocol', 'Could not open the pairing channel'));
      });
      const discovery = swarm.join(keys.topic, { server: false, client: true });
      // The inviter's announcement may land after the first lookup: look again with backoff until paired.
      const backoff = new Backoff(1000, 8000);
      const again = () => {
        refresh = setTimeout(() => {
          if (settled) return;
          if (!attempt) discovery.refresh().catch(() => undefined);
          again();
        }, backoff.take());
        refresh.unref();
      };
      again();
    });
  } finally {
    if (refresh) clearTimeout(refresh);
    if (timer) clearTimeout(timer);
    await swarm.destroy().catch(() => undefined);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
