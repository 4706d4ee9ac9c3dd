/**
 * What every command has at hand, the command wrapper (errors shown once,
 * calmly; a cancelled input ends the command quietly) and the quick picks
 * several commands share.
 */
import * as vscode from 'vscode';
import type { EngineClient } from '../engine-client';
import type { AlbumWithCount, MemberJson, PeerJson, TagWithCount } from '../views/engine-types';
import type { LibraryState } from '../views/library-state';
import { shortId, type NodeSpec } from '../views/model';
import type { MarkDecorations } from '../views/decorations';
import type { LocationsTree, SpecTree } from '../views/tree';
import { isNode } from './targets';

export interface CommandEnv {
  context: vscode.ExtensionContext;
  client: EngineClient;
  state: LibraryState;
  log: vscode.LogOutputChannel;
  trees: { locations: LocationsTree; tags: SpecTree; peers: SpecTree; albums: SpecTree };
  decorations: MarkDecorations;
  /** The last error a command showed (tests read it through leaderlessSync.internal.lastError). */
  lastError: string | null;
}

/** The user dismissed an input: the command ends without a message. */
export class Cancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

export function orCancel<T>(v: T | undefined): T {
  if (v === undefined) throw new Cancelled();
  return v;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Registers a command whose failures become one error notification
 * ("Could not <what>: why") and a log line; resolves with the command's
 * result, or undefined after a failure or a cancelled input.
 */
export function registerCommand(env: CommandEnv, id: string, what: string, fn: (...args: unknown[]) => Promise<unknown>): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      return await fn(...args);
    } catch (e) {
      if (e instanceof Cancelled) return undefined;
      const why = errorText(e);
      env.lastError = `${id}: ${why}`;
      env.log.warn(`${id} failed: ${why}`);
      const up = env.client.connection === 'owner' || env.client.connection === 'client';
      const text = up ? `Could not ${what}: ${why}` : `Could not ${what}: the sync engine is ${engineWord(env.client)}.`;
      void vscode.window.showErrorMessage(text, 'Show Log').then((b) => b && vscode.commands.executeCommand('leaderlessSync.showLog'));
      return undefined;
    }
  });
}

function engineWord(client: EngineClient): string {
  switch (client.connection) {
    case 'starting':
      return 'still starting; try again in a moment';
    case 'failed':
      return `not running (${client.connectionError ?? 'it could not start'})`;
    default:
      return 'turned off (setting "leaderlessSync.enable")';
  }
}

/** A library must exist for this command. */
export function needLibrary(env: CommandEnv): string {
  const lib = env.state.library;
  if (!lib) throw new Error(env.state.loadError ? `the sync engine is not reachable (${env.state.loadError})` : 'there is no library yet: create one or join one first');
  return lib.library;
}

function refOf(arg: unknown, kind: NodeSpec['data']['kind']): string | undefined {
  if (typeof arg === 'string' && arg) return arg;
  if (isNode(arg) && arg.data.kind === kind) {
    const d = arg.data;
    if (d.kind === 'tag') return d.tag.id;
    if (d.kind === 'album') return d.album.id;
    if (d.kind === 'peer') return d.peer.device;
    if (d.kind === 'device') return d.device.device;
  }
  return undefined;
}

export async function pickTag(env: CommandEnv, arg: unknown, placeHolder: string): Promise<{ id: string; name: string; color: string | null; count: number }> {
  const tags = await env.state.call<TagWithCount[]>('tags');
  const ref = refOf(arg, 'tag');
  if (ref !== undefined) {
    const t = tags.find((x) => x.id === ref) ?? tags.find((x) => x.name === ref);
    if (!t) throw new Error(`no tag "${ref}"`);
    return t;
  }
  if (!tags.length) throw new Error('there are no tags yet');
  const pick = await vscode.window.showQuickPick(
    tags.sort((a, b) => a.name.localeCompare(b.name)).map((t) => ({ label: `$(tag) ${t.name}`, description: `${t.count} item${t.count === 1 ? '' : 's'}${t.color ? ` · ${t.color}` : ''}`, tag: t })),
    { placeHolder, matchOnDescription: true },
  );
  return orCancel(pick).tag;
}

export async function pickAlbum(env: CommandEnv, arg: unknown, placeHolder: string): Promise<AlbumWithCount> {
  const albums = await env.state.call<AlbumWithCount[]>('albums');
  const ref = refOf(arg, 'album');
  if (ref !== undefined) {
    const a = albums.find((x) => x.id === ref) ?? albums.find((x) => x.name === ref);
    if (!a) throw new Error(`no album "${ref}"`);
    return a;
  }
  if (!albums.length) throw new Error('there are no albums yet');
  const pick = await vscode.window.showQuickPick(
    albums.sort((a, b) => a.name.localeCompare(b.name)).map((a) => ({ label: `$(library) ${a.name}`, description: `${a.count} item${a.count === 1 ? '' : 's'}`, album: a })),
    { placeHolder },
  );
  return orCancel(pick).album;
}

/** A partner device: from a Peers or Locations node, an id / id prefix / name, or a quick pick. */
export async function pickPeer(env: CommandEnv, arg: unknown, placeHolder: string, filter: (p: PeerJson) => boolean = () => true): Promise<{ device: string; name: string }> {
  const ref = refOf(arg, 'peer') ?? refOf(arg, 'device');
  if (ref !== undefined) {
    if (isNode(arg)) return { device: ref, name: arg.label };
    // An id, id prefix or name (the engine resolves it); the name for messages when it is a partner's.
    const all = await env.state.call<PeerJson[]>('peers').catch(() => [] as PeerJson[]);
    const p = all.find((x) => x.device === ref || x.name === ref);
    return { device: ref, name: p?.name || (p ? shortId(p.device) : ref) };
  }
  const peers = (await env.state.call<PeerJson[]>('peers')).filter(filter);
  if (!peers.length) throw new Error('no other device fits: pair one with Invite Device first');
  const pick = await vscode.window.showQuickPick(
    peers
      .sort((a, b) => Number(b.online) - Number(a.online))
      .map((p) => ({ label: `$(${p.online ? 'vm-active' : 'vm-outline'}) ${p.name || shortId(p.device)}`, description: p.online ? 'online' : 'offline', detail: p.device, peer: p })),
    { placeHolder },
  );
  const p = orCancel(pick).peer;
  return { device: p.device, name: p.name || shortId(p.device) };
}

/** A member device other than this one (for unpairing: also ones never seen online). */
export async function pickMember(env: CommandEnv, arg: unknown, placeHolder: string): Promise<{ device: string; name: string }> {
  const ref = refOf(arg, 'peer') ?? refOf(arg, 'device');
  if (ref !== undefined) return { device: ref, name: isNode(arg) ? arg.label : ref };
  const members = (await env.state.call<MemberJson[]>('members')).filter((m) => !m.self && m.live);
  if (!members.length) throw new Error('no other device is paired with this library');
  const pick = await vscode.window.showQuickPick(
    members.map((m) => ({ label: `$(vm) ${m.name || shortId(m.device)}`, detail: m.device, member: m })),
    { placeHolder },
  );
  const m = orCancel(pick).member;
  return { device: m.device, name: m.name || shortId(m.device) };
}

export function flash(text: string): void {
  vscode.window.setStatusBarMessage(text, 4000);
}
