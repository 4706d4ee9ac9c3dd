/**
 * This device's key pair for the engine. A device's id is derived from its
 * key, so every process that runs this data directory's engine must sign
 * with the same key: the data directory's `device.key` (0600 in a 0700
 * folder) is where it is kept, and VS Code's SecretStorage (the OS
 * keychain) holds a copy.
 *
 * - The key file exists: it is used, and copied into SecretStorage once
 *   this window owns the engine (`onOwner`).
 * - No key file, but SecretStorage holds a valid key (an earlier version
 *   moved it there): it is written back to the key file and used.
 * - Neither: a new key is made in the key file. Writing the file is atomic
 *   and never replaces one: two windows starting together, a window whose
 *   workbench has its own SecretStorage (web, remote) and the CLI all end
 *   up with the same key.
 * - SecretStorage not working: the key file alone.
 *
 * The secret goes only to the engine worker; it is never logged.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { keyPairFromSeed, loadOrCreateDeviceKeyPair, readDeviceKeyFile } from '../../net/keys';
import type { OwnerConfig } from '../../worker/engine-ownership';

export const DEVICE_KEY_SECRET = 'leaderlessSync.deviceKey';
/** EngineService's DEVICE_KEY_FILE, not imported: that would bundle the whole engine into the extension host. */
const DEVICE_KEY_FILE = 'device.key';

type HexKeyPair = NonNullable<OwnerConfig['data']['keyPair']>;

export interface DeviceKeyChoice {
  keyPair?: HexKeyPair;
  /** Once this window owns the engine: copy the key into SecretStorage. */
  onOwner?: () => Promise<void>;
  /** Where the key comes from, for the log (no secret in it). */
  source: string;
}

export async function deviceKey(secrets: vscode.SecretStorage, dataDir: string): Promise<DeviceKeyChoice> {
  const keyFile = path.join(dataDir, DEVICE_KEY_FILE);
  let stored: string | undefined;
  let secretsError: string | null = null;
  try {
    stored = await secrets.get(DEVICE_KEY_SECRET);
  } catch (e) {
    secretsError = (e as Error).message;
  }
  const fromSecrets = stored === undefined ? null : fromSecretHex(stored);
  let pair: HexKeyPair;
  let source: string;
  try {
    if (fs.existsSync(keyFile)) {
      pair = toHex(readDeviceKeyFile(keyFile));
      source = `the key file ${keyFile}`;
    } else if (fromSecrets) {
      pair = toHex(loadOrCreateDeviceKeyPair(keyFile, Buffer.from(fromSecrets.secretKey, 'hex').subarray(0, 32)));
      source = `SecretStorage, written back to the key file ${keyFile}`;
    } else {
      pair = toHex(loadOrCreateDeviceKeyPair(keyFile));
      source = `the key file ${keyFile} (new key)`;
    }
  } catch (e) {
    return { source: `the key file ${keyFile} (${(e as Error).message})` };
  }
  if (secretsError !== null) return { keyPair: pair, source: `${source} (SecretStorage is not available: ${secretsError})` };
  if (stored === pair.secretKey) return { keyPair: pair, source: `${source}, also in SecretStorage` };
  const onOwner = async () => {
    try {
      if ((await secrets.get(DEVICE_KEY_SECRET)) !== pair.secretKey) await secrets.store(DEVICE_KEY_SECRET, pair.secretKey);
    } catch {
      /* the key file still holds it; the next start tries again */
    }
  };
  return { keyPair: pair, onOwner, source: `${source}, copied into SecretStorage once this window owns the engine` };
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
