import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { InvalidChangeError, NotFoundError } from '../../src/engine/errors';
import { idToString } from '../../src/core/ids';
import { indexFolder } from '../../src/engine/indexer';
import {
  addToAlbum,
  albumItems,
  AmbiguousNameError,
  createAlbum,
  createTag,
  deleteAlbum,
  deleteTag,
  favoriteItems,
  findAlbums,
  findTags,
  getAlbum,
  getMetadata,
  getNote,
  getTag,
  itemsWithTag,
  listAlbums,
  listTags,
  NotInLocationError,
  recolorTag,
  removeFromAlbum,
  renameAlbum,
  renameTag,
  resolvePath,
  setFavorite,
  setHidden,
  setNote,
  tagItem,
  tagsOf,
  untagItem,
} from '../../src/engine/item-ops';
import type { ItemKey } from '../../src/engine/items';
import { Library } from '../../src/engine/library';
import { cleanupTempDirs, tempDir } from '../support/tmp';

const WK = 'github.com/acme/api';
const item = (p: string): ItemKey => ({ workspaceKey: WK, path: p });

/** Counts the shared changes committed while `fn` runs. */
async function changesDuring(lib: Library, fn: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const on = (c: { shared: unknown[] }) => (n += c.shared.length);
  lib.on('committed', on);
  try {
    await fn();
  } finally {
    lib.off('committed', on);
  }
  return n;
}

