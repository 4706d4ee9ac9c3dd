/**
 * Where the VS Code window's engine gets this device's key: SecretStorage
 * first, an existing device.key moved there, a new key stored only by the
 * window that becomes the owner, the key file when SecretStorage fails.
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
  get(key: string): Promise<string | undefined> {
    return this.failing ? Promise.reject(new Error('no keyring')) : Promise.resolve(this.map.get(key));
  }
  store(key: string, value: string): Promise<void> {
    this.map.set(key, value);
    return Promise.resolve();
  }
  asStorage(): vscode.SecretStorage {
    return this as unknown as vscode.SecretStorage;
  }
}

describe('device key for the VS Code engine', () => {
  after(cleanupTempDirs);

  it('a new key is stored only once this window owns the engine, and then reused', async () => {
    const s = new FakeSecrets();
    const dir = tempDir();
    const a = await deviceKey(s.asStorage(), dir);
    const b = await deviceKey(s.asStorage(), dir);
    assert.ok(a.keyPair && b.keyPair);
    assert.notEqual(a.keyPair.publicKey, b.keyPair.publicKey, 'two windows starting together each make one');
    assert.equal(s.map.size, 0, 'nothing stored before owning');
    await a.onOwner!();
    await b.onOwner!(); // the loser never owns; and a second store would not replace the first
    assert.equal(s.map.get(DEVICE_KEY_SECRET), a.keyPair.secretKey);
    const c = await deviceKey(s.asStorage(), dir);
    assert.deepEqual(c.keyPair, a.keyPair);
    assert.equal(c.source, 'SecretStorage');
    assert.equal(c.onOwner, undefined);
  });

  it('an existing device.key moves into SecretStorage (the device keeps its identity)', async () => {
    const s = new FakeSecrets();
    const dir = tempDir();
    const file = loadOrCreateDeviceKeyPair(path.join(dir, 'device.key'));
    const k = await deviceKey(s.asStorage(), dir);
    assert.equal(k.keyPair!.publicKey, file.publicKey.toString('hex'));
    await k.onOwner!();
    assert.equal(s.map.get(DEVICE_KEY_SECRET), file.secretKey.toString('hex'));
  });

  it('falls back to the key file when SecretStorage fails or holds no valid key; never logs the secret', async () => {
    const s = new FakeSecrets();
    s.failing = true;
    const dir = tempDir();
    const k = await deviceKey(s.asStorage(), dir);
    assert.equal(k.keyPair, undefined);
    assert.match(k.source, /key file .*device\.key.*SecretStorage is not available: no keyring/);
    s.failing = false;
    s.map.set(DEVICE_KEY_SECRET, 'ab'.repeat(64));
    const bad = await deviceKey(s.asStorage(), dir);
    assert.equal(bad.keyPair, undefined);
    assert.match(bad.source, /not valid/);
    const good = await deviceKey(new FakeSecrets().asStorage(), tempDir());
    assert.ok(!good.source.includes(good.keyPair!.secretKey.slice(0, 16)));
  });

  it('checks a stored key: 64 bytes of hex whose public half matches its seed', () => {
    assert.equal(fromSecretHex('zz'), null);
    assert.equal(fromSecretHex('00'.repeat(64)), null);
    const pair = loadOrCreateDeviceKeyPair(path.join(tempDir(), 'k'));
    assert.deepEqual(fromSecretHex(pair.secretKey.toString('hex')), { publicKey: pair.publicKey.toString('hex'), secretKey: pair.secretKey.toString('hex') });
  });
});
