/**
 * `leaderless demo`: two devices share one library in a temporary folder,
 * edit it independently (including the same tag at once), exchange what
 * they have and end with identical digests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ENTRY_KIND } from '../models/entry';
import { idToString } from '../engine/ids';
import { Library } from '../engine/library';
import { pullAll } from '../engine/local-pull';

export async function runDemo(out: NodeJS.WritableStream): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'leaderless-demo-'));
  const say = (s: string) => out.write(s + '\n');
  try {
    const laptop = await Library.create({ dataDir: path.join(dir, 'laptop'), name: 'Demo library', deviceName: 'laptop' });
    const desktop = await Library.create({
      dataDir: path.join(dir, 'desktop'),
      name: 'Demo library',
      deviceName: 'desktop',
      libraryId: laptop.id,
      secret: laptop.secret,
    });
    say(`library ${idToString(laptop.id)}: laptop ${idToString(laptop.deviceId).slice(0, 8)}, desktop ${idToString(desktop.deviceId).slice(0, 8)}`);

    // The laptop has the repository checked out and indexes it.
    const wk = 'github.com/example/app';
    await laptop.write((tx) => {
      const loc = tx.put('location', { device: laptop.deviceId, volume: null, path: '/home/me/src/app', name: 'app', workspace_key: wk, entry_count: 2, total_bytes: 1200 });
      const src = tx.put('entry', { location: loc.uuid, parent: null, name: 'src', kind: ENTRY_KIND.dir, size: 0, mtime: 1_700_000_000_000 });
      tx.put('entry', { location: loc.uuid, parent: src.uuid, name: 'main.ts', kind: ENTRY_KIND.file, size: 1200, mtime: 1_700_000_000_000 });
    });
    const [tag] = await laptop.commitShared([{ model: 'tag', op: 'create', data: { name: 'review', color: 'red', icon: null, description: null, namespace: null } }]);
    await laptop.commitShared([{ model: 'tag_assignment', op: 'create', data: { tag: tag.uuid, workspace_key: wk, path: 'src/main.ts' } }]);
    say('laptop: indexed app/, created tag "review", tagged src/main.ts');

    await pullAll(laptop, desktop);
    // Both edit at once: the laptop renames the tag, the desktop recolors it and writes a note.
    await laptop.commitShared([{ model: 'tag', op: 'update', uuid: tag.uuid, data: { name: 'needs review' } }]);
    await desktop.commitShared([
      { model: 'tag', op: 'update', uuid: tag.uuid, data: { color: 'orange' } },
      { model: 'user_metadata', op: 'create', data: { workspace_key: wk, path: 'src/main.ts', note: 'split this file', favorite: true } },
    ]);
    say('laptop renamed the tag while the desktop recolored it and wrote a note');

    await pullAll(laptop, desktop);
    await pullAll(desktop, laptop);
    const t = laptop.read((r) => laptop.registry.sharedModel('tag').get(r, tag.uuid))!;
    say(`tag is now "${t.data.name}" (${t.data.color}) on both: per-field merge kept both edits`);
    say(`laptop  counts ${JSON.stringify(laptop.counts())}`);
    say(`desktop counts ${JSON.stringify(desktop.counts())}`);
    const a = laptop.digest();
    const b = desktop.digest();
    say(`digests: laptop ${a.slice(0, 16)}…  desktop ${b.slice(0, 16)}…  ${a === b ? 'identical' : 'DIFFERENT'}`);
    await laptop.close();
    await desktop.close();
    if (a !== b) throw new Error('demo replicas did not converge');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
