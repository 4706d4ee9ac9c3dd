/**
 * How a one-shot command reaches the engine of a data directory. If a
 * service runs for it (its control socket answers), every call goes there;
 * otherwise the command starts the engine itself, without networking, and
 * runs the very same control methods in-process. Both give the same
 * results and the same errors (codes included), so output and exit codes
 * do not depend on whether `serve` is running.
 */
import * as fs from 'node:fs';
import { ControlClient } from '../service/control-client';
import { controlEndpoint } from '../service/control-endpoint';
import { EngineService } from '../service/engine-service';
import { ControlError, NoLibraryError, ServiceNotRunningError, ServiceRunningError } from '../service/errors';
import { invokeMethod } from '../service/method-table';
import { serviceMethods } from '../service/methods';

export interface EngineAccess {
  /** 'service': a running service answers; 'local': this process opened the data directory. */
  readonly via: 'service' | 'local';
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

/** While a service is starting it holds the data directory but does not answer yet: keep trying this long. */
const STARTING_SERVICE_WAIT_MS = 15_000;
const RETRY_MS = 200;

export interface OpenEngineOptions {
  create?: boolean;
  /** When no service runs: join the swarm in this process too (pairing needs it). Default: no networking. */
  network?: boolean;
  bootstrap?: { host: string; port: number }[];
  log?: (line: string) => void;
}

export async function openEngine(dataDir: string, opts: OpenEngineOptions = {}): Promise<EngineAccess> {
  const endpoint = controlEndpoint(dataDir);
  const deadline = Date.now() + STARTING_SERVICE_WAIT_MS;
  for (;;) {
    try {
      return viaService(await ControlClient.connect(endpoint));
    } catch (e) {
      if (!(e instanceof ServiceNotRunningError)) throw e;
    }
    if (!opts.create && !fs.existsSync(dataDir)) throw new NoLibraryError(dataDir);
    try {
      return viaLocal(await EngineService.start({ dataDir, network: opts.network ?? false, bootstrap: opts.bootstrap, log: opts.log }));
    } catch (e) {
      // Another process holds the data directory: a service starting up (it answers soon) or another command.
      if (!(e instanceof ServiceRunningError) || Date.now() > deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
}

function viaService(client: ControlClient): EngineAccess {
  return {
    via: 'service',
    call: (method, params) => client.call(method, params),
    close: () => client.close(),
  };
}

function viaLocal(service: EngineService): EngineAccess {
  const methods = serviceMethods(service);
  return {
    via: 'local',
    async call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      const outcome = await invokeMethod(methods, method, params, { connection: null });
      if ('error' in outcome) throw new ControlError(outcome.error.code, outcome.error.message);
      return outcome.result as T;
    },
    close: () => service.close(),
  };
}
