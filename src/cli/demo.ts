/**
 * `leaderless demo --memory` (and the demo's fallback where peer networking
 * is unavailable): two devices of one library, each with its own durable
 * database in a temporary folder, run the real sync engine over the
 * in-memory transport: the desktop joins and backfills the laptop's indexed
 * repository (with progress), a tag arrives live, both edit the same tag
 * while the desktop is offline, and after it reconnects they agree.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ENTRY_KIND } from '../models/entry';
import type { Id } from '../core/ids';
import { idToString } from '../core/ids';
import { Library } from '../engine/library';
import { MemoryHub } from '../engine/memory-transport';
import { PeerSync } from '../sync/peer-sync';

const FILES = 20_000;

export async function runDemo(out: NodeJS.WritableStream): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'leaderless-demo-'));
  const say = (s: string) => out.write(s + '\n');
  const hub = new MemoryHub();
  const syncs: PeerSync[] = [];
  try {
    const laptop = await Library.create({ dataDir: path.join(dir, 'laptop'), name: 'Demo library', deviceName: 'laptop' });
    const desktop = await Library.create({ dataDir: path.join(dir, 'desktop'), name: 'Demo library', deviceName: 'desktop', libraryId: laptop.id, secret: laptop.secret });
    await Promise.all([laptop.ready(), desktop.ready()]);
    say(`library ${idToString(laptop.id)}: laptop ${idToString(laptop.deviceId).slice(0, 8)}, desktop ${idToString(desktop.deviceId).slice(0, 8)}`);

    // The laptop has the repository checked out and indexes it.
    const wk = 'github.com/example/app';
    const t0 = performance.now();
    await indexRepository(laptop, wk, FILES);
    const [tag] = await laptop.commitShared([{ model: 'tag', op: 'create', data: { name: 'review', color: 'red', icon: null, description: null, namespace: null } }]);
    await laptop.commitShared([{ model: 'tag_assignment', op: 'create', data: { tag: tag.uuid, workspace_key: wk, path: 'm0/f1.ts' } }]);
    say(`laptop: indexed app/ (${FILES.toLocaleString('en-US')} files and folders) in ${Math.round(performance.now() - t0)} ms, created tag "review", tagged m0/f1.ts`);

    // They pair (here: each records the other as a partner) and start syncing.
    await laptop.addPartner(desktop.deviceId, 'desktop');
    await desktop.addPartner(laptop.deviceId, 'laptop');
    const laptopSync = start(laptop, hub, syncs);
    const desktopSync = start(desktop, hub, syncs);
    const t1 = performance.now();
    let lastShown = 0;
    let stopping = false;
    desktopSync.on('state', (s) => stopping || say(`desktop: ${s}`));
    desktopSync.on('progress', (p) => {
      if (p.announced > 0 && (p.done || p.received - lastShown >= 5000)) {
        lastShown = p.received;
        say(`desktop: backfill ${p.received.toLocaleString('en-US')} of ${p.announced.toLocaleString('en-US')} rows${p.done ? ' (done)' : ''}`);
      }
    });
    await until(() => desktopSync.state === 'ready');
    say(`desktop: backfilled in ${Math.round(performance.now() - t1)} ms; it holds ${desktop.counts().entry.toLocaleString('en-US')} entries and the tag`);

    // A live change.
    const t2 = performance.now();
    const [note] = await laptop.commitShared([{ model: 'user_metadata', op: 'create', data: { workspace_key: wk, path: 'm0/f1.ts', note: 'split this file' } }]);
    await until(() => desktop.read((r) => desktop.registry.sharedModel('user_metadata').get(r, note.uuid)) !== null);
    say(`laptop wrote a note; the desktop had it ${(performance.now() - t2).toFixed(1)} ms later`);

    // Offline first: the desktop goes offline, both edit the same tag.
    desktopSync.pause(); // offline
    await laptop.commitShared([{ model: 'tag', op: 'update', uuid: tag.uuid, data: { name: 'needs review' } }]);
    await desktop.commitShared([
      { model: 'tag', op: 'update', uuid: tag.uuid, data: { color: 'orange' } },
      { model: 'user_metadata', op: 'update', uuid: note.uuid, data: { favorite: true } },
    ]);
    say('laptop renamed the tag while the offline desktop recolored it and starred the file');
    desktopSync.resume();
    await until(() => desktopSync.state === 'ready' && laptopSync.readyPeers().length === 1);
    await until(() => laptop.digest() === desktop.digest(), 5000);
    const t = laptop.read((r) => laptop.registry.sharedModel('tag').get(r, tag.uuid))!;
    say(`back online: the tag is "${t.data.name}" (${t.data.color}) on both; per-field merge kept both edits`);
    const a = laptop.digest();
    const b = desktop.digest();
    say(`digests: laptop ${a.slice(0, 16)}…  desktop ${b.slice(0, 16)}…  ${a === b ? 'identical' : 'DIFFERENT'}`);
    stopping = true;
    for (const s of syncs) await s.stop();
    await laptop.close();
    await desktop.close();
    if (a !== b) throw new Error('demo replicas did not converge');
  } finally {
    for (const s of syncs) await s.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function start(lib: Library, hub: MemoryHub, syncs: PeerSync[]): PeerSync {
  const sync = new PeerSync(lib, hub.transport(lib.deviceId));
  syncs.push(sync);
  sync.start();
  return sync;
}

/** A location with `files` entries: folders of 20, in transactions of 1000. */
export async function indexRepository(lib: Library, workspaceKey: string, files: number): Promise<void> {
  const [loc] = await lib.commitDeviceOwned('location', [
    { data: { device: lib.deviceId, volume: null, path: '/home/me/src/app', name: 'app', workspace_key: workspaceKey, entry_count: files, total_bytes: 0 } },
  ]);
  let folder: Id | null = null;
  for (let i = 0; i < files; i += 1000) {
    await lib.write((tx) => {
      for (let j = i; j < Math.min(files, i + 1000); j++) {
        if (j % 20 === 0) folder = tx.put('entry', { location: loc.uuid, parent: null, name: `m${j / 20}`, kind: ENTRY_KIND.dir, size: 0, mtime: 1_700_000_000_000 }).uuid;
        else tx.put('entry', { location: loc.uuid, parent: folder, name: `f${j % 20}.ts`, kind: ENTRY_KIND.file, size: 100 + j, mtime: 1_700_000_000_000 + j });
      }
    });
  }
}

/**
 * Polls `done` until it holds, leaving the event loop free between checks
 * for at least three times as long as a check took. Comparing two digests
 * of a 20k-entry library takes ~0.5-1 s on a busy machine: polled back to
 * back, the loop, which in `runNetworkDemo` also runs both devices'
 * networking and the DHT nodes, was blocked 99% of the time, and the
 * desktop's reconnection after resume crawled past the deadline.
 */
export async function until(done: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const start = performance.now();
    if (done()) return;
    const took = performance.now() - start;
    if (performance.now() > deadline) throw new Error('the demo timed out');
    await new Promise((r) => setTimeout(r, Math.max(2, 3 * took)));
  }
}
