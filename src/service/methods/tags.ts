/**
 * Control methods for managing tags and favorites from the editor (the Tags
 * view and its commands). Each takes an optional `library`; a tag is given
 * by its id or (unique) name; items as in item-param.ts. Fields are only
 * ever added.
 *
 *   tagCreate    {name, color?, icon?, description?}  → TagJson  (another tag may have the name: tags are told apart by id)
 *   tagRename    {tag, name}                          → TagJson
 *   tagRecolor   {tag, color: string|null}            → TagJson  (null or '' clears it)
 *   tagDelete    {tag}                                → {items}  (how many items carried it; their assignments go with it)
 *   favorite     {item…, favorite: boolean}           → {favorite}
 *   favorites                                         → [{workspaceKey, path, localPath: string|null, devices: [{device, name}]}]
 *
 * (taggedItems and albumItems in items.ts answer the same item shape.)
 * Unknown tag: ERR_NOT_FOUND; a name two tags share: ERR_AMBIGUOUS_NAME;
 * wrong param types: ERR_INVALID_PARAMS; bad values (empty name): ERR_INVALID_CHANGE.
 */
import * as ops from '../../engine/item-ops';
import type { EngineService } from '../engine-service';
import { InvalidParamsError } from '../errors';
import type { MethodTable } from '../method-table';
import type { Params } from '../params';
import { withCopies } from './item-copies';
import { itemParam, tagJson } from './item-param';

export function tagMethods(service: EngineService): MethodTable {
  const lib = (p: Params) => service.library(p.optionalString('library'));
  return {
    async tagCreate(p) {
      return tagJson(
        await ops.createTag(lib(p), {
          name: p.string('name'),
          color: p.optionalString('color'),
          icon: p.optionalString('icon'),
          description: p.optionalString('description'),
        }),
      );
    },
    async tagRename(p) {
      return tagJson(await ops.renameTag(lib(p), p.string('tag'), p.string('name')));
    },
    async tagRecolor(p) {
      if (!('color' in p.raw)) throw new InvalidParamsError('"color" is required (a color, or null to clear it)');
      const color = p.raw.color;
      if (color !== null && typeof color !== 'string') throw new InvalidParamsError('"color" must be a string, or null to clear it');
      return tagJson(await ops.recolorTag(lib(p), p.string('tag'), color));
    },
    async tagDelete(p) {
      return { items: await ops.deleteTag(lib(p), p.string('tag')) };
    },

    async favorite(p) {
      const favorite = p.raw.favorite;
      if (typeof favorite !== 'boolean') throw new InvalidParamsError('"favorite" is required: true or false');
      const l = lib(p);
      const item = itemParam(p);
      await ops.setFavorite(l, item, favorite);
      return { favorite: ops.getMetadata(l, item).favorite };
    },
    favorites(p) {
      const l = lib(p);
      return withCopies(l, ops.favoriteItems(l));
    },
  };
}
