/**
 * What a command acts on, from however it was invoked (no `vscode` import;
 * test/unit/views-model.test.ts checks it):
 *
 * - Explorer / editor title context menus: (uri, uris[]) — uris is the
 *   multi-selection (it includes uri), or empty/undefined for one item;
 * - a tree view's context menu or inline action: (node, nodes[]) likewise;
 * - scripts and tests: an absolute path, {path}, {workspace, path}, a
 *   vscode.Uri, a node, or an array of those, as the first argument.
 */
import type { ItemParams } from '../views/engine-types';
import { itemParamsOf, localPathOf, type NodeSpec } from '../views/model';

export interface Target {
  params: ItemParams;
  /** For messages: a file name. */
  label: string;
  /** This device's copy: known path, null when it has none, undefined when not known yet. */
  localPath: string | null | undefined;
  /** The tree node it came from, if any. */
  node?: NodeSpec;
}

export function isNode(x: unknown): x is NodeSpec {
  return typeof x === 'object' && x !== null && 'data' in x && typeof (x as NodeSpec).id === 'string' && typeof (x as NodeSpec).data?.kind === 'string';
}

function isUriLike(x: unknown): x is { scheme: string; fsPath: string } {
  return typeof x === 'object' && x !== null && typeof (x as { scheme?: unknown }).scheme === 'string' && typeof (x as { fsPath?: unknown }).fsPath === 'string';
}

function isAbsolute(p: string): boolean {
  return p.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

function base(p: string): string {
  const parts = p.split(/[\\/]/).filter(Boolean);
  return parts[parts.length - 1] ?? p;
}

/** One target from one argument (null: it names no item). */
export function targetOf(x: unknown): Target | null {
  if (isNode(x)) {
    const params = itemParamsOf(x.data);
    return params ? { params, label: x.label, localPath: localPathOf(x.data), node: x } : null;
  }
  if (isUriLike(x)) return x.scheme === 'file' ? { params: { path: x.fsPath }, label: base(x.fsPath), localPath: x.fsPath } : null;
  if (typeof x === 'string') return isAbsolute(x) ? { params: { path: x }, label: base(x), localPath: x } : null;
  if (typeof x === 'object' && x !== null) {
    const o = x as { workspace?: unknown; workspaceKey?: unknown; path?: unknown };
    const ws = typeof o.workspace === 'string' ? o.workspace : typeof o.workspaceKey === 'string' ? o.workspaceKey : undefined;
    if (ws !== undefined) return { params: { workspace: ws, path: typeof o.path === 'string' ? o.path : '' }, label: base(String(o.path ?? ws)) || ws, localPath: undefined };
    if (typeof o.path === 'string' && isAbsolute(o.path)) return { params: { path: o.path }, label: base(o.path), localPath: o.path };
  }
  return null;
}

/** The targets of a command invoked as (first, second, …): the multi-selection when there is one. */
export function resolveTargets(first: unknown, second: unknown): Target[] {
  const list = Array.isArray(second) && second.length > 0 ? second : Array.isArray(first) ? first : first === undefined || first === null ? [] : [first];
  const out: Target[] = [];
  const seen = new Set<string>();
  for (const x of list) {
    const t = targetOf(x);
    if (!t) continue;
    const k = JSON.stringify(t.params);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(t);
  }
  return out;
}

/** "“a.ts”" or "3 items". */
export function targetsLabel(targets: Target[]): string {
  return targets.length === 1 ? `“${targets[0].label}”` : `${targets.length} items`;
}

/** The string argument at `index`, if it is one (menus pass nodes and arrays where scripts pass strings). */
export function stringArg(args: unknown[], index: number): string | undefined {
  const v = args[index];
  return typeof v === 'string' ? v : undefined;
}