describe('item operations', () => {
  let lib: Library;
  beforeEach(async () => {
    lib = await Library.create({ dataDir: tempDir(), name: 'ops' });
    await lib.ready();
  });
  afterEach(async () => {
    await lib.close();
  });
  after(cleanupTempDirs);

  describe('resolving paths', () => {
    it('maps an absolute path to (workspace key, relative path) through the longest location containing it', async () => {
      const root = path.join(tempDir(), 'api');
      mkdirSync(path.join(root, 'src', 'vendored', 'lib'), { recursive: true });
      writeFileSync(path.join(root, 'src', 'index.ts'), 'x');
      const outer = await indexFolder(lib, root, { workspaceKey: WK });
      const inner = await indexFolder(lib, path.join(root, 'src', 'vendored'), { workspaceKey: 'github.com/other/lib' });

      const a = resolvePath(lib, path.join(root, 'src', 'index.ts'));
      assert.deepEqual({ workspaceKey: a.workspaceKey, path: a.path }, item('src/index.ts'));
      assert.equal(idToString(a.location), idToString(outer.location));
      assert.equal(a.locationPath, root);
      const b = resolvePath(lib, path.join(root, 'src', 'vendored', 'lib', 'x.js'));
      assert.deepEqual([b.workspaceKey, b.path, idToString(b.location)], ['github.com/other/lib', 'lib/x.js', idToString(inner.location)]);
      assert.equal(resolvePath(lib, root + path.sep).path, '', 'the folder itself is the workspace item');
      assert.equal(resolvePath(lib, path.join(root, 'src', '.', 'a', '..', 'index.ts')).path, 'src/index.ts');
      // a file need not exist (yet) to be named
      assert.equal(resolvePath(lib, path.join(root, 'later.md')).path, 'later.md');

      assert.throws(() => resolvePath(lib, path.join(path.dirname(root), 'api-other', 'x')), NotInLocationError);
      assert.throws(() => resolvePath(lib, path.dirname(root)), /not inside any indexed folder/);
      assert.throws(() => resolvePath(lib, 'relative/path'), InvalidChangeError);

      // the same folder reached through a symlink resolves by real path
      const link = path.join(tempDir(), 'link');
      symlinkSync(root, link);
      assert.equal(resolvePath(lib, path.join(link, 'src', 'index.ts')).path, 'src/index.ts');
    });

    it('accepts an absolute path wherever an item is expected', async () => {
      const root = path.join(tempDir(), 'api');
      mkdirSync(root);
      writeFileSync(path.join(root, 'a.ts'), 'x');
      await indexFolder(lib, root, { workspaceKey: WK });
      await tagItem(lib, path.join(root, 'a.ts'), 'todo');
      assert.deepEqual(
        tagsOf(lib, item('a.ts')).map((t) => t.name),
        ['todo'],
      );
      await setNote(lib, path.join(root, 'a.ts'), 'via path');
      assert.equal(getNote(lib, item('a.ts')), 'via path');
      await assert.rejects(tagItem(lib, '/definitely/not/indexed/x', 'todo'), NotInLocationError);
    });
  });

  describe('tags', () => {
    it('creates, finds, assigns, lists and counts', async () => {
      const red = await createTag(lib, { name: '  urgent ', color: 'red' });
      assert.equal(red.name, 'urgent', 'names are trimmed');
      assert.equal(red.color, 'red');
      assert.deepEqual(findTags(lib, 'urgent').map((t) => idToString(t.id)), [idToString(red.id)]);
      assert.deepEqual(findTags(lib, 'nothing'), []);

      const r1 = await tagItem(lib, item('src/a.ts'), 'urgent');
      assert.equal(r1.createdTag, false);
      assert.equal(r1.added, true);
      const r2 = await tagItem(lib, item('src/b.ts'), 'review');
      assert.equal(r2.createdTag, true, 'an unknown name creates the tag');
      await tagItem(lib, item('./src\\a.ts'), r2.tag.id); // by id; the path is normalised
      await tagItem(lib, item('src/c.ts'), idToString(red.id)); // by id as text

      const again = await changesDuring(lib, () => tagItem(lib, item('src/a.ts'), 'urgent'));
      assert.equal(again, 0, 'tagging twice changes nothing');

      assert.deepEqual(
        listTags(lib).map((t) => [t.name, t.count]),
        [
          ['review', 2],
          ['urgent', 2],
        ],
      );
      assert.deepEqual(itemsWithTag(lib, 'urgent'), [item('src/a.ts'), item('src/c.ts')]);
      assert.deepEqual(itemsWithTag(lib, r2.tag.id), [item('src/a.ts'), item('src/b.ts')]);
      assert.deepEqual(
        tagsOf(lib, item('src/a.ts')).map((t) => t.name),
        ['review', 'urgent'],
      );
      assert.deepEqual(tagsOf(lib, { workspaceKey: 'github.com/acme/web', path: 'src/a.ts' }), [], 'another workspace');
      assert.equal(getTag(lib, 'urgent')?.color, 'red');
      assert.equal(getTag(lib, 'nothing'), null);

      assert.equal(await untagItem(lib, item('src/a.ts'), 'urgent'), true);
      assert.equal(await untagItem(lib, item('src/a.ts'), 'urgent'), false);
      assert.deepEqual(itemsWithTag(lib, 'urgent'), [item('src/c.ts')]);
      await assert.rejects(untagItem(lib, item('src/a.ts'), 'nothing'), NotFoundError);
      // the changes are shared: in the peer log, to sync
      assert.ok(lib.read((r) => lib.log.size(r)) >= 7);
    });

    it('lets two tags share a name, and asks for the id when a name is ambiguous', async () => {
      const a = await createTag(lib, { name: 'todo', color: 'red' });
      const b = await createTag(lib, { name: 'todo', color: 'blue' });
      assert.equal(findTags(lib, 'todo').length, 2);
      const err = await tagItem(lib, item('x'), 'todo').then(
        () => assert.fail('ambiguous'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof AmbiguousNameError);
      assert.match(err.message, /2 tags are named "todo"; use the id of the one you mean/);
      assert.ok(err.message.includes(idToString(a.id)) && err.message.includes(idToString(b.id)));
      assert.deepEqual(err.ids.map(idToString).sort(), [idToString(a.id), idToString(b.id)].sort());
      assert.throws(() => itemsWithTag(lib, 'todo'), AmbiguousNameError);
      await assert.rejects(renameTag(lib, 'todo', 'x'), AmbiguousNameError);
      assert.equal(lib.counts().tag_assignment, 0, 'nothing was written');

      await tagItem(lib, item('x'), b.id);
      assert.deepEqual(tagsOf(lib, item('x')).map((t) => t.color), ['blue']);
      assert.deepEqual(
        listTags(lib).map((t) => [t.name, t.color, t.count]).sort(),
        [
          ['todo', 'blue', 1],
          ['todo', 'red', 0],
        ],
      );
      // renaming one makes both names unique again
      await renameTag(lib, a.id, 'later');
      await tagItem(lib, item('y'), 'todo');
      assert.deepEqual(itemsWithTag(lib, 'todo'), [item('x'), item('y')]);
    });

    it('renames, recolors and deletes (with the tag’s assignments)', async () => {
      const t = (await tagItem(lib, item('a'), 'wip')).tag;
      await tagItem(lib, item('b'), 'wip');
      await tagItem(lib, item('b'), 'keep');
      const renamed = await renameTag(lib, 'wip', 'in progress');
      assert.equal(renamed.name, 'in progress');
      assert.equal(findTags(lib, 'wip').length, 0);
      const recolored = await recolorTag(lib, t.id, '#ff8800');
      assert.equal(recolored.color, '#ff8800');
      assert.equal(getTag(lib, t.id)?.color, '#ff8800');
      assert.equal((await recolorTag(lib, 'in progress', null)).color, null);
      assert.equal(await changesDuring(lib, () => recolorTag(lib, 'in progress', '')), 0, 'already no color');
      assert.equal(await changesDuring(lib, () => renameTag(lib, 'in progress', 'in progress')), 0);

      assert.equal(await deleteTag(lib, t.id), 2);
      assert.equal(getTag(lib, t.id), null);
      assert.deepEqual(listTags(lib).map((x) => [x.name, x.count]), [['keep', 1]]);
      assert.deepEqual(
        tagsOf(lib, item('b')).map((x) => x.name),
        ['keep'],
      );
      assert.equal(lib.counts().tag_assignment, 1);
      await assert.rejects(deleteTag(lib, t.id), NotFoundError);
      await assert.rejects(deleteTag(lib, 'no such tag'), /No tag named "no such tag"/);
    });

    it('refuses empty and too long names and values with clear messages', async () => {
      await assert.rejects(createTag(lib, { name: '   ' }), /A tag name cannot be empty/);
      await assert.rejects(createTag(lib, { name: 'x'.repeat(257) }), /A tag name is at most 256 characters; this one has 257/);
      await assert.rejects(createTag(lib, { name: 'ok', color: 'c'.repeat(33) }), /A tag color is at most 32 characters/);
      await assert.rejects(tagItem(lib, item('a'), ''), InvalidChangeError);
      await assert.rejects(renameTag(lib, (await createTag(lib, { name: 'ok' })).id, ''), /cannot be empty/);
      await assert.rejects(tagItem(lib, { workspaceKey: '', path: 'a' }, 'ok'), /needs a workspace key/);
      await assert.rejects(tagItem(lib, item('../etc/passwd'), 'ok'), /cannot go up a folder/);
      await assert.rejects(tagItem(lib, item('x'.repeat(4097)), 'ok'), /at most 4096 characters/);
      // an id that names no tag is not taken as a new tag's name
      await assert.rejects(tagItem(lib, item('a'), '00000000-0000-4000-8000-000000000000'), /No tag with id/);
      assert.equal(lib.counts().tag, 1);
      assert.equal(lib.counts().tag_assignment, 0);
    });
  });

  describe('notes and flags', () => {
    it('sets, reads and clears a note, the favorite and hidden flags, each on its own', async () => {
      const a = item('docs/design.md');
      assert.deepEqual(getMetadata(lib, a), { note: null, favorite: false, hidden: false });
      await setNote(lib, a, 'Read before changing the protocol');
      await setFavorite(lib, a, true);
      assert.deepEqual(getMetadata(lib, a), { note: 'Read before changing the protocol', favorite: true, hidden: false });
      await setHidden(lib, a, true);
      await setNote(lib, a, 'Updated');
      assert.deepEqual(getMetadata(lib, a), { note: 'Updated', favorite: true, hidden: true });

      // each setter changes just its field (so edits on two machines merge per field)
      const changes: { op: string; data: Record<string, unknown> }[] = [];
      lib.on('committed', (c) => changes.push(...c.shared));
      await setFavorite(lib, a, false);
      assert.deepEqual(
        changes.map((c) => [c.op, Object.keys(c.data)]),
        [['update', ['favorite']]],
      );
      assert.deepEqual(getMetadata(lib, a), { note: 'Updated', favorite: false, hidden: true });

      await setNote(lib, a, null);
      assert.equal(getNote(lib, a), null);
      await setNote(lib, a, 'again');
      await setNote(lib, a, '');
      assert.equal(getNote(lib, a), null, "'' clears the note");
      assert.equal(lib.counts().user_metadata, 1, 'one row per item, never deleted');
    });

    it('writes nothing when nothing changes', async () => {
      const a = item('x.ts');
      assert.equal(await changesDuring(lib, () => setNote(lib, a, null)), 0, 'clearing a note that was never set');
      assert.equal(await changesDuring(lib, () => setFavorite(lib, a, false)), 0);
      assert.equal(await changesDuring(lib, () => setHidden(lib, a, false)), 0);
      assert.equal(lib.counts().user_metadata, 0);
      assert.equal(await changesDuring(lib, () => setFavorite(lib, a, true)), 1);
      assert.equal(await changesDuring(lib, () => setFavorite(lib, a, true)), 0);
      assert.equal(await changesDuring(lib, () => setNote(lib, a, 'n')), 1);
      assert.equal(await changesDuring(lib, () => setNote(lib, a, 'n')), 0);
      assert.equal(await changesDuring(lib, () => setHidden(lib, a, false)), 0);
    });

    it('lists favorites and refuses bad input clearly', async () => {
      await setFavorite(lib, item('b'), true);
      await setFavorite(lib, item('a'), true);
      await setFavorite(lib, item('c'), true);
      await setFavorite(lib, item('c'), false);
      await setNote(lib, item('d'), 'not a favorite');
      assert.deepEqual(favoriteItems(lib), [item('a'), item('b')]);
      await assert.rejects(setNote(lib, item('a'), 'n'.repeat(65537)), /A note is at most 65536 characters; this one has 65537/);
      await assert.rejects(setFavorite(lib, item('a'), 'yes' as unknown as boolean), /favorite must be true or false/);
      await assert.rejects(setNote(lib, { workspaceKey: WK } as unknown as ItemKey, 'n'), /needs a path/);
    });
  });

  describe('albums', () => {
    it('creates albums, adds items in order, lists with counts, removes, renames and deletes', async () => {
      const reading = await createAlbum(lib, { name: 'Reading list', description: 'later' });
      assert.equal(reading.description, 'later');
      await createAlbum(lib, { name: 'Working set' });
      assert.deepEqual((await addToAlbum(lib, 'Reading list', item('docs/b.md'))).added, true);
      await addToAlbum(lib, reading.id, item('docs/a.md'));
      await addToAlbum(lib, idToString(reading.id), item('src/z.ts'));
      assert.equal((await addToAlbum(lib, 'Reading list', item('docs/b.md'))).added, false, 'already there');
      await addToAlbum(lib, 'Working set', item('src/z.ts'));
      assert.deepEqual(albumItems(lib, 'Reading list'), [item('docs/b.md'), item('docs/a.md'), item('src/z.ts')], 'in the order added');
      assert.deepEqual(
        listAlbums(lib).map((a) => [a.name, a.count]),
        [
          ['Reading list', 3],
          ['Working set', 1],
        ],
      );
      assert.equal(await removeFromAlbum(lib, 'Reading list', item('docs/b.md')), true);
      assert.equal(await removeFromAlbum(lib, 'Reading list', item('docs/b.md')), false);
      await addToAlbum(lib, 'Reading list', item('docs/b.md'));
      assert.deepEqual(albumItems(lib, 'Reading list'), [item('docs/a.md'), item('src/z.ts'), item('docs/b.md')], 'added again: at the end');

      const renamed = await renameAlbum(lib, 'Reading list', 'To read');
      assert.equal(renamed.name, 'To read');
      assert.deepEqual(findAlbums(lib, 'Reading list'), []);
      assert.equal(getAlbum(lib, 'To read')?.description, 'later');

      assert.equal(await deleteAlbum(lib, 'To read'), 3);
      assert.equal(getAlbum(lib, reading.id), null);
      assert.deepEqual(listAlbums(lib).map((a) => [a.name, a.count]), [['Working set', 1]]);
      assert.equal(lib.counts().album_item, 1);
      assert.throws(() => albumItems(lib, reading.id), NotFoundError);
    });

    it('does not create albums implicitly, and asks for the id when a name is ambiguous', async () => {
      await assert.rejects(addToAlbum(lib, 'Nope', item('a')), /No album named "Nope"/);
      assert.equal(lib.counts().album, 0);
      const one = await createAlbum(lib, { name: 'Set' });
      const two = await createAlbum(lib, { name: 'Set' });
      await assert.rejects(addToAlbum(lib, 'Set', item('a')), AmbiguousNameError);
      await assert.rejects(deleteAlbum(lib, 'Set'), /2 albums are named "Set"/);
      await addToAlbum(lib, two.id, item('a'));
      assert.deepEqual(albumItems(lib, two.id), [item('a')]);
      assert.deepEqual(albumItems(lib, one.id), []);
      await assert.rejects(createAlbum(lib, { name: '' }), /An album name cannot be empty/);
      await assert.rejects(renameAlbum(lib, one.id, 'y'.repeat(300)), /An album name is at most 256 characters; this one has 300/);
    });
  });
});
