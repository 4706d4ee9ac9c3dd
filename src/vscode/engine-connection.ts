/** Placeholder: the engine host (worker ownership, control-socket clients, takeover) lands here. */
import type * as vscode from 'vscode';
import type { EngineClient, EngineConnectionState } from './engine-client';

export function startEngineConnection(_context: vscode.ExtensionContext, _log: vscode.LogOutputChannel): EngineClient {
  const state: EngineConnectionState = 'stopped';
  return {
    connection: state,
    connectionError: null,
    onConnection: () => ({ dispose() {} }),
    call: () => Promise.reject(new Error('The engine is not available yet')),
    onEvent: () => ({ dispose() {} }),
  };
}
