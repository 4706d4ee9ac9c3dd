/**
 * Control methods for the partners this device syncs with (the Peers view
 * and the status webview). Each takes an optional `library`; a device is
 * given by its id, a unique id prefix (4+ hex digits) or its name, among
 * this device's partners (another device: ERR_NOT_FOUND). Fields are only
 * ever added.
 *
 *   peers → [{device, name, publicKey, online, ready, state, lastSeen: number|null,
 *             backfill: {received, announced}|null, lag: number, holdsLogUntil: number|null, cutOffUntil: number|null,
 *             verified: {state, since: number|null, rows, sealedRows: number|null}, paused: boolean}]
 *       state: 'offline' | 'connecting' (link up, handshake) | 'backfilling' (pulling from it while this
 *       device's first or resync backfill runs) | 'catching-up' | 'ready' | 'paused'.
 *       (While the service is suspended every partner is 'paused'; `paused` says which the user paused one by one.)
 *       ready: caught up at least once on the current link. lastSeen: now while online, else its last
 *       contact (ms). backfill: rows it served in the current (or last) backfill round, null if none.
 *       lag: shared changes in this device's peer log it has not acknowledged yet (kept for it).
 *       holdsLogUntil: when it stops holding the log back unless heard from and acknowledging meanwhile
 *       (ms: its last contact, else when it was paired, or when the oldest entry it has not acknowledged
 *       was logged, whichever is earlier, plus the pruneAbsentAfter horizon; after that its entries may be
 *       pruned and it gets a snapshot for them); null: no horizon.
 *       cutOffUntil: while it is cut off for sending more bad frames or records than the bound, until when
 *       its links are refused (ms; the time doubles each time it is cut off again); null otherwise.
 *       verified: whether what this device holds of the partner's own rows (its device, volumes, locations,
 *       entries) is exactly what it signed. state: 'verified' (since: when first found so, ms) | 'behind'
 *       (it signed newer rows than held here: catching up) | 'unproven' (rows held that no signature of it
 *       covers yet) | 'mismatch' (the rows held are not what it signed: forged or some missing; being
 *       repaired) | 'none' (no rows and no signature of it here). rows: its rows held here; sealedRows: the
 *       rows its newest signature held here states, null if none. As in `status` (PartnerStatus.verified).
 *   backfillFrom {device} → {}   starts a backfill round served by that partner (a full resync with it
 *       preferred: every device-owned checkpoint restarts and the shared rows are merged from a snapshot;
 *       nothing is deleted, merges are idempotent). Progress comes as 'progress' events. The partner must
 *       be online: else ERR_PEER_OFFLINE.
 *   resync → {}   full resync from every partner: the same, served by whoever is online. Durable: it
 *       continues after a restart, and starts when a partner comes online if none is.
 *   peerPause {device} / peerResume {device} → {}   stop / restart syncing with one partner: its link
 *       closes and it is neither dialled nor admitted until resumed. Held in memory by the running
 *       service: it lasts across suspend/resume, and ends when the service restarts.
 *       'peer' events with `paused` say so.
 */
import { idEquals, type Id } from '../../core/ids';
import type { EngineService } from '../engine-service';
import { ServiceError } from '../errors';
import type { MethodTable } from '../method-table';
import type { Params } from '../params';
import { findDevice } from './device-param';

export function peerMethods(service: EngineService): MethodTable {
  const partner = (p: Params): { device: Id; name: string | null } => {
    const lib = service.library(p.optionalString('library'));
    return findDevice(lib.partners(), p.string('device'), `partner of this device in library "${lib.name}"`);
  };

  return {
    peers(p) {
      const peers = service.libraryRunner(p.optionalString('library')).peers();
      // Suspended service (sync paused as a whole): every partner is paused, not just offline.
      if (service.network.state !== 'suspended') return peers;
      return peers.map((x) => (x.state === 'offline' ? { ...x, state: 'paused' as const } : x));
    },

    backfillFrom(p) {
      const ref = p.optionalString('library');
      const { device, name } = partner(p);
      const sync = service.sync(ref);
      const online = sync ? [...sync.liveSessions()].some((s) => s.state !== 'closed' && idEquals(s.remote, device)) : false;
      if (!sync || !online) throw new ServiceError('ERR_PEER_OFFLINE', `${name ?? 'That partner'} is not connected: backfill from it once it is online`);
      const runner = service.libraryRunner(ref);
      // Answered at once; the round reports through 'progress' events and ends in the log.
      sync.backfillFrom(device).catch((e: Error) => runner.activity.error(`backfill from ${name ?? 'a partner'} stopped: ${e.message}`, null, null));
      return {};
    },

    async resync(p) {
      const ref = p.optionalString('library');
      const sync = service.sync(ref);
      if (!sync) {
        // No sync running (suspended, offline): recorded durably, it runs when sync starts.
        await service.library(ref).requestResync();
        return {};
      }
      const runner = service.libraryRunner(ref);
      sync.fullResync().catch((e: Error) => runner.activity.error(`full resync stopped: ${e.message}`, null, null));
      return {};
    },

    peerPause(p) {
      const { device } = partner(p);
      service.libraryRunner(p.optionalString('library')).pausePeer(device);
      return {};
    },

    peerResume(p) {
      const { device } = partner(p);
      service.libraryRunner(p.optionalString('library')).resumePeer(device);
      return {};
    },
  };
}

