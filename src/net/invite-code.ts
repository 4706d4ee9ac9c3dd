/**
 * Invite codes: short enough to read aloud and type, and what is derived
 * from them.
 *
 * A code is 10 random symbols of Crockford's base32 (50 bits) plus 2 check
 * symbols, shown as `XXXX-XXXX-XXXX`. Reading it back is forgiving: case,
 * spaces and dashes do not matter, and I/L read as 1, O as 0. The check
 * symbols catch a typo on the joining device before it costs one of the
 * invite's few attempts.
 *
 * Everything the network sees comes from the code through Argon2id
 * (libsodium's crypto_pwhash, interactive limits: ~65 ms and 64 MiB here),
 * so an observer of the rendezvous topic or of a proof cannot search the
 * 2^50 codes offline in the invite's 10 minutes: one guess costs what it
 * costs the user. From the 64-byte output: the rendezvous topic (announced
 * by the inviting device on the DHT) and the proof key (never sent; see
 * pairing.ts).
 */
import { randomBytes } from 'node:crypto';
import { InviteCodeError } from './errors';
import { loadSodium } from './native';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const RANDOM_SYMBOLS = 10;
const CHECK_SYMBOLS = 2;
export const INVITE_CODE_SYMBOLS = RANDOM_SYMBOLS + CHECK_SYMBOLS;
/** Bits of entropy in a code. */
export const INVITE_CODE_BITS = RANDOM_SYMBOLS * 5;

const SALT = Buffer.from('leaderless/pair1', 'utf8'); // 16 bytes: crypto_pwhash_SALTBYTES
const TOPIC_CONTEXT = Buffer.from('leaderless-sync/invite-topic/v1', 'utf8');

/** A new random invite code, formatted for display. */
export function newInviteCode(): string {
  const bytes = randomBytes(RANDOM_SYMBOLS);
  let body = '';
  for (let i = 0; i < RANDOM_SYMBOLS; i++) body += ALPHABET[bytes[i] & 31];
  return format(body + checkSymbols(body));
}

/**
 * The canonical form (12 symbols, no dashes) of a typed code; an
 * InviteCodeError says what is wrong with a mistyped one.
 */
export function parseInviteCode(input: string): string {
  const cleaned = String(input)
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/[IL]/g, '1')
    .replace(/O/g, '0');
  const bad = [...cleaned].find((ch) => !ALPHABET.includes(ch));
  if (bad !== undefined) throw new InviteCodeError(`"${bad}" cannot appear in an invite code (it uses digits and letters except I, L, O and U)`);
  if (cleaned.length !== INVITE_CODE_SYMBOLS) {
    throw new InviteCodeError(`An invite code has ${INVITE_CODE_SYMBOLS} characters (XXXX-XXXX-XXXX); this one has ${cleaned.length}`);
  }
  const body = cleaned.slice(0, RANDOM_SYMBOLS);
  if (checkSymbols(body) !== cleaned.slice(RANDOM_SYMBOLS)) throw new InviteCodeError('This invite code has a typo: check it against the inviting device');
  return cleaned;
}

/** `XXXX-XXXX-XXXX`. */
export function format(code: string): string {
  return code.match(/.{1,4}/g)!.join('-');
}

function checkSymbols(body: string): string {
  const out = new Uint8Array(32);
  loadSodium().crypto_generichash(out, Buffer.from(`leaderless-invite-check:${body}`, 'utf8'));
  let s = '';
  for (let i = 0; i < CHECK_SYMBOLS; i++) s += ALPHABET[out[i] & 31];
  return s;
}

export interface InviteKeys {
  /** Where the inviting device waits on the DHT. */
  topic: Uint8Array;
  /** Keys the proofs; never leaves the device. */
  proofKey: Uint8Array;
}

/** The rendezvous topic and proof key of a (canonical) code; Argon2id off the event loop. */
export async function deriveInviteKeys(code: string): Promise<InviteKeys> {
  const sodium = loadSodium();
  const out = Buffer.alloc(64);
  await sodium.crypto_pwhash_async(
    out,
    Buffer.from(parseInviteCode(code), 'utf8'),
    SALT,
    sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE,
    sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
  const topic = Buffer.alloc(32);
  sodium.crypto_generichash(topic, TOPIC_CONTEXT, out.subarray(0, 32));
  return { topic, proofKey: Buffer.from(out.subarray(32)) };
}
