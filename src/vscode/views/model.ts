/**
 * The views' logic without the editor: control-method answers in, plain
 * tree-node descriptions out (labels, descriptions, tooltips, codicon ids,
 * context values, stable ids), plus the status bar's wording. tree.ts turns
 * a NodeSpec into a vscode.TreeItem; everything here runs in plain mocha
 * (test/unit/views-model.test.ts).
 */
import type {
  AlbumWithCount,
  ChildJson,
  DeviceJson,
  ItemJson,
  ItemParams,
  LibraryStatus,
  LocationJson,
  MarkJson,
  PeerJson,
  StatusReport,
  TagJson,
  TagWithCount,
} from './engine-types';
import type { EngineConnectionState } from '../engine-client';

export type NodeData =
  | { kind: 'device'; device: DeviceJson }
  | { kind: 'location'; location: LocationJson }
  | { kind: 'entry'; location: LocationJson; entry: ChildJson }
  | { kind: 'more'; location: LocationJson; path: string; shown: number }
  | { kind: 'tag'; tag: TagWithCount }
  | { kind: 'tagged'; tag: TagJson; item: ItemJson }
  | { kind: 'peer'; peer: PeerJson }
  | { kind: 'album'; album: AlbumWithCount }
  | { kind: 'albumItem'; album: AlbumWithCount; item: ItemJson }
  | { kind: 'message' };

export interface IconSpec {
  /** A codicon id ('folder', 'sync~spin'); 'file' and 'folder' take the file icon theme's icon when the node has a resource. */
  id: string;
  /** A theme color id ('charts.green'). */
  color?: string;
}

export interface NodeSpec {
  /** Stable across refreshes (VS Code keeps expansion and selection by it). */
  id: string;
  label: string;
  description?: string;
  /** Markdown. */
  tooltip?: string;
  icon?: IconSpec;
  contextValue?: string;
  collapsible: 'none' | 'collapsed' | 'expanded';
  /** This device's copy: shown as a resource (file icon theme, Explorer decorations) and opened on click. */
  localPath?: string | null;
  /** A path for the file icon theme only (an item with no copy here). */
  iconPath?: string;
  data: NodeData;
}

// ---------------------------------------------------------------- formatting

export function formatAgo(at: number | null, now: number): string {
  if (at === null) return 'never';
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  const d = Math.round(h / 24);
  return d === 1 ? 'yesterday' : `${d} days ago`;
}

/** One formatter for every count: `n.toLocaleString(locale)` builds a new Intl.NumberFormat on each call (~0.1 ms+, on the extension host's thread). */
const countFormat = new Intl.NumberFormat('en-US');

/** 1,234,567 (digits grouped). */
export function formatNumber(n: number): string {
  return countFormat.format(n);
}

export function formatCount(n: number, one: string, many = `${one}s`): string {
  return `${formatNumber(n)} ${n === 1 ? one : many}`;
}

