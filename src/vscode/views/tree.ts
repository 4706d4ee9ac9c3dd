/**
 * The four tree views (Locations, Tags, Peers, Albums) as one generic
 * provider over NodeSpecs (model.ts) with a loader per view. Children are
 * read when a node is expanded (a big folder comes in pages of
 * `children`'s limit, with a "Show More…" node); a view reloads when its
 * topics fire (library-state.ts coalesces the engine's events) and keeps
 * expansion and selection through the nodes' stable ids.
 */
import * as vscode from 'vscode';
import type { ChildrenJson, DeviceJson, ItemJson, LocationJson, PeerJson, TagWithCount, AlbumWithCount } from './engine-types';
import type { LibraryState, Topic } from './library-state';
import { albumItemNode, albumNode, deviceNode, entryNode, locationNode, moreNode, peerNode, tagNode, taggedItemNode, type NodeSpec } from './model';

export const VIEW_IDS = {
  locations: 'leaderlessSync.locations',
  tags: 'leaderlessSync.tags',
  peers: 'leaderlessSync.peers',
  albums: 'leaderlessSync.albums',
} as const;
export type ViewName = keyof typeof VIEW_IDS;

/** A node with a copy on this device shows it as its resource; a node without gets this scheme (file icons only, no decorations). */
const ICON_ONLY_SCHEME = 'leaderless-item';

export function treeItemOf(n: NodeSpec): vscode.TreeItem {
  const item = new vscode.TreeItem(
    n.label,
    n.collapsible === 'none' ? vscode.TreeItemCollapsibleState.None : n.collapsible === 'expanded' ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed,
  );
  item.id = n.id;
  item.description = n.description;
  if (n.tooltip) item.tooltip = new vscode.MarkdownString(n.tooltip);
  item.contextValue = n.contextValue;
  const isEntry = n.icon?.id === 'file' || n.icon?.id === 'folder';
  if (n.localPath) item.resourceUri = vscode.Uri.file(n.localPath);
  else if (n.iconPath) item.resourceUri = vscode.Uri.from({ scheme: ICON_ONLY_SCHEME, path: '/' + n.iconPath.replace(/^[\\/]+/, '') });
  if (isEntry && item.resourceUri) item.iconPath = n.icon?.id === 'folder' ? vscode.ThemeIcon.Folder : vscode.ThemeIcon.File;
  else if (n.icon) item.iconPath = new vscode.ThemeIcon(n.icon.id, n.icon.color ? new vscode.ThemeColor(n.icon.color) : undefined);
  if (n.data.kind === 'more') {
    item.command = { command: 'leaderlessSync.internal.showMore', title: 'Show More', arguments: [n] };
  } else if (n.localPath && n.icon?.id === 'file') {
    item.command = { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.file(n.localPath)] };
  }
  return item;
}

type Loader = (parent: NodeSpec | undefined) => Promise<NodeSpec[]>;

export class SpecTree implements vscode.TreeDataProvider<NodeSpec>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<NodeSpec | undefined | void>();
  readonly onDidChangeTreeData = this.changed.event;
  view: vscode.TreeView<NodeSpec> | undefined;
  private readonly sub: { dispose(): void };
  private readonly parents = new Map<string, NodeSpec | undefined>();

  constructor(
    readonly name: ViewName,
    protected readonly state: LibraryState,
    private readonly loader: Loader,
    topics: Topic[],
  ) {
    this.sub = state.onChange((t) => {
      if (topics.includes(t)) this.refresh();
    });
  }

  refresh(): void {
    this.changed.fire();
  }

  getTreeItem(n: NodeSpec): vscode.TreeItem {
    return treeItemOf(n);
  }

  getParent(n: NodeSpec): NodeSpec | undefined {
    return this.parents.get(n.id);
  }

  async getChildren(parent?: NodeSpec): Promise<NodeSpec[]> {
    if (!this.state.library) {
      // The view's welcome content says what to do; an engine that runs but does not answer says why here.
      const up = this.state.client.connection === 'owner' || this.state.client.connection === 'client';
      this.setMessage(up && this.state.loadError ? `Could not reach the sync engine: ${this.state.loadError}` : undefined);
      if (this.view) this.view.description = undefined;
      return [];
    }
    try {
      const nodes = await this.loader(parent);
      for (const n of nodes) this.parents.set(n.id, parent);
      if (!parent) this.setMessage(undefined);
      return nodes;
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      this.setMessage(`Could not load this view: ${why}`);
      return [];
    }
  }

  private setMessage(text: string | undefined): void {
    if (this.view && this.view.message !== text) this.view.message = text;
  }

  /** The tree as plain data down to `depth` levels (tests, and the internal snapshot command). */
  async snapshot(depth = 2, parent?: NodeSpec): Promise<SnapshotNode[]> {
    const nodes = await this.getChildren(parent);
    const out: SnapshotNode[] = [];
    for (const n of nodes) {
      const s: SnapshotNode = { id: n.id, label: n.label, description: n.description ?? null, contextValue: n.contextValue ?? null, localPath: n.localPath ?? null, icon: n.icon?.id ?? null };
      if (depth > 1 && n.collapsible !== 'none') s.children = await this.snapshot(depth - 1, n);
      out.push(s);
    }
    return out;
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}

