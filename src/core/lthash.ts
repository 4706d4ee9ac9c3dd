/**
 * LtHash16: a homomorphic hash of a multiset of byte strings (Bellare and
 * Micciancio's LtHash with the parameters of Lewi et al., "Securing Update
 * Propagation with Homomorphic Hashing", 2019: 1024 lanes of 16 bits, 2 KB).
 *
 * Each element is expanded to 1024 pseudo-random 16-bit lanes (its BLAKE2b
 * hash keys a ChaCha20 keystream of 2 KB), and the set's hash is the
 * lane-wise sum modulo 2^16. So adding or removing one element costs one
 * expansion, two holders of the same elements get the same hash in any
 * order, and finding two different sets with the same hash is as hard as a
 * short-vector lattice problem (about 200 bits of security at this size,
 * by that paper's estimate) even for whoever chooses the elements.
 *
 * Expansion runs through libsodium (sodium-native, the same addon
 * Hyperswarm loads) when it loads, and through Node's OpenSSL otherwise;
 * the two give the same bytes (a test checks).
 */
import { createCipheriv, createHash } from 'node:crypto';

export const LTHASH_LANES = 1024;
export const LTHASH_BYTES = 2 * LTHASH_LANES;

interface Sodium {
  crypto_generichash(out: Uint8Array, input: Uint8Array): void;
  crypto_stream_chacha20_ietf(out: Uint8Array, nonce: Uint8Array, key: Uint8Array): void;
}

function loadSodium(): Sodium | null {
  if (process.env.LEADERLESS_NO_SODIUM === '1') return null;
  try {
    return require('sodium-native') as Sodium;
  } catch {
    return null;
  }
}

const sodium = loadSodium();
const NONCE = new Uint8Array(12);
const IV = new Uint8Array(16); // OpenSSL's chacha20: 4-byte block counter, then the 12-byte nonce
const ZEROS = new Uint8Array(LTHASH_BYTES);
const digest = new Uint8Array(64);
const stream = new Uint8Array(LTHASH_BYTES);
const streamLanes = new Uint16Array(stream.buffer, stream.byteOffset, LTHASH_LANES);
/** The same lanes two by two: adding them as 32-bit words with the carry out of each low lane masked off (SWAR) halves the loop. */
const streamWords = new Uint32Array(stream.buffer, stream.byteOffset, LTHASH_LANES / 2);
const HIGH = 0x80008000;
const LOW = 0x7fff7fff;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Which implementation expands elements (for benches and logs). */
export const lthashBackend: 'libsodium' | 'openssl' = sodium ? 'libsodium' : 'openssl';

/** The 1024 lanes of one element, in `streamLanes` and `streamWords` (valid until the next call). */
function expand(element: Uint8Array): void {
  if (sodium) {
    sodium.crypto_generichash(digest, element);
    sodium.crypto_stream_chacha20_ietf(stream, NONCE, digest.subarray(0, 32));
  } else {
    const key = createHash('blake2b512').update(element).digest().subarray(0, 32);
    stream.set(createCipheriv('chacha20', key, IV).update(ZEROS));
  }
  if (!LITTLE_ENDIAN) for (let i = 0; i < LTHASH_LANES; i++) streamLanes[i] = (stream[2 * i] | (stream[2 * i + 1] << 8)) & 0xffff;
}

/** An LtHash16 value being added to: lanes in a Uint16Array, so every sum wraps modulo 2^16 by itself. */
export class LtHash {
  readonly lanes: Uint16Array;
  private readonly words: Uint32Array;

  constructor(bytes?: Uint8Array | null) {
    this.lanes = new Uint16Array(LTHASH_LANES);
    this.words = new Uint32Array(this.lanes.buffer);
    if (bytes && bytes.length === LTHASH_BYTES) for (let i = 0; i < LTHASH_LANES; i++) this.lanes[i] = bytes[2 * i] | (bytes[2 * i + 1] << 8);
  }

  /** Adds one element. */
  add(element: Uint8Array): void {
    expand(element);
    const l = this.words;
    const e = streamWords;
    for (let i = 0; i < LTHASH_LANES / 2; i++) {
      const a = l[i];
      const b = e[i];
      l[i] = ((a & LOW) + (b & LOW)) ^ ((a ^ b) & HIGH);
    }
  }

  /** Removes one element (that was added). */
  remove(element: Uint8Array): void {
    expand(element);
    const l = this.words;
    const e = streamWords;
    for (let i = 0; i < LTHASH_LANES / 2; i++) {
      const a = l[i];
      const b = e[i];
      l[i] = ((a | HIGH) - (b & LOW)) ^ ((a ^ ~b) & HIGH);
    }
  }

  /** Adds (sign 1) or subtracts (sign -1) a whole other hash. */
  combine(other: LtHash, sign: 1 | -1 = 1): void {
    const l = this.lanes;
    const o = other.lanes;
    if (sign === 1) for (let i = 0; i < LTHASH_LANES; i++) l[i] += o[i];
    else for (let i = 0; i < LTHASH_LANES; i++) l[i] -= o[i];
  }

  get isZero(): boolean {
    for (let i = 0; i < LTHASH_LANES; i++) if (this.lanes[i] !== 0) return false;
    return true;
  }

  /** The 2 KB value, lanes little-endian. */
  bytes(): Uint8Array {
    const out = new Uint8Array(LTHASH_BYTES);
    for (let i = 0; i < LTHASH_LANES; i++) {
      out[2 * i] = this.lanes[i] & 0xff;
      out[2 * i + 1] = this.lanes[i] >>> 8;
    }
    return out;
  }

  /** A 32-byte digest of the value (what is compared and signed). */
  digest(): Uint8Array {
    return Uint8Array.from(createHash('sha256').update(this.bytes()).digest());
  }
}
