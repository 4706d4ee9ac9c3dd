/**
 * This device's network key pair for the engine: kept in VS Code's
 * SecretStorage (the OS keychain), shared by every window.
 *
 * - A stored key is used as it is.
 * - None stored yet, but the data directory has a device.key file (an
 *   earlier run used it): that key moves into SecretStorage, so the device
 *   keeps its identity and its pairings.
 * - Neither: a new key is made, and stored only once this window owns the
 *   engine (`onOwner`), so two windows starting together cannot each store
 *   a different one.
 * - SecretStorage not working: no key is handed over and the engine uses
 *   the 0600 device.key file in its data directory.
 *
 * Once SecretStorage holds the key (read back after storing), the window
 * that owns the engine deletes device.key: a secret in the keychain should
 * not also lie on disk. Only that window (the others may still be reading
 * the file), only if the file holds that very key (a different one is
 * never deleted), and never when storing failed: the key must not be lost.
 * The file is unlinked, not overwritten first: on journaling, copy-on-write
 * and flash storage an overwrite does not reach the old blocks anyway, and
 * the file was 0600 in a 0700 folder all along.
 *
 * The secret goes only to the engine worker; it is never logged.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { keyPairFromSeed, readDeviceKeyFile } from '../../net/keys';
import type { OwnerConfig } from '../../worker/engine-ownership';

export const DEVICE_KEY_SECRET = 'leaderlessSync.deviceKey';
/** EngineService's DEVICE_KEY_FILE, not imported: that would bundle the whole engine into the extension host. */
const DEVICE_KEY_FILE = 'device.key';

type HexKeyPair = NonNullable<OwnerConfig['data']['keyPair']>;

export interface DeviceKeyChoice {
  keyPair?: HexKeyPair;
  /** Once this window owns the engine: store the key (a new or migrated one) and delete device.key if SecretStorage then holds its key. */
  onOwner?: () => Promise<void>;
  /** Where the key comes from, for the log (no secret in it). */
  source: string;
}

export async function deviceKey(secrets: vscode.SecretStorage, dataDir: string): Promise<DeviceKeyChoice> {
  const keyFile = path.join(dataDir, DEVICE_KEY_FILE);
  let stored: string | undefined;
  try {
    stored = await secrets.get(DEVICE_KEY_SECRET);
  } catch (e) {
    return { source: `the key file ${keyFile} (SecretStorage is not available: ${(e as Error).message})` };
  }
  if (stored !== undefined) {
    const pair = fromSecretHex(stored);
    if (!pair) return { source: `the key file ${keyFile} (the key in SecretStorage is not valid; it was left as it is)` };
    // A key file left beside it (an earlier version kept it after moving the key): gone once we own the engine.
    return fs.existsSync(keyFile) ? { keyPair: pair, onOwner: () => removeKeyFileHolding(secrets, keyFile, pair), source: 'SecretStorage' } : { keyPair: pair, source: 'SecretStorage' };
  }
  const store = (pair: HexKeyPair, file: string | null) => async () => {
    try {
      if ((await secrets.get(DEVICE_KEY_SECRET)) === undefined) await secrets.store(DEVICE_KEY_SECRET, pair.secretKey);
    } catch {
      return; // the key still works for this run (and stays in its file); the next one tries again
    }
    if (file) await removeKeyFileHolding(secrets, file, pair);
  };
  if (fs.existsSync(keyFile)) {
    try {
      const pair = toHex(readDeviceKeyFile(keyFile));
      return { keyPair: pair, onOwner: store(pair, keyFile), source: `the key file ${keyFile}, moving into SecretStorage` };
    } catch (e) {
      return { source: `the key file ${keyFile} (${(e as Error).message})` };
    }
  }
  const pair = toHex(keyPairFromSeed(randomBytes(32)));
  return { keyPair: pair, onOwner: store(pair, null), source: 'SecretStorage (new key)' };
}

/** Deletes `file` if it holds `pair` and SecretStorage holds it too (read back now); anything else leaves it. */
async function removeKeyFileHolding(secrets: vscode.SecretStorage, file: string, pair: HexKeyPair): Promise<void> {
  try {
    if ((await secrets.get(DEVICE_KEY_SECRET)) !== pair.secretKey) return;
    if (Buffer.from(readDeviceKeyFile(file).secretKey).toString('hex') !== pair.secretKey) return;
    fs.unlinkSync(file);
  } catch {
    /* unreadable, gone already, or SecretStorage failed: leave things as they are */
  }
}

/** A 64-byte Ed25519 secret key (seed ‖ public key) in hex, checked: the public half must match the seed. */
export function fromSecretHex(hex: string): HexKeyPair | null {
  if (!/^[0-9a-f]{128}$/.test(hex)) return null;
  const secret = Buffer.from(hex, 'hex');
  const pair = keyPairFromSeed(secret.subarray(0, 32));
  if (!pair.secretKey.equals(secret)) return null;
  return toHex(pair);
}

function toHex(pair: { publicKey: Uint8Array; secretKey: Uint8Array }): HexKeyPair {
  return { publicKey: Buffer.from(pair.publicKey).toString('hex'), secretKey: Buffer.from(pair.secretKey).toString('hex') };
}
