/**
 * Random, valid local edits on a set of library replicas, every committed
 * record collected. Used by property tests (apply the collected records in
 * any order elsewhere) and by simulations.
 */
import type { RecordData } from '../../src/models/fields';
import { ENTRY_KIND } from '../../src/models/entry';
import type { SharedChange, StateRecord } from '../../src/models/model';
import type { Library, LocalTx } from '../../src/engine/library';
import type { Id } from '../../src/core/ids';
import { pullAll } from '../../src/engine/local-pull';
import type { Random } from './random';

export type Collected = { kind: 'state'; model: string; record: StateRecord } | { kind: 'shared'; change: SharedChange };

const WORKSPACES = ['github.com/acme/api', 'github.com/acme/web', 'notes'];
const PATHS = ['README.md', 'src/index.ts', 'src/util.ts', 'docs/a.md'];
const NAMES = ['todo', 'review', 'bug', 'later', 'idea'];
const COLORS = ['red', 'green', 'blue', null];

export function collect(libs: readonly Library[], into: Collected[]): () => void {
  const offs = libs.map((lib) =>
    lib.on('committed', (c) => {
      for (const [model, recs] of c.state) for (const record of recs) into.push({ kind: 'state', model, record });
      for (const change of c.shared) into.push({ kind: 'shared', change });
    }),
  );
  return () => offs.forEach((off) => off());
}

function live(lib: Library, model: string): Id[] {
  const table = lib.registry.sharedModel(model).table;
  return lib.read((r) => r.rows(`SELECT uuid FROM ${table} WHERE live = 1`).map((row) => row[0] as Uint8Array));
}

function dead(lib: Library, model: string): Id[] {
  const table = lib.registry.sharedModel(model).table;
  return lib.read((r) => r.rows(`SELECT uuid FROM ${table} WHERE live = 0 AND created_hlc IS NOT NULL`).map((row) => row[0] as Uint8Array));
}

function own(lib: Library, table: string, extra = ''): Id[] {
  return lib.read((r) => r.rows(`SELECT uuid FROM ${table} WHERE owner = ? AND deleted = 0 ${extra}`, [lib.deviceId]).map((row) => row[0] as Uint8Array));
}

function ownEntries(lib: Library): { uuid: Id; location: Id; kind: number }[] {
  return lib.read((r) =>
    r
      .rows('SELECT e.uuid, l.uuid, e.kind FROM entry e JOIN location l ON l.id = e.location_id WHERE l.owner = ? AND e.deleted = 0 AND e.hlc IS NOT NULL', [lib.deviceId])
      .map((row) => ({ uuid: row[0] as Uint8Array, location: row[1] as Uint8Array, kind: row[2] as number })),
  );
}

function tagData(rnd: Random): RecordData {
  return { name: rnd.pick(NAMES), color: rnd.pick(COLORS), icon: null, description: rnd.chance(0.3) ? 'about ' + rnd.int(100) : null, namespace: null };
}

