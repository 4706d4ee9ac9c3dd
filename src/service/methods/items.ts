/**
 * Control methods for what a person does to items: tags, notes, albums
 * (engine/item-ops.ts). Each takes an optional `library`; items are given
 * as in item-param.ts; a tag or album by its id or (unique) name.
 *
 *   tag          {item…, tag}                 → {tag, createdTag, added}
 *   untag        {item…, tag}                 → {removed}
 *   tags                                      → [tag + {count}]
 *   tagsOf       {item…}                      → [tag]
 *   taggedItems  {tag}                        → [{workspaceKey, path, localPath: string|null, devices: [{device, name}]}]
 *                (localPath: this device's copy, else null; devices: those with a copy, see item-copies.ts)
 *   note         {item…}                      → {note, favorite, hidden}
 *   setNote      {item…, text: string|null}   → {note}
 *   albums                                    → [album + {count}]
 *   albumCreate  {name, description?}         → album
 *   albumAdd     {album, item…}               → {album, added}
 *   albumRemove  {album, item…}               → {removed}
 *   albumItems   {album}                      → [{workspaceKey, path, localPath, devices}]  (as taggedItems)
 *   albumRename  {album, name}                → album
 *   albumDelete  {album}                      → {items}  (how many it held)
 */
import * as ops from '../../engine/item-ops';
import type { EngineService } from '../engine-service';
import { InvalidParamsError } from '../errors';
import type { MethodTable } from '../method-table';
import type { Params } from '../params';
import { withCopies } from './item-copies';
import { albumJson, itemParam, tagJson } from './item-param';

export function itemMethods(service: EngineService): MethodTable {
  const lib = (p: Params) => service.library(p.optionalString('library'));
  return {
    async tag(p) {
      const r = await ops.tagItem(lib(p), itemParam(p), p.string('tag'));
      return { tag: tagJson(r.tag), createdTag: r.createdTag, added: r.added };
    },
    async untag(p) {
      return { removed: await ops.untagItem(lib(p), itemParam(p), p.string('tag')) };
    },
    tags: (p) => ops.listTags(lib(p)).map((t) => ({ ...tagJson(t), count: t.count })),
    tagsOf: (p) => ops.tagsOf(lib(p), itemParam(p)).map(tagJson),
    taggedItems(p) {
      const l = lib(p);
      return withCopies(l, ops.itemsWithTag(l, p.string('tag')));
    },

    note: (p) => ops.getMetadata(lib(p), itemParam(p)),
    async setNote(p) {
      const text = p.raw.text;
      if (text !== null && typeof text !== 'string') throw new InvalidParamsError('"text" must be a string, or null to remove the note');
      const l = lib(p);
      const item = itemParam(p);
      await ops.setNote(l, item, text);
      return { note: ops.getNote(l, item) };
    },

    albums: (p) => ops.listAlbums(lib(p)).map((a) => ({ ...albumJson(a), count: a.count })),
    async albumCreate(p) {
      return albumJson(await ops.createAlbum(lib(p), { name: p.string('name'), description: p.optionalString('description') }));
    },
    async albumAdd(p) {
      const r = await ops.addToAlbum(lib(p), p.string('album'), itemParam(p));
      return { album: albumJson(r.album), added: r.added };
    },
    async albumRemove(p) {
      return { removed: await ops.removeFromAlbum(lib(p), p.string('album'), itemParam(p)) };
    },
    albumItems(p) {
      const l = lib(p);
      return withCopies(l, ops.albumItems(l, p.string('album')));
    },
    async albumRename(p) {
      return albumJson(await ops.renameAlbum(lib(p), p.string('album'), p.string('name')));
    },
    async albumDelete(p) {
      return { items: await ops.deleteAlbum(lib(p), p.string('album')) };
    },
  };
}
