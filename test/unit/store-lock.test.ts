import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StoreLockedError } from '../../src/store';
import { TempDirs, countRows, insertMany, openStore, waitExit } from '../support/store-helpers';

const LOCK_CHILD = path.join(__dirname, '..', 'support', 'store-lock-child.ts');

function lockContent(pid: number, host = os.hostname(), start?: string): string {
  return JSON.stringify({ pid, host, token: 'f00d', created: new Date().toISOString(), start });
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await waitExit(child);
  return child.pid!;
}

describe('store: lock', function () {
  this.timeout(20000);
  const tmp = new TempDirs();
  after(() => tmp.cleanup());

  it('refuses a second open in the same process, then allows it after close', async () => {
    const dir = tmp.make();
    const { store } = await openStore(dir);
    await assert.rejects(openStore(dir), (e: unknown) => {
      assert.ok(e instanceof StoreLockedError);
      assert.equal(e.pid, process.pid);
      assert.equal(e.message, `Library database at ${fs.realpathSync(dir)} is locked by pid ${process.pid} (host ${os.hostname()})`);
      return true;
    });
    await store.close();
    assert.ok(!fs.existsSync(path.join(dir, 'LOCK')), 'released on close');
    const again = await openStore(dir);
    await again.store.close();
  });

  it('refuses while a live child process holds it', async () => {
    const dir = tmp.make();
    const child = spawn(process.execPath, ['--import', 'tsx', LOCK_CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('ready')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`lock child exited with ${code}`)));
      });
      await assert.rejects(openStore(dir), (e: unknown) => {
        assert.ok(e instanceof StoreLockedError);
        assert.equal(e.pid, child.pid);
        assert.match(e.message, new RegExp(`locked by pid ${child.pid} \\(host `));
        return true;
      });
    } finally {
      child.kill('SIGKILL');
      await waitExit(child);
    }
    // the child died without releasing: its lock is now stale and taken over
    const { store, events } = await openStore(dir);
    assert.ok(events.some((e) => e.type === 'stale-lock' && e.pid === child.pid));
    await store.close();
  });

  it('takes over a stale lock of a dead process', async () => {
    const dir = tmp.make();
    let { store } = await openStore(dir);
    await insertMany(store, 3);
    await store.closeWithoutSnapshot();
    const pid = await deadPid();
    fs.writeFileSync(path.join(dir, 'LOCK'), lockContent(pid));
    let events;
    ({ store, events } = await openStore(dir));
    assert.deepEqual(
      events.filter((e) => e.type === 'stale-lock').map((e) => (e as { pid?: number }).pid),
      [pid],
    );
    assert.equal(countRows(store), 3);
    const lock = JSON.parse(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8')) as { pid: number; host: string; token: string };
    assert.equal(lock.pid, process.pid);
    assert.equal(lock.host, os.hostname());
    assert.ok(lock.token.length >= 16);
    assert.ok(!fs.readdirSync(dir).some((n) => n.startsWith('LOCK.')), 'no leftover lock temp files');
    await store.close();
  });

  it('takes over an empty or garbage lock file (once it is not brand new)', async () => {
    const dir = tmp.make();
    const lockPath = path.join(dir, 'LOCK');
    for (const content of ['', 'garbage{']) {
      fs.writeFileSync(lockPath, content);
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(lockPath, old, old);
      const { store, events } = await openStore(dir);
      assert.ok(events.some((e) => e.type === 'stale-lock'));
      await store.close();
    }
  });

  it('treats a lock naming our own pid but an earlier process start as stale (pid reuse)', async () => {
    const dir = tmp.make();
    fs.writeFileSync(path.join(dir, 'LOCK'), lockContent(process.pid, os.hostname(), '1'));
    const { store, events } = await openStore(dir);
    assert.ok(events.some((e) => e.type === 'stale-lock'));
    await store.close();
  });

  it('refuses a lock naming our own pid without a start time: another thread of this process may hold it', async () => {
    const dir = tmp.make();
    fs.writeFileSync(path.join(dir, 'LOCK'), lockContent(process.pid));
    await assert.rejects(openStore(dir), StoreLockedError);
  });

  it('refuses a lock from another host', async () => {
    const dir = tmp.make();
    fs.writeFileSync(path.join(dir, 'LOCK'), lockContent(12345, 'some-other-host'));
    await assert.rejects(openStore(dir), (e: unknown) => {
      assert.ok(e instanceof StoreLockedError);
      assert.equal(e.pid, 12345);
      assert.match(e.message, /locked by pid 12345 \(host some-other-host\)/);
      return true;
    });
  });

  it('only one of several concurrent takeovers of a stale lock wins', async () => {
    const dir = tmp.make();
    fs.writeFileSync(path.join(dir, 'LOCK'), lockContent(await deadPid()));
    const results = await Promise.allSettled([openStore(dir), openStore(dir), openStore(dir)]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    assert.equal(ok.length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof StoreLockedError);
    await (ok[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof openStore>>>).value.store.close();
  });
});