/** One random edit on `lib`. Returns false if nothing applicable was found. */
function edit(lib: Library, tx: LocalTx, rnd: Random): void {
  const item = { workspace_key: rnd.pick(WORKSPACES), path: rnd.pick(PATHS) };
  const choice = rnd.int(16);
  const tags = live(lib, 'tag');
  const albums = live(lib, 'album');
  switch (choice) {
    case 0:
      tx.create('tag', tagData(rnd));
      return;
    case 1: {
      if (!tags.length) return void tx.create('tag', tagData(rnd));
      const d = tagData(rnd);
      const keys = Object.keys(d).filter(() => rnd.chance(0.5));
      const data: RecordData = {};
      for (const k of keys.length ? keys : ['name']) data[k] = d[k];
      tx.update('tag', rnd.pick(tags), data);
      return;
    }
    case 2:
      if (tags.length) tx.delete('tag', rnd.pick(tags));
      return;
    case 3: {
      const gone = dead(lib, 'tag');
      if (gone.length) tx.create('tag', tagData(rnd), rnd.pick(gone)); // re-create after delete
      return;
    }
    case 4:
      if (tags.length) tx.create('tag_assignment', { tag: rnd.pick(tags), ...item });
      return;
    case 5: {
      const a = live(lib, 'tag_assignment');
      if (a.length) tx.delete('tag_assignment', rnd.pick(a));
      return;
    }
    case 6:
      tx.create('album', { name: rnd.pick(NAMES), description: null });
      return;
    case 7:
      if (albums.length) tx.create('album_item', { album: rnd.pick(albums), ...item, position: rnd.int(10) });
      return;
    case 8: {
      const a = live(lib, 'album_item');
      if (a.length) tx.delete('album_item', rnd.pick(a));
      return;
    }
    case 9:
    case 10: {
      const m = lib.registry.sharedModel('user_metadata');
      const id = m.derivedId(item)!;
      const row = lib.read((r) => m.get(r, id));
      const fields: RecordData = {};
      if (rnd.chance(0.6)) fields.note = rnd.chance(0.2) ? null : `note ${rnd.int(1000)}`;
      if (rnd.chance(0.5)) fields.favorite = rnd.chance(0.5);
      if (rnd.chance(0.3)) fields.hidden = rnd.chance(0.5);
      if (rnd.chance(0.2)) fields.custom = JSON.stringify({ k: rnd.int(5) });
      if (row?.live) tx.update('user_metadata', id, Object.keys(fields).length ? fields : { favorite: true });
      else tx.create('user_metadata', { ...item, ...fields });
      return;
    }
    case 11: {
      const m = live(lib, 'user_metadata');
      if (m.length && rnd.chance(0.5)) tx.delete('user_metadata', rnd.pick(m));
      return;
    }
    case 12: {
      const locs = own(lib, 'location');
      if (locs.length < 2 || rnd.chance(0.3)) {
        tx.put('location', {
          device: lib.deviceId,
          volume: null,
          path: `/src/${rnd.int(100)}`,
          name: 'loc',
          workspace_key: rnd.pick(WORKSPACES),
          entry_count: 0,
          total_bytes: 0,
        });
      } else if (rnd.chance(0.3)) {
        tx.remove('location', rnd.pick(locs));
      }
      return;
    }
    case 13:
    case 14: {
      const locs = own(lib, 'location');
      if (!locs.length) return;
      const entries = ownEntries(lib);
      if (entries.length && rnd.chance(0.3)) {
        const e = rnd.pick(entries);
        if (rnd.chance(0.4)) tx.remove('entry', e.uuid);
        else {
          const cur = lib.read((r) => lib.registry.deviceOwnedModel('entry').get(r, e.uuid))!;
          tx.put('entry', { ...cur.data, size: rnd.int(1 << 20), mtime: 1_700_000_000_000 + rnd.int(1e6) }, e.uuid);
        }
        return;
      }
      const loc = rnd.pick(locs);
      const dirs = entries.filter((e) => e.kind === ENTRY_KIND.dir && e.location.every((b, i) => b === loc[i]));
      const isDir = rnd.chance(0.3);
      tx.put('entry', {
        location: loc,
        parent: dirs.length && rnd.chance(0.7) ? rnd.pick(dirs).uuid : null,
        name: `f${rnd.int(1000)}${isDir ? '' : '.ts'}`,
        kind: isDir ? ENTRY_KIND.dir : ENTRY_KIND.file,
        size: isDir ? 0 : rnd.int(1 << 16),
        mtime: 1_700_000_000_000 + rnd.int(1e6),
      });
      return;
    }
    default: {
      const vols = own(lib, 'volume');
      tx.put(
        'volume',
        { device: lib.deviceId, mount_point: '/', name: 'disk', filesystem: 'ext4', total_bytes: 1e9, available_bytes: rnd.int(1e9), removable: false },
        vols.length ? rnd.pick(vols) : undefined,
      );
    }
  }
}

/**
 * Starts one random transaction (1-3 edits) on `lib` without waiting for
 * it to be durable: `ops` holds what it wrote as soon as this returns (the
 * transaction runs synchronously; empty if it failed before committing);
 * `done` settles when it is durable, or fails.
 */
export function issueWrite(lib: Library, rnd: Random): { ops: Collected[]; done: Promise<unknown> } {
  const ops: Collected[] = [];
  const done = lib.write((inner) => {
    const rec = <T extends StateRecord | SharedChange>(kind: 'state' | 'shared', model: string, r: T): T => {
      ops.push(kind === 'state' ? { kind, model, record: r as StateRecord } : { kind, change: r as SharedChange });
      return r;
    };
    const tx: LocalTx = {
      reader: inner.reader,
      put: (model, data, uuid) => rec('state', model, inner.put(model, data, uuid)),
      remove: (model, uuid) => rec('state', model, inner.remove(model, uuid)),
      create: (model, data, uuid) => rec('shared', model, inner.create(model, data, uuid)),
      update: (model, uuid, data) => rec('shared', model, inner.update(model, uuid, data)),
      delete: (model, uuid) => rec('shared', model, inner.delete(model, uuid)),
    };
    const n = 1 + rnd.int(3);
    for (let k = 0; k < n; k++) edit(lib, tx, rnd);
  });
  return { ops, done };
}

/** Runs `steps` random edits (and, unless `pull: false`, occasional direct pulls between replicas). */
export async function runWorkload(libs: readonly Library[], rnd: Random, steps: number, opts: { pull?: boolean } = {}): Promise<void> {
  for (let i = 0; i < steps; i++) {
    if (opts.pull !== false && libs.length > 1 && rnd.chance(0.15)) {
      const a = rnd.pick(libs);
      const b = rnd.pick(libs.filter((l) => l !== a));
      await pullAll(a, b);
      continue;
    }
    const lib = rnd.pick(libs);
    await lib.write((tx) => {
      const n = 1 + rnd.int(3);
      for (let k = 0; k < n; k++) edit(lib, tx, rnd);
    });
  }
}
