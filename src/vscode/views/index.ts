/** Placeholder: tree views, decorations, commands and the status bar item land here. */
import type * as vscode from 'vscode';
import type { EngineClient } from '../engine-client';

export function registerViews(_context: vscode.ExtensionContext, _client: EngineClient, _log: vscode.LogOutputChannel): void {}
