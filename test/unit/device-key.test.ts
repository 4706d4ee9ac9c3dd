/**
 * Where the VS Code window's engine gets this device's key: SecretStorage
 * first, an existing device.key moved there, a new key stored only by the
 * window that becomes the owner, the key file when SecretStorage fails.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
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

  it('an existing device.key moves into SecretStorage (the device keeps its identity), and the window that owns the engine then deletes the file', async () => {
    const s = new FakeSecrets();
    const dir = tempDir();
    const keyFile = path.join(dir, 'device.key');
    const file = loadOrCreateDeviceKeyPair(keyFile);
    const k = await deviceKey(s.asStorage(), dir);
    const other = await deviceKey(s.asStorage(), dir); // a second window starting at the same time
    assert.equal(k.keyPair!.publicKey, file.publicKey.toString('hex'));
    assert.deepEqual(other.keyPair, k.keyPair);
    assert.ok(fs.existsSync(keyFile), 'nothing is deleted before a window owns the engine');
    await k.onOwner!();
    assert.equal(s.map.get(DEVICE_KEY_SECRET), file.secretKey.toString('hex'));
    assert.equal(fs.existsSync(keyFile), false, 'the secret is no longer on disk');
    assert.deepEqual(fs.readdirSync(dir), [], 'no copy of it left either');
    const next = await deviceKey(s.asStorage(), dir);
    assert.deepEqual(next.keyPair, k.keyPair, 'the next start finds the same key');
    assert.equal(next.source, 'SecretStorage');
  });

  it('keeps device.key when SecretStorage does not take the key (store fails, or does not keep it)', async () => {
    for (const how of ['storeFails', 'forgets'] as const) {
      const s = new FakeSecrets();
      s[how] = true;
      const dir = tempDir();
      const keyFile = path.join(dir, 'device.key');
      const file = loadOrCreateDeviceKeyPair(keyFile);
      const k = await deviceKey(s.asStorage(), dir);
      await k.onOwner!();
      assert.ok(fs.existsSync(keyFile), `${how}: the file stays`);
      assert.deepEqual(loadOrCreateDeviceKeyPair(keyFile), file, `${how}: unchanged`);
      // The next start moves it again, and this time SecretStorage works.
      s[how] = false;
      const again = await deviceKey(s.asStorage(), dir);
      assert.equal(again.keyPair!.publicKey, file.publicKey.toString('hex'));
      await again.onOwner!();
      assert.equal(fs.existsSync(keyFile), false);
    }
  });

  it('a device.key left beside the key in SecretStorage (by an earlier version) is deleted by the owner if it is the same key, kept if it is another', async () => {
    const s = new FakeSecrets();
    const dir = tempDir();
    const keyFile = path.join(dir, 'device.key');
    const file = loadOrCreateDeviceKeyPair(keyFile);
    s.map.set(DEVICE_KEY_SECRET, file.secretKey.toString('hex'));
    const same = await deviceKey(s.asStorage(), dir);
    assert.equal(same.source, 'SecretStorage');
    assert.ok(fs.existsSync(keyFile));
    await same.onOwner!();
    assert.equal(fs.existsSync(keyFile), false);

    const otherDir = tempDir();
    const otherFile = path.join(otherDir, 'device.key');
    loadOrCreateDeviceKeyPair(otherFile); // a different key (say, made by the CLI on this data directory)
    const different = await deviceKey(s.asStorage(), otherDir);
    assert.equal(different.keyPair!.secretKey, file.secretKey.toString('hex'), 'SecretStorage wins');
    await different.onOwner?.();
    assert.ok(fs.existsSync(otherFile), 'a key that is not the one in SecretStorage is never deleted');
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
