/** Placeholder: the sync-status webview lands here. */
import type * as vscode from 'vscode';
import type { EngineClient } from '../engine-client';

export function registerStatusPanel(_context: vscode.ExtensionContext, _client: EngineClient, _log: vscode.LogOutputChannel): void {}
