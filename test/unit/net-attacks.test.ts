/**
 * Issue 12's attacks over real Hyperswarm: two `leaderless serve` devices
 * and a third paired device whose data directory and key an attacker
 * holds. The attacker stops that device's service and runs its engine in
 * this process, on a local testnet, with every frame it sends rewritten by
 * the simulator's liar (test/sim/byzantine.ts): changes of the others
 * altered after signing or claimed in their name, pages that answer for
 * another owner, rows of the others sent as its own live changes, rows
 * planted in a device's own name, acknowledgements of made-up origins,
 * floods of rows that never apply, garbage frames. The honest devices must
 * refuse it all, name the attacker, keep syncing with each other and lose
 * nothing. Nothing here reaches the public DHT.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { idFromString, idToString, type Id } from '../../src/core/ids';
import { Library, listLibraries } from '../../src/engine/library';
import { loadOrCreateDeviceKeyPair } from '../../src/net/keys';
import { SwarmHost } from '../../src/net/swarm-host';
import type { InviteInfo } from '../../src/service/pairing-desk';
import { PeerSync } from '../../src/sync/peer-sync';
import { Liar, lyingTransport } from '../sim/byzantine';
import type { CliProcess } from '../support/cli-process';
import { cliOk, cliTestnet, controlCall, libraryStatus, serveOn } from '../support/cli-testnet';
import { checkout } from '../support/checkout';
import { tempDir } from '../support/tmp';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const WAIT_MS = 60_000;


interface LocationRow {
  name: string;
  device: string;
}

describe('real peers: a paired device that lies (issue 12)', function () {
  this.timeout(240_000);
  const net = cliTestnet();

  const ok = (...args: string[]) => cliOk(net, ...args);
  const serve = (dataDir: string) => serveOn(net, dataDir);

  async function until(what: string, fn: () => Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await fn().catch(() => false)) return;
      await sleep(250);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }

  const sameDigest = async (dirs: readonly string[]) => {
    const d = await Promise.all(dirs.map(async (x) => (await libraryStatus(x, true)).digest));
    return d.every((x) => x && x === d[0]);
  };
  const entries = async (dir: string) => (await libraryStatus(dir)).counts.entry;
  const tagCount = async (dir: string) => (await libraryStatus(dir)).counts.tag_assignment;

  it('the attacker is refused and named by both honest devices, which keep syncing with each other and lose nothing', async () => {
    const [dirA, dirB, dirM] = [tempDir('lls-a-'), tempDir('lls-b-'), tempDir('lls-m-')];
    const wsA = checkout('git@github.com:acme/attacked.git', { 'src/a1.ts': '1', 'src/a2.ts': '2', 'README.md': 'r' });
    const wsB = checkout('git@github.com:acme/other.git', { 'b1.ts': '1' });
    await ok('init', '--name', 'Attacked', '--data-dir', dirA);
    const [a, b, m] = await Promise.all([serve(dirA), serve(dirB), serve(dirM)]);
    await ok('add-location', wsA, '--data-dir', dirA);
    for (const joiner of [dirB, dirM]) {
      const info = JSON.parse(await ok('invite', '--no-wait', '--json', '--data-dir', dirA)) as InviteInfo;
      await ok('join', info.code, '--no-wait', '--data-dir', joiner);
      await until(`${joiner} paired`, async () => (await entries(joiner)) === 4);
    }
    await ok('add-location', wsB, '--data-dir', dirB);
    await ok('tag', path.join(wsA, 'src/a1.ts'), 'before', '--data-dir', dirA);
    await until('all three hold the same', () => sameDigest([dirA, dirB, dirM]));

    // The attacker takes M: its service stops, and its engine runs here, lying.
    m.kill('SIGTERM');
    assert.equal((await m.exited).code, 0);
    const keyPair = loadOrCreateDeviceKeyPair(path.join(dirM, 'device.key'));
    const [info] = await listLibraries(dirM);
    const lib = await Library.open({ dataDir: dirM, libraryId: idFromString(info.id), keyPair });
    const host = await SwarmHost.create({ keyPair, bootstrap: net.testnet.bootstrap, log: () => undefined });
    const devices: Id[] = [lib.deviceId, ...lib.partners().map((p) => p.device)];
    const liar = new Liar(null, lib.deviceId, keyPair, lib.id, () => devices, 1234);
    const peers = () => lib.partners().flatMap((p) => (p.publicKey ? [{ device: p.device, publicKey: p.publicKey }] : []));
    const sync = new PeerSync(lib, lyingTransport(host.transport({ libraryId: lib.id, secret: lib.secret, peers }), liar));
    sync.on('error', () => undefined);
    liar.start();
    sync.start();
    let written = 0;
    try {
      // The honest devices go on writing: frames for the liar to rewrite.
      const mId = idToString(lib.deviceId);
      const named = (p: CliProcess) => p.stderr.includes(`sync error with ${mId}`);
      for (let i = 0; i < 30; i++) {
        await ok('tag', path.join(wsA, i % 2 ? 'src/a2.ts' : 'README.md'), `during-${i}`, '--data-dir', dirA);
        written++;
        fs.writeFileSync(path.join(wsB, `b-${i}.ts`), String(i));
        await ok('add-location', wsB, '--data-dir', dirB);
        await sleep(500);
        if (i >= 11 && liar.lies >= 30 && named(a) && named(b)) break;
      }
      await until('both honest devices name the attacker', async () => named(a) && named(b), 30_000);
      assert.ok(liar.lies >= 10, `the attacker lied (${JSON.stringify(liar.told)})`);
    } finally {
      liar.stop();
      await sync.stop();
      await host.destroy();
      await lib.close();
    }

    // A and B hold everything either wrote, the same, and nothing the attacker planted.
    await until('A and B converge', async () => (await tagCount(dirA)) === written + 1 && (await tagCount(dirB)) === written + 1 && (await entries(dirA)) === (await entries(dirB)) && (await sameDigest([dirA, dirB])));
    for (const dir of [dirA, dirB]) {
      const locations = await controlCall<LocationRow[]>(dir, 'locations');
      assert.deepEqual(locations.map((l) => l.name).filter((n) => n === 'planted' || n.startsWith('made-up')), [], 'no row the attacker planted or made up');
    }
    const status = await libraryStatus(dirA);
    const attacker = status.partners.find((p) => p.device === idToString(lib.deviceId));
    assert.ok(attacker, 'the attacker is still a partner (nothing unpaired it)');
  });
});
