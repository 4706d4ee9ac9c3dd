/**
 * Items in answers, with where they have copies: this device's path
 * (localPath) and every device holding one, so a view can open the file
 * here or say "on <device>".
 */
import { itemCopies, itemMapKey, listDevices } from '../../engine/browse';
import { idKey, idToString } from '../../core/ids';
import type { ItemKey } from '../../engine/items';
import type { Library } from '../../engine/library';

export interface ItemWithCopies {
  workspaceKey: string;
  path: string;
  /** This device's copy (the first location of this device that has it), else null. */
  localPath: string | null;
  /** Devices that have a copy, this one included. */
  devices: { device: string; name: string }[];
}

export function withCopies(lib: Library, items: readonly ItemKey[]): ItemWithCopies[] {
  return lib.read((r) => {
    const copies = itemCopies(r, lib.deviceId, items);
    const names = new Map(listDevices(r, lib.deviceId).map((d) => [idKey(d.device), d.name]));
    return items.map((item) => {
      const c = copies.get(itemMapKey(item));
      return {
        workspaceKey: item.workspaceKey,
        path: item.path,
        localPath: c?.local[0] ?? null,
        devices: (c?.devices ?? []).map((d) => ({ device: idToString(d), name: names.get(idKey(d)) ?? '' })),
      };
    });
  });
}
