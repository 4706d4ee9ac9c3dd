/**
 * Items in control requests and answers. An item is named by `path`, an
 * absolute path on the service's device (inside one of its indexed
 * folders), or by `workspace` plus `path` relative to it, which works for
 * items this device has no copy of. Tags and albums go out with their ids
 * as UUID strings.
 */
import * as path from 'node:path';
import { idToString } from '../../core/ids';
import type { AlbumInfo, ItemRef, TagInfo } from '../../engine/item-ops';
import type { ItemKey } from '../../engine/items';
import { InvalidParamsError } from '../errors';
import type { Params } from '../params';

export function itemParam(p: Params): ItemRef {
  const workspace = p.optionalString('workspace');
  const itemPath = p.optionalString('path');
  if (workspace !== undefined) return { workspaceKey: workspace, path: itemPath ?? '' };
  if (itemPath === undefined || itemPath === '') throw new InvalidParamsError('"path" is required (an absolute path, or a path relative to "workspace")');
  if (!path.isAbsolute(itemPath)) throw new InvalidParamsError(`"path" must be absolute without "workspace" (the service does not know the caller's current folder): ${itemPath}`);
  return itemPath;
}

export interface TagJson {
  id: string;
  name: string;
  color: string | null;
  icon: string | null;
  description: string | null;
  namespace: string | null;
}

export function tagJson(t: TagInfo): TagJson {
  return { id: idToString(t.id), name: t.name, color: t.color, icon: t.icon, description: t.description, namespace: t.namespace };
}

export interface AlbumJson {
  id: string;
  name: string;
  description: string | null;
}

export function albumJson(a: AlbumInfo): AlbumJson {
  return { id: idToString(a.id), name: a.name, description: a.description };
}

export function itemJson(k: ItemKey): { workspaceKey: string; path: string } {
  return { workspaceKey: k.workspaceKey, path: k.path };
}
