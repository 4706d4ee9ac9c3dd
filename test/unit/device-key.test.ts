/**
 * Where the VS Code window's engine gets this device's key: the data
 * directory's device.key (a device's id is its key's, so every process of
 * that data directory must use the same one), copied into SecretStorage;
 * a key only SecretStorage holds is written back to the file.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { loadOrCreateDeviceKeyPair } from '../../src/net/keys';
import { DEVICE_KEY_SECRET, deviceKey, fromSecretHex } from '../../src/vscode/engine/device-key';
import { cleanupTempDirs, tempDir } from '../support/tmp';

class FakeSecrets {
  readonly map = new Map<string, string>();
  failing = false;
  /** store() rejects. */
  storeFails = false;
  /** store() says it worked but keeps nothing (a keyring that does not persist). */
  forgets = false;
  get(key: string): Promise<string | undefined> {
    return this.failing ? Promise.reject(new Error('no keyring')) : Promise.resolve(this.map.get(key));
  }
  store(key: string, value: string): Promise<void> {
    if (this.storeFails) return Promise.reject(new Error('keyring locked'));
    if (!this.forgets) this.map.set(key, value);
    return Promise.resolve();
  }
  asStorage(): vscode.SecretStorage {
    return this as unknown as vscode.SecretStorage;
  }
}

describe('device key for the VS Code engine', () => {
  after(cleanupTempDirs);
  const hex = (k: { secretKey: Uint8Array }) => Buffer.from(k.secretKey).toString('hex');

  it('a new key goes into the key file at once: two windows starting together get the same one; the owner copies it into SecretStorage', async () => {
    const s = new FakeSecrets();
    const dir = tempDir();
    const a = await deviceKey(s.asStorage(), dir);
    const b = await deviceKey(s.asStorage(), dir);
    assert.ok(a.keyPair && b.keyPair);
    assert.deepEqual(b.keyPair, a.keyPair, 'one key for both (a device id is its key)');
    assert.equal(hex(loadOrCreateDeviceKeyPair(path.join(dir, 'device.key'))), a.keyPair.secretKey);
    assert.equal(s.map.size, 0, 'nothing stored before owning');
    await a.onOwner!();
    assert.equal(s.map.get(DEVICE_KEY_SECRET), a.keyPair.secretKey);
    const c = await deviceKey(s.asStorage(), dir);
    assert.deepEqual(c.keyPair, a.keyPair);
    assert.equal(c.onOwner, undefined, 'already in both places');
  });

  it('a window whose SecretStorage holds nothing (a web or remote workbench) uses the key file, so it signs as the same device', async () => {
    const dir = tempDir();
    const first = await deviceKey(new FakeSecrets().asStorage(), dir);
    const other = await deviceKey(new FakeSecrets().asStorage(), dir);
    assert.deepEqual(other.keyPair, first.keyPair);
  });

  it('a key only SecretStorage holds (an earlier version moved it there) is written back to the key file and kept', async () => {
    const s = new FakeSecrets();
    const dir = tempDir();
    const keyFile = path.join(dir, 'device.key');
    const original = loadOrCreateDeviceKeyPair(path.join(tempDir(), 'elsewhere.key'));
    s.map.set(DEVICE_KEY_SECRET, hex(original));
    const k = await deviceKey(s.asStorage(), dir);
    assert.equal(k.keyPair!.secretKey, hex(original));
    assert.deepEqual(loadOrCreateDeviceKeyPair(keyFile), original, 'the file now holds it');
    assert.equal(k.onOwner, undefined);
  });

  it('the key file wins over another key in SecretStorage, and is never deleted or replaced', async () => {
    const s = new FakeSecrets();
    const dir = tempDir();
    const keyFile = path.join(dir, 'device.key');
    const file = loadOrCreateDeviceKeyPair(keyFile);
    s.map.set(DEVICE_KEY_SECRET, hex(loadOrCreateDeviceKeyPair(path.join(tempDir(), 'other.key'))));
    const k = await deviceKey(s.asStorage(), dir);
    assert.equal(k.keyPair!.secretKey, hex(file));
    await k.onOwner!();
    assert.equal(s.map.get(DEVICE_KEY_SECRET), hex(file), 'SecretStorage now holds the copy of the key in use');
    assert.deepEqual(loadOrCreateDeviceKeyPair(keyFile), file);
    for (const how of ['storeFails', 'forgets'] as const) {
      const t = new FakeSecrets();
      t[how] = true;
      const again = await deviceKey(t.asStorage(), dir);
      await again.onOwner!();
      assert.deepEqual(loadOrCreateDeviceKeyPair(keyFile), file, `${how}: the file stays`);
    }
  });

  it('uses the key file when SecretStorage fails or holds no valid key; never logs the secret', async () => {
    const s = new FakeSecrets();
    s.failing = true;
    const dir = tempDir();
    const k = await deviceKey(s.asStorage(), dir);
    assert.ok(k.keyPair);
    assert.match(k.source, /key file .*device\.key.*SecretStorage is not available: no keyring/);
    assert.deepEqual(k.keyPair, (await deviceKey(new FakeSecrets().asStorage(), dir)).keyPair);
    const bad = new FakeSecrets();
    bad.map.set(DEVICE_KEY_SECRET, 'ab'.repeat(64));
    const other = tempDir();
    const b = await deviceKey(bad.asStorage(), other);
    assert.ok(b.keyPair && b.keyPair.secretKey !== 'ab'.repeat(64), 'an invalid stored key is ignored: a new one is made');
    for (const c of [k, b]) assert.ok(!c.source.includes(c.keyPair!.secretKey.slice(0, 16)));
  });

  it('checks a stored key: 64 bytes of hex whose public half matches its seed', () => {
    assert.equal(fromSecretHex('zz'), null);
    assert.equal(fromSecretHex('00'.repeat(64)), null);
    const pair = loadOrCreateDeviceKeyPair(path.join(tempDir(), 'k'));
    assert.deepEqual(fromSecretHex(pair.secretKey.toString('hex')), { publicKey: pair.publicKey.toString('hex'), secretKey: pair.secretKey.toString('hex') });
  });
});
