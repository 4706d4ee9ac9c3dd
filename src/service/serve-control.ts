/**
 * Puts a running EngineService on its data directory's control channel:
 * listens on the endpoint with every service method, and pushes the
 * service's events to subscribers. Closing what it returns stops both.
 */
import { controlEndpoint } from './control-endpoint';
import { ControlServer } from './control-server';
import type { EngineService } from './engine-service';
import type { MethodTable } from './method-table';
import { serviceMethods } from './methods';
import { SERVICE_EVENTS } from './service-events';

export interface ServeControlOptions {
  /** Default: the data directory's endpoint (controlEndpoint). */
  endpoint?: string;
  /** Default: serviceMethods(service). */
  methods?: MethodTable;
  log?: (line: string) => void;
}

export interface ServiceControl {
  readonly server: ControlServer;
  readonly endpoint: string;
  /** Stops forwarding events, closes every connection and removes the socket. */
  close(): Promise<void>;
}

export async function serveControl(service: EngineService, opts: ServeControlOptions = {}): Promise<ServiceControl> {
  const server = await ControlServer.listen({
    endpoint: opts.endpoint ?? controlEndpoint(service.dataDir),
    methods: opts.methods ?? serviceMethods(service),
    log: opts.log,
  });
  const offs = SERVICE_EVENTS.map((event) => service.on(event, (data: unknown) => server.publish(event, data)));
  return {
    server,
    endpoint: server.endpoint,
    close() {
      for (const off of offs.splice(0)) off();
      return server.close();
    },
  };
}