export interface SnapshotNode {
  id: string;
  label: string;
  description: string | null;
  contextValue: string | null;
  localPath: string | null;
  icon: string | null;
  children?: SnapshotNode[];
}

const PAGE = 500;

/** Locations: devices → locations → folders → files; folders load in pages. */
export class LocationsTree extends SpecTree {
  /** How many children of a folder to ask for, by node id (grows with "Show More…"). */
  private readonly limits = new Map<string, number>();

  constructor(state: LibraryState) {
    super('locations', state, (p) => this.load(p), ['data', 'peers']);
  }

  /** Loads more of a folder: its "Show More…" node, or that node's id (tests). */
  showMore(more: NodeSpec | string): void {
    let key: string;
    if (typeof more === 'string') {
      const m = /^location\/([^/]+)\/(.*)\/…more$/.exec(more);
      if (!m) return;
      key = `${m[1]}/${m[2]}`;
    } else if (more.data.kind === 'more') key = `${more.data.location.id}/${more.data.path}`;
    else return;
    this.limits.set(key, (this.limits.get(key) ?? PAGE) * 4);
    this.refresh();
  }

  private async load(parent: NodeSpec | undefined): Promise<NodeSpec[]> {
    const now = Date.now();
    if (!parent) {
      const devices = await this.state.call<DeviceJson[]>('devices');
      return devices.map((d) => deviceNode(d, now));
    }
    const d = parent.data;
    if (d.kind === 'device') {
      const locations = await this.state.call<LocationJson[]>('locations', { device: d.device.device });
      return locations.map(locationNode);
    }
    let location: LocationJson;
    let dir: string;
    if (d.kind === 'location') {
      location = d.location;
      dir = '';
    } else if (d.kind === 'entry' && d.entry.kind === 'dir') {
      location = d.location;
      dir = d.entry.path;
    } else return [];
    const limit = this.limits.get(`${location.id}/${dir}`) ?? PAGE;
    const r = await this.state.call<ChildrenJson>('children', { location: location.id, path: dir, limit });
    const nodes = r.items.map((e) => entryNode(location, e));
    if (r.truncated) nodes.push(moreNode(location, dir, r.items.length));
    return nodes;
  }
}

export class TagsTree extends SpecTree {
  constructor(state: LibraryState) {
    super(
      'tags',
      state,
      async (parent) => {
        if (!parent) {
          const tags = await state.call<TagWithCount[]>('tags');
          return tags.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)).map(tagNode);
        }
        if (parent.data.kind !== 'tag') return [];
        const tag = parent.data.tag;
        const items = await state.call<ItemJson[]>('taggedItems', { tag: tag.id });
        return sortItems(items).map((i) => taggedItemNode(tag, i));
      },
      ['data'],
    );
  }
}

export class AlbumsTree extends SpecTree {
  constructor(state: LibraryState) {
    super(
      'albums',
      state,
      async (parent) => {
        if (!parent) {
          const albums = await state.call<AlbumWithCount[]>('albums');
          return albums.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)).map(albumNode);
        }
        if (parent.data.kind !== 'album') return [];
        const album = parent.data.album;
        // An album keeps its own order.
        const items = await state.call<ItemJson[]>('albumItems', { album: album.id });
        return items.map((i) => albumItemNode(album, i));
      },
      ['data'],
    );
  }
}

export class PeersTree extends SpecTree {
  constructor(state: LibraryState) {
    super('peers', state, (p) => this.load(p), ['peers', 'acks']);
  }

  private async load(parent: NodeSpec | undefined): Promise<NodeSpec[]> {
    if (parent) return [];
    const peers = await this.state.call<PeerJson[]>('peers');
    const now = Date.now();
    // The view's title says it too, so a collapsed Peers view still tells who is online.
    if (this.view) this.view.description = peers.length ? `${peers.filter((p) => p.online).length} of ${peers.length} online` : undefined;
    return peers
      .sort((a, b) => Number(b.online) - Number(a.online) || (a.name ?? '').localeCompare(b.name ?? '') || a.device.localeCompare(b.device))
      .map((p) => peerNode(p, now));
  }
}

function sortItems(items: ItemJson[]): ItemJson[] {
  return [...items].sort((a, b) => Number(!a.localPath) - Number(!b.localPath) || a.path.localeCompare(b.path) || a.workspaceKey.localeCompare(b.workspaceKey));
}
