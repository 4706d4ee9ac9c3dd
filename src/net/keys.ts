/**
 * This device's network identity and the libraries' discovery topics.
 *
 * The device key pair is Ed25519 in libsodium's layout (publicKey 32 bytes,
 * secretKey = seed ‖ publicKey, 64 bytes), which is what Hyperswarm and
 * HyperDHT take. It is made with Node's own crypto, so creating and reading
 * the key file needs no native addon.
 *
 * The key file holds the 32-byte seed and the public key (JSON, hex). It is
 * created with mode 0600 under a temporary name, fsynced, then hard-linked
 * into place, so the real name only ever appears with complete contents and
 * two processes creating it at once end up sharing one key. On load it must
 * be a regular file of the expected shape whose public key matches its seed;
 * anything else is a KeyFileError naming the file, and the file is left
 * as it is (a new key would silently unpair the device from every partner).
 *
 * A key file readable by group or others is refused rather than fixed: the
 * secret may already have been copied, and the user should know (the error
 * says how to fix it). Windows has no such mode bits; there it is not checked.
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errCode, fsyncDirSync, randomSuffix } from '../store/fsutil';
import { KeyFileError } from './errors';
import type { KeyPair } from './hyperswarm-types';
import { loadSodium } from './native';

const FILE_TYPE = 'leaderless-sync/device-key';
/** Far above a real key file (~190 bytes); anything bigger is not one and is not read. */
const MAX_KEY_FILE_BYTES = 4096;
/** DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Fixed context hashed under the library secret; changing it moves every library to a new topic. */
const TOPIC_CONTEXT = Buffer.from('leaderless-sync/library-topic/v1', 'utf8');

/** The Ed25519 key pair for a 32-byte seed (same result as HyperDHT's keyPair(seed)). */
export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  if (seed.byteLength !== 32) throw new RangeError(`an Ed25519 seed is 32 bytes, not ${seed.byteLength}`);
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const x = createPublicKey(priv).export({ format: 'jwk' }).x;
  const publicKey = Buffer.from(x ?? '', 'base64url');
  return { publicKey, secretKey: Buffer.concat([seed, publicKey]) };
}

/**
 * This device's key pair from `file`, created there first if there is none
 * (from `seed`, default a new random one). Creation is atomic: a process
 * that loses a race gets the winner's key.
 */
export function loadOrCreateDeviceKeyPair(file: string, seed?: Uint8Array): KeyPair {
  try {
    return readKeyFile(file);
  } catch (e) {
    if (errCode(e) !== 'ENOENT') throw e;
  }
  return createKeyFile(file, seed);
}

/** This device's key pair from an existing `file` (never creates one); KeyFileError, or ENOENT if there is none. */
export function readDeviceKeyFile(file: string): KeyPair {
  return readKeyFile(file);
}

function readKeyFile(file: string): KeyPair {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
  } catch (e) {
    if (errCode(e) === 'ELOOP') throw new KeyFileError(file, 'is a symbolic link; refusing to follow it');
    throw e;
  }
  let text: string;
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new KeyFileError(file, 'is not a regular file');
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
      throw new KeyFileError(file, `is readable or writable by other users (mode ${mode}); it holds this device's secret key. If nobody else could have read it, run \`chmod 600 '${file}'\`; otherwise delete it and pair this device again`);
    }
    if (st.size > MAX_KEY_FILE_BYTES) throw new KeyFileError(file, `is corrupt: ${st.size} bytes, not a key file`);
    const buf = Buffer.alloc(st.size);
    let at = 0;
    while (at < buf.length) {
      const n = fs.readSync(fd, buf, at, buf.length - at, at);
      if (n === 0) break;
      at += n;
    }
    text = buf.subarray(0, at).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
  return parseKeyFile(file, text);
}

function parseKeyFile(file: string, text: string): KeyPair {
  const corrupt = (why: string) => new KeyFileError(file, `is corrupt (${why}); it was left untouched. Restore it from a backup, or delete it and pair this device again`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw corrupt(text.length === 0 ? 'empty' : 'not JSON');
  }
  const d = doc as { type?: unknown; seed?: unknown; publicKey?: unknown };
  if (typeof doc !== 'object' || doc === null || d.type !== FILE_TYPE) throw corrupt('not a device key file');
  const hex32 = /^[0-9a-f]{64}$/;
  if (typeof d.seed !== 'string' || !hex32.test(d.seed)) throw corrupt('bad seed');
  if (typeof d.publicKey !== 'string' || !hex32.test(d.publicKey)) throw corrupt('bad public key');
  const pair = keyPairFromSeed(Buffer.from(d.seed, 'hex'));
  if (pair.publicKey.toString('hex') !== d.publicKey) throw corrupt('the public key does not match the seed');
  return pair;
}

/** Filesystems without hard links (FAT, some network shares) answer link() with these. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

function createKeyFile(file: string, seed: Uint8Array = randomBytes(32)): KeyPair {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pair = keyPairFromSeed(seed);
  const body = JSON.stringify({ type: FILE_TYPE, seed: Buffer.from(seed).toString('hex'), publicKey: pair.publicKey.toString('hex') }) + '\n';
  const tmp = `${file}.${randomSuffix()}.tmp`;
  writeNewFile(tmp, body);
  try {
    fs.linkSync(tmp, file); // fails if the file exists: never replaces a key
  } catch (e) {
    if (errCode(e) === 'EEXIST') return readKeyFile(file); // another process created it first: use theirs
    if (!NO_HARD_LINKS.has(errCode(e) ?? '')) throw e;
    // No hard links here: create the file itself (a crash mid-write leaves a file that loads as corrupt).
    try {
      writeNewFile(file, body);
    } catch (e2) {
      if (errCode(e2) === 'EEXIST') return readKeyFile(file);
      throw e2;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  fsyncDirSync(dir);
  return pair;
}

/** Creates `file` (must not exist) with mode 0600 and `body`, fsynced. */
function writeNewFile(file: string, body: string): void {
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    fs.writeFileSync(fd, body);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The Hyperswarm topic of a library: BLAKE2b-256 keyed with the library
 * secret over a fixed context string. Anyone who knows a topic can see who
 * announces on it, so it must not be computable from the library id; and a
 * keyed hash reveals nothing about its key.
 */
export function libraryTopic(secret: Uint8Array): Uint8Array {
  if (secret.byteLength !== 32) throw new RangeError(`a library secret is 32 bytes, not ${secret.byteLength}`);
  const out = Buffer.alloc(32);
  loadSodium().crypto_generichash(out, TOPIC_CONTEXT, secret);
  return out;
}
