/**
 * Real peers: `leaderless serve` processes on a local Hyperswarm testnet,
 * paired with invite codes through the CLI, driven through their control
 * sockets. Nothing here reaches the public DHT.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { idFromString, idToString } from '../../src/core/ids';
import { deviceIdOf, deviceKeyPair } from '../../src/core/signing';
import { Library } from '../../src/engine/library';
import { loadOrCreateDeviceKeyPair } from '../../src/net/keys';
import { ControlClient } from '../../src/service/control-client';
import { controlEndpoint } from '../../src/service/control-endpoint';
import { DEVICE_KEY_FILE } from '../../src/service/engine-service';
import type { InviteInfo } from '../../src/service/pairing-desk';
import { EntryTree, fillRelayedTree } from '../../bench/entries';
import { CliProcess, runCli } from '../support/cli-process';
import { cliOk, cliTestnet, libraryStatus, serveOn } from '../support/cli-testnet';
import { checkout } from '../support/checkout';
import { tempDir } from '../support/tmp';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


describe('real peers: CLI processes on a local testnet', function () {
  this.timeout(180_000);
  const net = cliTestnet();

  const run = async (...args: string[]) => {
    const r = await runCli(net.cli, [...args, '--bootstrap', net.bootstrap]);
    return r;
  };
  const ok = (...args: string[]) => cliOk(net, ...args);
  const serve = (dataDir: string) => serveOn(net, dataDir);


  async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn().catch(() => null);
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(100);
    }
  }

  /** Pairs `joiner` (a running service) into the library of `inviter` (a running service) with a code, through the CLI. */
  async function pair(inviter: string, joiner: string): Promise<void> {
    const info = JSON.parse(await ok('invite', '--no-wait', '--json', '--data-dir', inviter)) as InviteInfo;
    assert.match(info.code, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    await ok('join', info.code, '--no-wait', '--data-dir', joiner);
  }

  const sameDigest = async (dirs: string[]) => {
    const d = await Promise.all(dirs.map(async (x) => (await libraryStatus(x, true))?.digest));
    return d.every((x) => x && x === d[0]);
  };

  it('two peers pair by code, tag and note on each, and converge both ways', async () => {
    const [dirA, dirB] = [tempDir('lls-a-'), tempDir('lls-b-')];
    const wsA = checkout('git@github.com:acme/api.git', { 'src/a.ts': 'a', 'README.md': 'r' });
    const wsB = checkout('https://github.com/acme/api', { 'src/b.ts': 'b', 'README.md': 'r' });
    await ok('init', '--name', 'Work', '--data-dir', dirA);
    await serve(dirA);
    await serve(dirB);
    await ok('add-location', wsA, '--data-dir', dirA);
    await pair(dirA, dirB);
    const b = await until('b in sync', async () => {
      const s = await libraryStatus(dirB);
      return s?.state === 'ready' && s.backfilled && s.counts.entry === 3 && s; // src, src/a.ts, README.md
    });
    assert.equal(b.name, 'Work');
    await ok('add-location', wsB, '--data-dir', dirB);

    await ok('tag', path.join(wsA, 'src/a.ts'), 'review', '--data-dir', dirA);
    await ok('note', path.join(wsB, 'README.md'), 'written on b', '--data-dir', dirB);
    await until('same digest', () => sameDigest([dirA, dirB]));
    assert.equal(await ok('tags', '--tag', 'review', '--data-dir', dirB), 'github.com/acme/api:src/a.ts\n', 'a’s tag reached b, for the same file in b’s checkout');
    assert.match(await ok('note', path.join(wsA, 'README.md'), '--data-dir', dirA), /written on b/);
    for (const dir of [dirA, dirB]) {
      const members = JSON.parse(await ok('members', '--json', '--data-dir', dir)) as { live: boolean }[];
      assert.equal(members.filter((m) => m.live).length, 2);
    }
  });

  it('invite without a running service waits for the joiner, hands the library over and exits 0', async () => {
    const [dirA, dirB] = [tempDir('lls-a-'), tempDir('lls-b-')];
    await ok('init', '--name', 'Home', '--data-dir', dirA);
    const inviting = new CliProcess(net.cli, ['invite', '--data-dir', dirA, '--bootstrap', net.bootstrap]);
    net.procs.push(inviting);
    const deadline = Date.now() + 30_000;
    while (!/join ([0-9A-Z-]{14})/.test(inviting.stdout) && Date.now() < deadline) await sleep(50);
    const code = /join ([0-9A-Z-]{14})/.exec(inviting.stdout)![1];
    await serve(dirB);
    await ok('join', code, '--no-wait', '--data-dir', dirB);
    const done = await inviting.exited;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /joined "Home"/);
    assert.equal((await libraryStatus(dirB)).name, 'Home');
  });

  it('three peers: the peer serving a fresh one is SIGKILLed mid-backfill of 100k entries; the fresh one completes from the other and after a restart, without duplicates', async () => {
    const N = 100_000;
    const [dirA, dirB, dirC] = [tempDir('lls-a-'), tempDir('lls-b-'), tempDir('lls-c-')];
    const lib = await Library.create({ dataDir: dirA, name: 'Big', deviceName: 'a', keyPair: loadOrCreateDeviceKeyPair(path.join(dirA, DEVICE_KEY_FILE)) });
    await fillRelayedTree(lib, new EntryTree(N));
    await lib.close();
    let a = await serve(dirA);
    let b = await serve(dirB);
    await pair(dirA, dirB);
    await until('b has all of it', async () => {
      const s = await libraryStatus(dirB);
      return s?.state === 'ready' && s.counts.entry === N;
    });

    await serve(dirC);
    const progress = await ControlClient.connect(controlEndpoint(dirC));
    let started!: () => void;
    const receiving = new Promise<void>((r) => (started = r));
    progress.on('event', (name, data) => {
      const p = (data as { progress?: { received: number } }).progress;
      if (name === 'progress' && p && p.received > 0) started();
    });
    await progress.call('subscribe', { events: ['progress'] });
    await pair(dirA, dirC);
    await receiving;
    a.kill('SIGKILL'); // mid-backfill: whichever of a and b serves, one of them dies now
    await a.exited;
    const mid = await libraryStatus(dirC);
    await sleep(1500);
    b.kill('SIGKILL'); // and then the other: c waits with what it has
    await b.exited;
    await progress.close();
    const stalled = (await libraryStatus(dirC)).counts.entry;
    assert.ok(mid.state !== 'ready' || stalled < N, 'the kills came mid-backfill');
    a = await serve(dirA); // a knows c (it admitted c before sending the secret): c completes from it
    b = await serve(dirB);
    const done = await until(
      'c complete',
      async () => {
        const s = await libraryStatus(dirC);
        return s?.state === 'ready' && s.counts.entry === N && s;
      },
      120_000,
    );
    assert.equal(done.counts.entry, N, 'every entry exactly once');
    assert.equal(done.parked, 0);
    await until('same digest on all three', () => sameDigest([dirA, dirB, dirC]));
  });

  it('an unpaired device that, while its remover is away, grants an accomplice (stamped before its unpair) through a member that has not heard yet: once the unpair arrives, neither is a member anywhere', async () => {
    const [dirA, dirB, dirC] = [tempDir('lls-a-'), tempDir('lls-b-'), tempDir('lls-c-')];
    await ok('init', '--name', 'Team', '--data-dir', dirA);
    let a = await serve(dirA);
    let b = await serve(dirB);
    let c = await serve(dirC);
    await pair(dirA, dirB);
    await pair(dirA, dirC);
    const liveOn = async (dir: string) =>
      (JSON.parse(await ok('members', '--json', '--data-dir', dir)) as { device: string; live: boolean }[])
        .filter((m) => m.live)
        .map((m) => m.device)
        .sort();
    await until('three members everywhere', async () => (await Promise.all([dirA, dirB, dirC].map(liveOn))).every((l) => l.length === 3));
    const [statusA, statusC] = [await libraryStatus(dirA), await libraryStatus(dirC)];
    const devices = await liveOn(dirA);

    // b and c go down; a unpairs c and goes down too.
    for (const p of [b, c]) p.kill('SIGKILL');
    await Promise.all([b.exited, c.exited]);
    await ok('unpair', statusC.device, '--data-dir', dirA);
    a.kill('SIGTERM');
    await a.exited;

    // Whoever holds c's data directory and key grants an accomplice, stamped on c's clock an hour behind (before the unpair).
    const accomplice = deviceKeyPair();
    const accompliceId = idToString(deviceIdOf(accomplice.publicKey));
    const lc = await Library.open({ dataDir: dirC, libraryId: idFromString(statusA.library), keyPair: loadOrCreateDeviceKeyPair(path.join(dirC, DEVICE_KEY_FILE)), now: () => Date.now() - 3_600_000 });
    await lc.addMember({ device: deviceIdOf(accomplice.publicKey), publicKey: accomplice.publicKey, name: 'accomplice' });
    await lc.close();

    // b, not knowing of the unpair, takes the grant from c.
    b = await serve(dirB);
    c = await serve(dirC);
    await until('b took the grant', async () => (await liveOn(dirB)).includes(accompliceId), 60_000);
    // a comes back: the unpair reaches b, c's grant reaches a; it was beyond what a had seen of c when it unpaired it.
    a = await serve(dirA);
    const without = devices.filter((d) => d !== statusC.device);
    await until('neither c nor the accomplice is a member on a and b', async () => {
      const [onA, onB] = [await liveOn(dirA), await liveOn(dirB)];
      return JSON.stringify(onA) === JSON.stringify(without) && JSON.stringify(onB) === JSON.stringify(without);
    });
    const partnersOfB = (await libraryStatus(dirB)).partners.map((p) => p.device);
    assert.deepEqual(partnersOfB, [statusA.device], 'b syncs with a alone');
    await until('a and b agree', () => sameDigest([dirA, dirB]));
  });

  it('strangers and unpaired devices are refused; bad codes fail cleanly; a restarted peer reconnects and catches up', async () => {
    const [dirA, dirB, dirD] = [tempDir('lls-a-'), tempDir('lls-b-'), tempDir('lls-d-')];
    // d has the library's id and secret (say, a stolen copy) and lists a as its partner; a never paired it.
    const keyA = loadOrCreateDeviceKeyPair(path.join(dirA, DEVICE_KEY_FILE));
    const la = await Library.create({ dataDir: dirA, name: 'Private', deviceName: 'a', keyPair: keyA });
    const keyD = loadOrCreateDeviceKeyPair(path.join(dirD, DEVICE_KEY_FILE));
    const ld = await Library.create({ dataDir: dirD, name: 'Private', deviceName: 'd', libraryId: la.id, secret: la.secret, keyPair: keyD });
    await ld.addPartner(la.deviceId, 'a', keyA.publicKey);
    await la.close();
    await ld.close();
    const a = await serve(dirA);
    let b = await serve(dirB);
    await serve(dirD);
    const dKey = keyD.publicKey.toString('hex').slice(0, 12);
    await a.waitForStderr(new RegExp(`refused a connection from ${dKey}|not dialling ${dKey}`));
    assert.equal((await libraryStatus(dirD)).partners[0].online, false, 'd never gets a link');

    // Codes: a typo costs nothing (exit 2); a code nobody is offering times out (exit 5).
    const typo = await run('join', 'ABCD-EFGH-JKMN', '--data-dir', tempDir('lls-x-'));
    assert.equal(typo.code, 2, typo.stderr);
    assert.match(typo.stderr, /typo|invite code/);
    const info = JSON.parse(await ok('invite', '--no-wait', '--json', '--data-dir', dirA)) as InviteInfo;
    assert.match(await ok('invite', '--revoke', info.code, '--data-dir', dirA), /revoked/);
    const revoked = await run('join', info.code, '--timeout', '3', '--no-wait', '--data-dir', tempDir('lls-y-'));
    assert.equal(revoked.code, 5, revoked.stderr);
    assert.match(revoked.stderr, /No inviting device answered|refused|closed/);

    // b pairs, then is killed; a writes meanwhile; b comes back and catches up.
    await pair(dirA, dirB);
    await until('b ready', async () => (await libraryStatus(dirB))?.state === 'ready');
    b.kill('SIGKILL');
    await b.exited;
    await ok('tag', '--workspace', 'github.com/acme/api', 'src/x.ts', 'while-b-was-down', '--data-dir', dirA);
    b = await serve(dirB);
    await until('b caught up after its restart', async () => (await ok('tags', '--data-dir', dirB)).includes('while-b-was-down'));

    // a unpairs b: b's links drop, its later attempts are refused, and what it writes stays with it.
    const bDevice = (await libraryStatus(dirB)).device;
    await ok('unpair', bDevice, '--data-dir', dirA);
    const keyB = loadOrCreateDeviceKeyPair(path.join(dirB, DEVICE_KEY_FILE)).publicKey.toString('hex').slice(0, 12);
    await until('b sees a offline', async () => (await libraryStatus(dirB)).partners.every((p) => !p.online));
    await ok('tag', '--workspace', 'github.com/acme/api', 'src/y.ts', 'after-unpair', '--data-dir', dirB);
    await a.waitForStderr(new RegExp(`refused a connection from ${keyB}|not dialling ${keyB}|closing a connection from ${keyB}`));
    await sleep(1000);
    assert.ok(!(await ok('tags', '--data-dir', dirA)).includes('after-unpair'));
    const members = JSON.parse(await ok('members', '--json', '--data-dir', dirA)) as { device: string; live: boolean }[];
    assert.equal(members.find((m) => m.device === bDevice)?.live, false);
  });
});
