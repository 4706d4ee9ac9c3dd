/**
 * Ed25519 signatures, and device ids derived from a device's public key.
 *
 * A device's identity is its key (DESIGN rule 12): the device key pair is
 * the one it joins the swarm with (libsodium layout: publicKey 32 bytes,
 * secretKey = seed ‖ publicKey, 64 bytes), and the id of a device created
 * since keys became identities is derived from its public key, so that no
 * other key can ever speak for that id. Signing and verifying use Node's
 * own crypto (no native addon: the engine also runs where none loads).
 */
import { createPrivateKey, createPublicKey, randomBytes, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { derivedId, idEquals, type Id } from './ids';

export const PUBLIC_KEY_BYTES = 32;
export const SECRET_KEY_BYTES = 64;
export const SIGNATURE_BYTES = 64;

export interface DeviceKeyPair {
  readonly publicKey: Uint8Array;
  /** seed ‖ publicKey (libsodium's layout, as Hyperswarm takes it). */
  readonly secretKey: Uint8Array;
}

/** DER prefixes of PKCS#8 Ed25519 private keys (the 32-byte seed follows) and SPKI public keys (the 32-byte key follows). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const privateKeys = new WeakMap<Uint8Array, KeyObject>();
/** Per public key (hex) seen: whether it is acceptable, and its KeyObject once one was needed. Bounded, oldest out. */
const knownKeys = new Map<string, { acceptable: boolean; object?: KeyObject }>();
const MAX_CACHED_PUBLIC_KEYS = 4096;

/** The id of the device whose public key this is (UUID v8 form). */
export function deviceIdOf(publicKey: Uint8Array): Id {
  return derivedId('device', publicKey);
}

/**
 * Keys checked already, by the very array object (a library's own key, and
 * the key object a decoded page of changes shares): every shared change is
 * checked, and hashing its key each time was a fifth of a commit's CPU.
 * Keys are immutable in this codebase once made or decoded.
 */
const checkedKeys = new WeakMap<Uint8Array, { device: Id; acceptable: boolean }>();

/** Whether `device` is the id derived from `publicKey`, and that key is one only its holder can sign for (acceptableKey). */
export function isDeviceIdOf(device: Id, publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.byteLength !== PUBLIC_KEY_BYTES) return false;
  let known = checkedKeys.get(publicKey);
  if (!known) {
    known = { device: deviceIdOf(publicKey), acceptable: acceptableKey(publicKey) };
    checkedKeys.set(publicKey, known);
  }
  return known.acceptable && idEquals(known.device, device);
}

// ---------------------------------------------------------------- key validation

const P = 2n ** 255n - 19n;
const D = (((-121665n * inverse(121666n)) % P) + P) % P;
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

function mod(x: bigint): bigint {
  const r = x % P;
  return r < 0n ? r + P : r;
}

function pow(b: bigint, e: bigint): bigint {
  let r = 1n;
  b = mod(b);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}

function inverse(x: bigint): bigint {
  return pow(x, P - 2n);
}

/**
 * Whether `publicKey` is a canonical encoding of a curve point of large
 * order. Node's Ed25519 (OpenSSL) accepts any point; a key of small order
 * (the identity, say) has "signatures" anyone can make (R = identity,
 * S = 0 verifies for every message under the identity key), so an id
 * derived from one would be an id anyone can speak for. libsodium refuses
 * these keys too. Exact: decodes the point and checks that 8·A is not the
 * identity (the curve's torsion is 8). Cached per key.
 */
export function acceptableKey(publicKey: Uint8Array): boolean {
  return publicKey.byteLength === PUBLIC_KEY_BYTES && knownKey(publicKey).acceptable;
}

function knownKey(publicKey: Uint8Array): { acceptable: boolean; object?: KeyObject } {
  const hex = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('hex');
  let known = knownKeys.get(hex);
  if (!known) {
    known = { acceptable: largeOrderPoint(publicKey) };
    if (knownKeys.size >= MAX_CACHED_PUBLIC_KEYS) knownKeys.delete(knownKeys.keys().next().value as string);
    knownKeys.set(hex, known);
  }
  return known;
}

function largeOrderPoint(bytes: Uint8Array): boolean {
  const sign = bytes[31] >> 7;
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? bytes[i] & 0x7f : bytes[i]);
  if (y >= P) return false; // not canonical
  const y2 = (y * y) % P;
  const u = mod(y2 - 1n);
  const v = mod(D * y2 + 1n);
  // x = sqrt(u / v), RFC 8032 §5.1.3
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 !== u) {
    if (vx2 !== mod(-u)) return false; // not on the curve
    x = mod(x * SQRT_M1);
  }
  if (x === 0n && sign === 1) return false; // not canonical
  if (Number(x & 1n) !== sign) x = P - x;
  // Three doublings with the complete addition law: small order iff the result is the identity (0, 1).
  for (let i = 0; i < 3; i++) {
    const xy = (x * y) % P;
    const dxy2 = (D * xy * xy) % P;
    const nx = mod(2n * xy * inverse(mod(1n + dxy2)));
    const ny = mod((y * y + x * x) * inverse(mod(1n - dxy2)));
    x = nx;
    y = ny;
  }
  return !(x === 0n && y === 1n);
}

/** A key pair from a 32-byte seed (the same as libsodium's and HyperDHT's), or a new random one. */
export function deviceKeyPair(seed: Uint8Array = randomBytes(32)): DeviceKeyPair {
  if (seed.byteLength !== 32) throw new RangeError(`an Ed25519 seed is 32 bytes, not ${seed.byteLength}`);
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = Uint8Array.from(Buffer.from(createPublicKey(priv).export({ format: 'jwk' }).x ?? '', 'base64url'));
  const secretKey = new Uint8Array(SECRET_KEY_BYTES);
  secretKey.set(seed, 0);
  secretKey.set(publicKey, 32);
  privateKeys.set(secretKey, priv);
  return { publicKey, secretKey };
}

function privateKeyOf(secretKey: Uint8Array): KeyObject {
  let k = privateKeys.get(secretKey);
  if (!k) {
    if (secretKey.byteLength !== SECRET_KEY_BYTES) throw new RangeError(`an Ed25519 secret key is ${SECRET_KEY_BYTES} bytes, not ${secretKey.byteLength}`);
    k = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
    privateKeys.set(secretKey, k);
  }
  return k;
}


/** Whether `key`'s secret half signs for its public half (a key pair assembled from mismatched halves signs what no one accepts). */
export function isKeyPair(key: DeviceKeyPair): boolean {
  const probe = Buffer.from('leaderless-sync/key-pair-check', 'utf8');
  try {
    return verify(key.publicKey, probe, sign(key, probe));
  } catch {
    return false;
  }
}

/** The 64-byte signature of `message` by `key`. */
export function sign(key: DeviceKeyPair, message: Uint8Array): Uint8Array {
  return Uint8Array.from(nodeSign(null, message, privateKeyOf(key.secretKey)));
}

/** Whether `signature` is `publicKey`'s signature of `message` (false for anything malformed). */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.byteLength !== PUBLIC_KEY_BYTES || signature.byteLength !== SIGNATURE_BYTES) return false;
  const known = knownKey(publicKey);
  if (!known.acceptable) return false;
  try {
    known.object ??= createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    return nodeVerify(null, message, known.object, signature);
  } catch {
    return false;
  }
}