export function formatSize(bytes: number | null): string {
  if (bytes === null) return '';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** Whole percent of received over announced, never 100 before it is done (null: nothing announced yet). */
export function percent(p: { received: number; announced: number } | null | undefined): number | null {
  if (!p || p.announced <= 0) return null;
  const v = Math.floor((100 * Math.min(p.received, p.announced)) / p.announced);
  return p.received < p.announced ? Math.min(v, 99) : 100;
}

export function shortId(id: string): string {
  return id.replace(/-/g, '').slice(0, 8);
}

function baseName(p: string): string {
  const parts = p.split(/[\\/]/).filter(Boolean);
  return parts.length ? parts[parts.length - 1] : p;
}

function dirName(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return i > 0 ? p.slice(0, i) : '';
}

/*
 * Tooltips are Markdown, and most of what they show comes from other
 * devices (names, workspace keys, paths, tag descriptions): a name like
 * `x](https://…) ![](https://…/pixel.png)` must not become a link or a
 * remote image. So every piece of such text goes in through md() or
 * code(), never as it is.
 */

/** Line breaks and other control characters, which could start a heading, list or code block: shown as a space. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Text for a Markdown tooltip, shown as it is: every ASCII punctuation
 * character backslash-escaped (CommonMark allows that for all of them), so
 * nothing in it is markup: no link, image, HTML, emphasis, and no bare URL
 * or address a GitHub-flavoured renderer would make a link of (`https\:`,
 * `www\.`, `\@` do not start one); on one line.
 */
export function md(text: string): string {
  return text.replace(CONTROL, ' ').replace(/[!-/:-@[-`{-~]/g, '\\$&');
}

/**
 * Text as inline code (ids, workspace keys): fenced with more backticks
 * than any run inside it, so it cannot close the span early, and padded
 * with a space where it starts or ends with a backtick (renderers take one
 * space off each end). Nothing inside a code span is markup.
 */
export function code(text: string): string {
  const flat = text.replace(CONTROL, ' ');
  if (flat === '') return '';
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = /^[` ]|[` ]$/.test(flat) ? ' ' : '';
  return `${fence}${pad}${flat}${pad}${fence}`;
}

// ---------------------------------------------------------------- colors

/** The tag colors the Recolor command offers, in order. */
export const TAG_COLORS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'gray'] as const;

const NAMED: Record<string, string> = {
  red: 'charts.red',
  orange: 'charts.orange',
  yellow: 'charts.yellow',
  green: 'charts.green',
  blue: 'charts.blue',
  purple: 'charts.purple',
  violet: 'charts.purple',
  pink: 'charts.purple',
  magenta: 'charts.purple',
  gray: 'disabledForeground',
  grey: 'disabledForeground',
  black: 'foreground',
  white: 'foreground',
};

/**
 * The theme color id nearest a tag's color: a color name, or '#rgb' /
 * '#rrggbb' mapped by hue onto the chart colors (tree icons only take
 * theme colors). Null for no color or one it cannot read.
 */
export function tagThemeColor(color: string | null | undefined): string | null {
  if (!color) return null;
  const c = color.trim().toLowerCase();
  if (c in NAMED) return NAMED[c];
  const hex = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/.exec(c);
  if (!hex) return null;
  let h = hex[1];
  if (h.length === 3) h = [...h].map((x) => x + x).join('');
  const r = parseInt(h.slice(0, 2), 16) / 255;
  const g = parseInt(h.slice(2, 4), 16) / 255;
  const b = parseInt(h.slice(4, 6), 16) / 255;
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  if (max - min < 0.12) return max > 0.85 || max < 0.15 ? 'foreground' : 'disabledForeground';
  let hue: number;
  if (max === r) hue = ((g - b) / (max - min)) % 6;
  else if (max === g) hue = (b - r) / (max - min) + 2;
  else hue = (r - g) / (max - min) + 4;
  hue = (hue * 60 + 360) % 360;
  if (hue < 15 || hue >= 330) return 'charts.red';
  if (hue < 45) return 'charts.orange';
  if (hue < 70) return 'charts.yellow';
  if (hue < 170) return 'charts.green';
  if (hue < 260) return 'charts.blue';
  return 'charts.purple';
}

// ---------------------------------------------------------------- items

/** How a call names an item from a tree node (null: the node is no item). */
export function itemParamsOf(data: NodeData): ItemParams | null {
  switch (data.kind) {
    case 'entry':
      return { workspace: data.location.workspaceKey, path: data.entry.path };
    case 'tagged':
    case 'albumItem':
      return { workspace: data.item.workspaceKey, path: data.item.path };
    default:
      return null;
  }
}

/** This device's copy of a node's item, when the answer said (undefined: it did not say). */
export function localPathOf(data: NodeData): string | null | undefined {
  switch (data.kind) {
    case 'entry':
      return data.entry.localPath ?? (data.location.self ? joinPath(data.location.path, data.entry.path) : null);
    case 'tagged':
    case 'albumItem':
      return data.item.localPath;
    default:
      return undefined;
  }
}

function joinPath(root: string, rel: string): string {
  if (!rel) return root;
  const sep = root.includes('\\') && !root.includes('/') ? '\\' : '/';
  return root.replace(/[\\/]+$/, '') + sep + rel.split('/').join(sep);
}

function itemContext(kind: 'file' | 'dir', local: boolean, extra: string[]): string {
  return ['item', kind, local ? 'local' : 'remote', ...extra].join(' ');
}

function marksLine(tags: TagJson[], favorite: boolean, note: boolean): string {
  const parts: string[] = [];
  if (favorite) parts.push('★');
  if (tags.length) parts.push(tags.map((t) => `#${t.name}`).join(' '));
  if (note) parts.push('✎');
  return parts.join(' ');
}

// ---------------------------------------------------------------- Locations

export function deviceNode(d: DeviceJson, now: number): NodeSpec {
  const state = d.self ? 'this device' : d.member === false ? 'unpaired' : d.online ? 'online' : `offline · seen ${formatAgo(d.lastSeen, now)}`;
  return {
    id: `device/${d.device}`,
    label: d.name || shortId(d.device),
    description: state,
    tooltip: `**${md(d.name || shortId(d.device))}**${d.self ? ' (this device)' : ''}\n\n${d.self ? 'This device' : d.online ? 'Online' : `Offline, last seen ${formatAgo(d.lastSeen, now)}`} · ${formatCount(d.locations, 'location')}\n\n${code(d.device)}`,
    icon: d.self ? { id: 'device-desktop', color: 'charts.blue' } : d.online ? { id: 'vm-active', color: 'charts.green' } : { id: 'vm-outline', color: 'disabledForeground' },
    contextValue: d.self ? 'device self' : `device ${d.online ? 'online' : 'offline'}`,
    collapsible: d.locations > 0 ? (d.self ? 'expanded' : 'collapsed') : 'none',
    data: { kind: 'device', device: d },
  };
}

export function locationNode(l: LocationJson): NodeSpec {
  const scan = l.scanState === 'scanning' ? 'indexing…' : l.scanState?.startsWith('error') ? 'indexing failed' : '';
  const desc = [l.workspaceKey !== l.name ? l.workspaceKey : '', scan || formatCount(l.entries, 'entry', 'entries')].filter(Boolean).join(' · ');
  return {
    id: `location/${l.id}`,
    label: l.name,
    description: desc,
    tooltip: `**${md(l.name)}** on ${md(l.deviceName)}\n\n${md(l.path)}\n\nWorkspace key: ${code(l.workspaceKey)}${l.scanState?.startsWith('error') ? `\n\nIndexing failed: ${md(l.scanState.slice(6).trim())}` : ''}`,
    icon: { id: 'root-folder' },
    contextValue: `location ${l.self ? 'local' : 'remote'}`,
    collapsible: l.entries > 0 || l.scanState === 'scanning' ? 'collapsed' : 'none',
    data: { kind: 'location', location: l },
  };
}

export function entryNode(l: LocationJson, e: ChildJson): NodeSpec {
  const data: NodeData = { kind: 'entry', location: l, entry: e };
  const local = localPathOf(data) ?? null;
  const extra = [e.favorite ? 'favorite' : '', e.tags.length ? 'hasTags' : '', e.note ? 'hasNote' : ''].filter(Boolean);
  const lines = [`**${md(e.name)}**`, md(l.self ? (local ?? e.path) : `${l.deviceName}: ${joinPath(l.path, e.path)}`)];
  const facts: string[] = [];
  if (e.kind === 'file' && e.size !== null) facts.push(formatSize(e.size));
  if (e.modifiedAt !== null) facts.push(`modified ${new Date(e.modifiedAt).toLocaleString()}`);
  if (facts.length) lines.push(facts.join(' · '));
  if (e.tags.length) lines.push(`Tags: ${e.tags.map((t) => md(t.name)).join(', ')}`);
  if (e.favorite) lines.push('Favorite');
  if (e.note) lines.push('Has a note');
  if (e.symlink) lines.push('Symbolic link');
  if (!l.self) lines.push(local ? `On this device: ${md(local)}` : 'Not on this device');
  return {
    id: `location/${l.id}/${e.path}`,
    label: e.name,
    description: marksLine(e.tags, e.favorite, e.note) || undefined,
    tooltip: lines.join('\n\n'),
    icon: { id: e.kind === 'dir' ? 'folder' : 'file' },
    contextValue: itemContext(e.kind, local !== null, extra),
    collapsible: e.kind === 'dir' ? 'collapsed' : 'none',
    localPath: local,
    iconPath: local ? undefined : e.path || e.name,
    data,
  };
}

export function moreNode(l: LocationJson, dirPath: string, shown: number): NodeSpec {
  return {
    id: `location/${l.id}/${dirPath}/…more`,
    label: 'Show More…',
    description: `${formatCount(shown, 'item')} shown`,
    tooltip: 'This folder holds more items than are shown: load more',
    icon: { id: 'ellipsis' },
    contextValue: 'more',
    collapsible: 'none',
    data: { kind: 'more', location: l, path: dirPath, shown },
  };
}

// ---------------------------------------------------------------- Tags

export function tagNode(t: TagWithCount): NodeSpec {
  const color = tagThemeColor(t.color);
  return {
    id: `tag/${t.id}`,
    label: t.name,
    description: t.count === 0 ? 'no items' : String(t.count),
    tooltip: `**${md(t.name)}**${t.color ? ` (${md(t.color)})` : ''}\n\n${formatCount(t.count, 'item')}${t.description ? `\n\n${md(t.description)}` : ''}`,
    icon: color ? { id: 'tag', color } : { id: 'tag' },
    contextValue: 'tag',
    collapsible: t.count > 0 ? 'collapsed' : 'none',
    data: { kind: 'tag', tag: t },
  };
}

function collectedItemNode(idPrefix: string, item: ItemJson, data: NodeData, ctx: string): NodeSpec {
  const local = item.localPath ?? null;
  const devices = (item.devices ?? []).map((d) => d.name || shortId(d.device));
  const dir = dirName(item.path);
  const where = local ? '' : devices.length ? `on ${devices.join(', ')}` : 'on no device now';
  return {
    id: `${idPrefix}/${item.workspaceKey}/${item.path}`,
    label: baseName(item.path) || item.workspaceKey,
    description: [dir, where].filter(Boolean).join(' · ') || undefined,
    tooltip: [
      `**${md(item.path || item.workspaceKey)}**`,
      `Workspace: ${code(item.workspaceKey)}`,
      local ? `On this device: ${md(local)}` : devices.length ? `Not on this device; on ${md(devices.join(', '))}` : 'No device has it now',
    ].join('\n\n'),
    icon: { id: 'file' },
    contextValue: itemContext('file', local !== null, [ctx]),
    collapsible: 'none',
    localPath: local,
    iconPath: local ? undefined : item.path || item.workspaceKey,
    data,
  };
}

export function taggedItemNode(tag: TagJson, item: ItemJson): NodeSpec {
  return collectedItemNode(`tag/${tag.id}`, item, { kind: 'tagged', tag, item }, 'tagged');
}

// ---------------------------------------------------------------- Albums

export function albumNode(a: AlbumWithCount): NodeSpec {
  return {
    id: `album/${a.id}`,
    label: a.name,
    description: a.count === 0 ? 'empty' : String(a.count),
    tooltip: `**${md(a.name)}**\n\n${formatCount(a.count, 'item')}${a.description ? `\n\n${md(a.description)}` : ''}`,
    icon: { id: 'library' },
    contextValue: 'album',
    collapsible: a.count > 0 ? 'collapsed' : 'none',
    data: { kind: 'album', album: a },
  };
}

export function albumItemNode(album: AlbumWithCount, item: ItemJson): NodeSpec {
  return collectedItemNode(`album/${album.id}`, item, { kind: 'albumItem', album, item }, 'albumItem');
}

// ---------------------------------------------------------------- Peers

export function peerStateText(p: PeerJson, now: number): string {
  if (p.paused) return 'Paused';
  switch (p.state) {
    case 'ready':
      return 'Synced';
    case 'backfilling': {
      const pc = percent(p.backfill);
      return pc === null ? 'Backfilling' : `Backfilling ${pc}%`;
    }
    case 'catching-up':
      return 'Catching up';
    case 'connecting':
      return 'Connecting…';
    case 'paused':
      return 'Paused';
    default:
      return p.online ? 'Online' : `Offline · seen ${formatAgo(p.lastSeen, now)}`;
  }
}

/**
 * Whether what this device holds of a partner's files and folders is exactly
 * what it signed: words for the description ('' when nothing of it is here)
 * and a line for the tooltip (both '' when the engine does not say).
 */
export function peerVerifiedText(p: PeerJson, now: number): { short: string; line: string } {
  const v = p.verified;
  switch (v?.state) {
    case 'verified':
      return {
        short: 'Files verified',
        line: `Files: verified, exactly what it signed${typeof v.since === 'number' ? ` (since ${md(new Date(v.since).toLocaleString())}, ${formatAgo(v.since, now)})` : ''}`,
      };
    case 'behind':
      return { short: 'Files not verified yet', line: `Files: not verified yet, catching up (it signed ${formatCount(v.sealedRows ?? 0, 'record')}; ${formatNumber(v.rows)} here)` };
    case 'unproven':
      return { short: 'Files unproven', line: `Files: not verified, no signature of it covers the ${formatCount(v.rows, 'record')} here yet` };
    case 'mismatch':
      return { short: 'Files do NOT match', line: `Files: do **not** match what it signed (${formatCount(v.rows, 'record')} here, it signed ${formatNumber(v.sealedRows ?? 0)}): forged or missing records, being repaired` };
    case 'none':
      return { short: '', line: 'Files: none here yet' };
    default:
      return { short: '', line: '' };
  }
}

export function peerNode(p: PeerJson, now: number): NodeSpec {
  const name = p.name || shortId(p.device);
  const verified = peerVerifiedText(p, now);
  const desc = [peerStateText(p, now), p.lag > 0 ? `${formatNumber(p.lag)} behind` : '', verified.short].filter(Boolean).join(' · ');
  let icon: IconSpec;
  if (p.paused || p.state === 'paused') icon = { id: 'debug-pause', color: 'disabledForeground' };
  else if (p.state === 'backfilling' || p.state === 'catching-up') icon = { id: 'sync~spin', color: 'charts.blue' };
  else if (p.state === 'connecting') icon = { id: 'loading~spin' };
  else if (p.online) icon = { id: 'vm-active', color: 'charts.green' };
  else icon = { id: 'vm-outline', color: 'disabledForeground' };
  const lines = [
    `**${md(name)}**`,
    `${p.online ? 'Online' : 'Offline'} · ${peerStateText(p, now)}`,
    `Last seen: ${p.online ? 'now' : formatAgo(p.lastSeen, now)}`,
  ];
  if (p.backfill) lines.push(`Backfill: ${formatNumber(p.backfill.received)} of ${formatNumber(p.backfill.announced)} records`);
  lines.push(p.lag > 0 ? `Not yet acknowledged by it: ${formatCount(p.lag, 'change')}` : 'Has every change of this device');
  if (verified.line) lines.push(verified.line);
  lines.push(code(p.device));
  return {
    id: `peer/${p.device}`,
    label: name,
    description: desc,
    tooltip: lines.join('\n\n'),
    icon,
    contextValue: ['peer', p.online ? 'online' : 'offline', p.paused ? 'paused' : 'running'].join(' '),
    collapsible: 'none',
    data: { kind: 'peer', peer: p },
  };
}

// ---------------------------------------------------------------- Explorer decorations

export interface DecorationSpec {
  /** At most 2 characters. */
  badge: string;
  tooltip: string;
  /** Theme color id of the first colored tag. */
  color?: string;
}

export function markDecoration(m: MarkJson): DecorationSpec | null {
  if (!m.favorite && !m.tags.length && !m.note) return null;
  const badge = (m.favorite ? '★' : '') + (m.tags.length ? '#' : m.note && !m.favorite ? '✎' : '');
  const tips: string[] = [];
  if (m.tags.length) tips.push(`Tags: ${m.tags.map((t) => t.name).join(', ')}`);
  if (m.favorite) tips.push('Favorite');
  if (m.note) tips.push('Has a note');
  const color = m.tags.map((t) => tagThemeColor(t.color)).find((c) => c !== null) ?? undefined;
  return { badge, tooltip: tips.join(' · '), ...(color ? { color } : {}) };
}

// ---------------------------------------------------------------- status bar

export interface SyncSummary {
  /** Status bar text with a codicon: '$(sync) Synced'. */
  text: string;
  /** Plain text, one fact a line. */
  tooltip: string;
  severity: 'ok' | 'busy' | 'warning' | 'error';
}

/** The library the views show: the preferred one when it exists, else the first. */
export function pickLibrary(report: StatusReport | null, preferred: string | null): LibraryStatus | null {
  if (!report || report.libraries.length === 0) return null;
  return report.libraries.find((l) => l.library === preferred) ?? report.libraries[0];
}

export function syncSummary(
  connection: EngineConnectionState,
  connectionError: string | null,
  report: StatusReport | null,
  lib: LibraryStatus | null,
  loadError: string | null,
  now: number,
): SyncSummary {
  if (connection === 'stopped') return { text: '$(circle-slash) Sync Off', tooltip: 'Leaderless Sync is turned off (setting "leaderlessSync.enable")', severity: 'warning' };
  if (connection === 'failed') return { text: '$(error) Sync Failed', tooltip: `The sync engine could not start: ${connectionError ?? 'unknown error'}`, severity: 'error' };
  if (connection === 'starting') return { text: '$(sync~spin) Starting…', tooltip: 'The sync engine is starting', severity: 'busy' };
  if (!report) {
    if (loadError) return { text: '$(warning) Sync Unavailable', tooltip: `Could not reach the sync engine: ${loadError}`, severity: 'warning' };
    return { text: '$(sync~spin) Starting…', tooltip: 'Waiting for the sync engine', severity: 'busy' };
  }
  if (!lib) return { text: '$(sync) Set Up Sync', tooltip: 'No library yet: create one, or join one with a code from another device', severity: 'ok' };
  const net = report.service.network;
  const head = `Library "${lib.name}"`;
  const online = lib.partners.filter((p) => p.online).length;
  const peers = lib.partners.length ? `${online} of ${formatCount(lib.partners.length, 'device')} online` : 'No other device paired yet';
  const lines = [head, peers];
  if (lib.logSize > 0) lines.push(`${formatCount(lib.logSize, 'change')} waiting for acknowledgement`);
  if (lib.state === 'failed') return { text: '$(error) Sync Failed', tooltip: [head, lib.error ?? "This device's journal could not be written", 'Free disk space, then reload the window (or restart the service)'].join('\n'), severity: 'error' };
  if (net.state === 'suspended' || lib.state === 'paused') return { text: '$(debug-pause) Sync Paused', tooltip: [head, 'Paused: Resume Sync to go online again'].join('\n'), severity: 'warning' };
  if (net.state === 'unavailable') return { text: '$(debug-disconnect) Offline', tooltip: [head, `No network: ${net.error ?? 'unavailable'}`, 'Changes are kept and sync when the network is back'].join('\n'), severity: 'warning' };
  switch (lib.state) {
    case 'backfilling': {
      const pc = percent(lib.backfill);
      const got = lib.backfill ? `${formatNumber(lib.backfill.received)} of ${formatNumber(lib.backfill.announced)} records` : '';
      return { text: `$(sync~spin) Backfilling${pc === null ? '' : ` ${pc}%`}`, tooltip: [head, `Backfilling${got ? `: ${got}` : ''}`, peers].join('\n'), severity: 'busy' };
    }
    case 'catching-up':
      return { text: '$(sync~spin) Catching Up', tooltip: [head, 'Catching up with the other devices', peers].join('\n'), severity: 'busy' };
    case 'uninitialized':
      return { text: '$(sync~spin) Starting…', tooltip: [head, 'Starting'].join('\n'), severity: 'busy' };
    case 'stopped':
      return { text: '$(circle-slash) Sync Stopped', tooltip: [head, 'The sync service is not running'].join('\n'), severity: 'warning' };
    case 'offline': {
      if (lib.partners.length === 0) return { text: '$(sync) Not Paired', tooltip: [head, 'No other device yet: Invite Device to pair one'].join('\n'), severity: 'ok' };
      const seen = Math.max(...lib.partners.map((p) => p.lastSeen ?? 0));
      return {
        text: '$(debug-disconnect) Offline',
        tooltip: [head, `No other device is online (last seen ${formatAgo(seen || null, now)})`, 'Changes are kept and sync when one is back'].join('\n'),
        severity: 'ok',
      };
    }
    default:
      return { text: '$(sync) Synced', tooltip: [...lines, 'Up to date'].join('\n'), severity: 'ok' };
  }
}

// ---------------------------------------------------------------- invite codes

const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * Checks a typed invite code's form (the engine checks the rest): null when
 * it looks right, else what is wrong. Case, spaces and dashes do not matter;
 * I/L read as 1 and O as 0, as the engine reads them.
 */
export function inviteCodeProblem(input: string): string | null {
  const cleaned = input.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (!cleaned) return 'Enter the code shown on the inviting device (XXXX-XXXX-XXXX)';
  const bad = [...cleaned].find((ch) => !CODE_ALPHABET.includes(ch));
  if (bad !== undefined) return `"${bad}" cannot appear in an invite code (digits and letters except I, L, O and U)`;
  if (cleaned.length < 12) return `An invite code has 12 characters (XXXX-XXXX-XXXX); ${12 - cleaned.length} more`;
  if (cleaned.length > 12) return `An invite code has 12 characters (XXXX-XXXX-XXXX); this one has ${cleaned.length}`;
  return null;
}

/** A well-formed code in its display form XXXX-XXXX-XXXX. */
export function normalizeInviteCode(input: string): string {
  const cleaned = input.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  return cleaned.match(/.{1,4}/g)?.join('-') ?? '';
}
