/**
 * Naming a device in a control request: its id, a unique prefix of it (4+
 * hex digits), or its name, among the devices that make sense for the
 * method (every known device, or only this device's partners).
 */
import { NotFoundError } from '../../engine/errors';
import { idEquals, idToString, type Id } from '../../core/ids';
import { InvalidParamsError } from '../errors';

export function findDevice<T extends { device: Id; name: string | null }>(candidates: readonly T[], ref: string, what: string): T {
  const want = ref.toLowerCase().replace(/-/g, '');
  const hex = /^[0-9a-f]+$/.test(want);
  const byId = hex && want.length >= 4 ? candidates.filter((c) => idToString(c.device).replace(/-/g, '').startsWith(want)) : [];
  const found = unique(byId.length ? byId : candidates.filter((c) => c.name === ref));
  if (found.length === 0) throw new NotFoundError(`No ${what} "${ref}" (give its id, an id prefix or its name)`);
  if (found.length > 1) throw new InvalidParamsError(`"${ref}" matches ${found.length} devices (${found.map((f) => idToString(f.device)).join(', ')}): use the device id`);
  return found[0];
}

function unique<T extends { device: Id }>(xs: readonly T[]): T[] {
  const out: T[] = [];
  for (const x of xs) if (!out.some((o) => idEquals(o.device, x.device))) out.push(x);
  return out;
}
