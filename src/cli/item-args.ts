/**
 * How item commands name an item: PATH on this machine (made absolute here,
 * since a running service has another current folder), or with
 * `--workspace KEY`, PATH relative to that workspace, which works for items
 * this machine has no copy of (an always-on server, a repository not
 * checked out here).
 */
import * as path from 'node:path';
import type { OptionSpec } from './args';
import type { CommandContext } from './command';

export const WORKSPACE_OPTION: OptionSpec = {
  name: 'workspace',
  value: 'KEY',
  help: "PATH is relative to this workspace (e.g. github.com/acme/api) instead of a path on this machine",
};

/** The item params of a control request for PATH. */
export function itemParams(ctx: CommandContext, p: string): { path: string; workspace?: string } {
  const workspace = ctx.option('workspace');
  return workspace !== undefined ? { workspace, path: p } : { path: path.resolve(p) };
}

export function formatItem(k: { workspaceKey: string; path: string }): string {
  return `${k.workspaceKey}:${k.path}`;
}
