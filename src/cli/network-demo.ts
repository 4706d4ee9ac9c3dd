/**
 * `leaderless demo` over the real network: a private HyperDHT on loopback
 * (hyperdht's own testnet, nothing leaves this machine), and two engine
 * services, a laptop and a desktop, each with its own data directory and
 * device key. The laptop indexes a repository and shows an invite code; the
 * desktop joins with it over Hyperswarm, backfills with progress, gets a
 * note live, then goes offline while both edit the same tag, and after it
 * comes back they agree (same canonical digest).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { idToString } from '../core/ids';
import { EngineService } from '../service/engine-service';
import { indexRepository, until } from './demo';

const FILES = 20_000;

interface LocalDht {
  bootstrap: { host: string; port: number }[];
  destroy(): Promise<void>;
}

export async function runNetworkDemo(out: NodeJS.WritableStream): Promise<void> {
  const say = (s: string) => out.write(s + '\n');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'leaderless-demo-'));
  const createTestnet = require('hyperdht/testnet') as (size: number, opts: { host: string }) => Promise<LocalDht>;
  const dht = await createTestnet(3, { host: '127.0.0.1' });
  const services: EngineService[] = [];
  try {
    say(`a private DHT on 127.0.0.1:${dht.bootstrap[0].port} (nothing leaves this machine)`);
    const start = async (name: string) => {
      const s = await EngineService.start({ dataDir: path.join(dir, name), bootstrap: dht.bootstrap, library: { deviceName: name } });
      services.push(s);
      return s;
    };
    const [laptop, desktop] = [await start('laptop'), await start('desktop')];
    const lib = await laptop.createLibrary({ name: 'Demo library', deviceName: 'laptop' });
    const wk = 'github.com/example/app';
    const t0 = performance.now();
    await indexRepository(lib, wk, FILES);
    const [tag] = await lib.commitShared([{ model: 'tag', op: 'create', data: { name: 'review', color: 'red', icon: null, description: null, namespace: null } }]);
    await lib.commitShared([{ model: 'tag_assignment', op: 'create', data: { tag: tag.uuid, workspace_key: wk, path: 'm0/f1.ts' } }]);
    say(`laptop: indexed app/ (${FILES.toLocaleString('en-US')} files and folders) in ${Math.round(performance.now() - t0)} ms, created tag "review", tagged m0/f1.ts`);

    const invite = await laptop.pairing.invite(undefined);
    say(`laptop: invite code ${invite.code} (valid 10 minutes, once)`);
    let lastShown = 0;
    let stopping = false;
    desktop.on('state', (e) => stopping || say(`desktop: ${e.state}`));
    desktop.on('progress', ({ progress: p }) => {
      if (p.announced > 0 && (p.done || p.received - lastShown >= 5000)) {
        lastShown = p.received;
        say(`desktop: backfill ${p.received.toLocaleString('en-US')} of ${p.announced.toLocaleString('en-US')} rows${p.done ? ' (done)' : ''}`);
      }
    });
    const t1 = performance.now();
    const joined = await desktop.pairing.join(invite.code);
    say(`desktop: typed the code; paired over Hyperswarm in ${Math.round(performance.now() - t1)} ms and joined "${joined.name}"`);
    await until(() => desktop.status(joined.library, { digest: false }).state === 'ready');
    const copy = desktop.library(joined.library);
    say(`desktop: in sync ${Math.round(performance.now() - t1)} ms after typing the code; it holds ${copy.counts().entry.toLocaleString('en-US')} entries and the tag`);

    const t2 = performance.now();
    const [note] = await lib.commitShared([{ model: 'user_metadata', op: 'create', data: { workspace_key: wk, path: 'm0/f1.ts', note: 'split this file' } }]);
    await until(() => copy.read((r) => copy.registry.sharedModel('user_metadata').get(r, note.uuid)) !== null);
    say(`laptop wrote a note; the desktop had it ${(performance.now() - t2).toFixed(1)} ms later`);

    await desktop.suspend();
    await lib.commitShared([{ model: 'tag', op: 'update', uuid: tag.uuid, data: { name: 'needs review' } }]);
    await copy.commitShared([
      { model: 'tag', op: 'update', uuid: tag.uuid, data: { color: 'orange' } },
      { model: 'user_metadata', op: 'update', uuid: note.uuid, data: { favorite: true } },
    ]);
    say('the desktop left the network; meanwhile the laptop renamed the tag and the desktop recolored it and starred the file');
    await desktop.resume();
    await until(() => lib.digest() === copy.digest(), 30_000);
    const t = lib.read((r) => lib.registry.sharedModel('tag').get(r, tag.uuid))!;
    say(`back online: the tag is "${t.data.name}" (${t.data.color}) on both; per-field merge kept both edits`);
    const [a, b] = [lib.digest(), copy.digest()];
    say(`digests: laptop ${a.slice(0, 16)}…  desktop ${b.slice(0, 16)}…  ${a === b ? 'identical' : 'DIFFERENT'} (library ${idToString(lib.id)})`);
    stopping = true;
    if (a !== b) throw new Error('demo replicas did not converge');
  } finally {
    for (const s of services) await s.close().catch(() => undefined);
    await dht.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
