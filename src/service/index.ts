/**
 * The engine service (no `vscode` imports): one data directory's engine,
 * its control channel, and a client for other processes.
 */
export { EngineService, DEVICE_KEY_FILE, type EngineServiceOptions, type CreateOptions } from './engine-service';
export type { EngineServiceEvents } from './service-events';
export { SERVICE_EVENTS } from './service-events';
export type { StatusReport, LibraryStatus, PartnerStatus, BackfillStatus, NetworkStatus, NetworkState, ServiceInfo, LibrarySyncState } from './status';
export { controlEndpoint } from './control-endpoint';
export { ControlServer, type ControlServerOptions } from './control-server';
export { ControlClient } from './control-client';
export { serveControl, type ServiceControl, type ServeControlOptions } from './serve-control';
export { serviceMethods } from './methods';
export { invokeMethod, type ControlMethod, type MethodTable, type MethodContext, type ControlConnection } from './method-table';
export { Params } from './params';
export * from './errors';
