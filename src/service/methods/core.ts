/**
 * The service's core control methods: who is running, status, libraries,
 * creating a library, event subscriptions, suspend and resume.
 *
 *   ping                                  → {pid, dataDir, version}
 *   status       {library?, digest?}      → StatusReport (every library, or the one named; per partner
 *                                           `verified`: whether its files held here are exactly what it signed)
 *   libraries                             → LibraryInfo[]
 *   init         {name, deviceName?}      → LibraryInfo of the new library
 *   subscribe    {events?: string[]}      → {events}  (then {event, data} lines arrive)
 *   unsubscribe                           → {}
 *   suspend / resume                      → NetworkStatus
 */
import { APP_VERSION } from '../../engine/library';
import { idToString } from '../../core/ids';
import type { EngineService } from '../engine-service';
import { InvalidParamsError } from '../errors';
import type { MethodTable } from '../method-table';
import { SERVICE_EVENTS } from '../service-events';
import type { StatusReport } from '../status';

export function coreMethods(service: EngineService): MethodTable {
  return {
    ping: () => ({ pid: process.pid, dataDir: service.dataDir, version: APP_VERSION }),

    async status(p, ctx): Promise<StatusReport> {
      const library = p.optionalString('library');
      const digest = p.boolean('digest', true);
      const running = ctx.connection !== null;
      const libraries = library === undefined ? service.statusAll({ digest: false }) : [service.status(library, { digest: false })];
      // The digest reads every row: in pages, yielding between them, so sync keeps running meanwhile.
      if (digest) for (const s of libraries) s.digest = await service.library(s.library).digestAsync();
      return {
        service: {
          running,
          pid: running ? process.pid : null,
          dataDir: service.dataDir,
          publicKey: service.publicKey,
          network: service.network,
          problems: service.problemList(),
        },
        libraries,
      };
    },

    libraries: () => service.libraryInfos(),

    async init(p) {
      const lib = await service.createLibrary({ name: p.string('name'), deviceName: p.optionalString('deviceName') });
      const id = idToString(lib.id);
      return service.libraryInfos().find((l) => l.id === id);
    },

    subscribe(p, ctx) {
      if (!ctx.connection) throw new InvalidParamsError('subscribe needs a control connection to a running service');
      const events = p.optionalStrings('events');
      const unknown = events?.filter((e) => !(SERVICE_EVENTS as readonly string[]).includes(e)) ?? [];
      if (unknown.length) throw new InvalidParamsError(`Unknown event(s): ${unknown.join(', ')}; known: ${SERVICE_EVENTS.join(', ')}`);
      ctx.connection.subscribe(events ?? null);
      return { events: events ?? SERVICE_EVENTS };
    },

    unsubscribe(_p, ctx) {
      ctx.connection?.unsubscribe();
      return {};
    },

    async suspend() {
      await service.suspend();
      return service.network;
    },

    async resume() {
      await service.resume();
      return service.network;
    },
  };
}
