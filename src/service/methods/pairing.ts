/**
 * Control methods for pairing and membership.
 *
 *   invite        {library?, ttlMinutes?}     → InviteInfo (code shown at once; 'invite' events follow)
 *   inviteWait    {code}                      → InviteInfo once it joined, expired, was revoked or died
 *   revokeInvite  {code}                      → InviteInfo
 *   invites                                   → InviteInfo[]
 *   join          {code, timeoutSeconds?}     → {library, name, partners}
 *   members       {library?}                  → [{device, name, publicKey, live, self}]
 *   unpair        {library?, device}          → {device, name}  (device: id, unique id prefix or name)
 */
import { idEquals, idToString, toHex } from '../../core/ids';
import { NotFoundError } from '../../engine/errors';
import type { EngineService } from '../engine-service';
import { InvalidParamsError } from '../errors';
import type { MethodTable } from '../method-table';

const MAX_TTL_MINUTES = 24 * 60;

export function pairingMethods(service: EngineService): MethodTable {
  const desk = service.pairing;
  return {
    async invite(p) {
      const minutes = p.optionalPositive('ttlMinutes', MAX_TTL_MINUTES);
      return desk.invite(p.optionalString('library'), { ttlMs: minutes === undefined ? undefined : Math.round(minutes * 60_000) });
    },

    inviteWait: (p) => desk.wait(p.string('code')),

    revokeInvite: (p) => desk.revoke(p.string('code')),

    invites: () => desk.list(),

    async join(p) {
      const seconds = p.optionalPositive('timeoutSeconds', 3600);
      return desk.join(p.string('code'), { timeoutMs: seconds === undefined ? undefined : seconds * 1000 });
    },

    members(p) {
      const lib = service.library(p.optionalString('library'));
      return lib.members().map((m) => ({
        device: idToString(m.device),
        name: m.name,
        publicKey: toHex(m.publicKey),
        live: m.live,
        self: idEquals(m.device, lib.deviceId),
      }));
    },

    async unpair(p) {
      const lib = service.library(p.optionalString('library'));
      const ref = p.string('device');
      const known = [
        ...lib.members().filter((m) => m.live).map((m) => ({ device: m.device, name: m.name })),
        ...lib.partners().map((x) => ({ device: x.device, name: x.name ?? '' })),
      ];
      const want = ref.toLowerCase().replace(/-/g, '');
      const byId = known.filter((k) => idToString(k.device).replace(/-/g, '').startsWith(want) && want.length >= 4);
      const byName = known.filter((k) => k.name === ref);
      const found = uniqueDevices(byId.length ? byId : byName);
      if (found.length === 0) throw new NotFoundError(`No paired device "${ref}" in library "${lib.name}"`);
      if (found.length > 1) throw new InvalidParamsError(`"${ref}" matches ${found.length} devices (${found.map((f) => idToString(f.device)).join(', ')}): use the device id`);
      await lib.unpair(found[0].device);
      return { device: idToString(found[0].device), name: found[0].name };
    },
  };
}

function uniqueDevices<T extends { device: Uint8Array }>(xs: T[]): T[] {
  const out: T[] = [];
  for (const x of xs) if (!out.some((o) => idEquals(o.device, x.device))) out.push(x);
  return out;
}
