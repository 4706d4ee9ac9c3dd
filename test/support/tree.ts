import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/** Creates files (string content) and folders (null) under `root`, from '/'-separated relative paths. */
export function tree(root: string, spec: Record<string, string | null>): void {
  for (const [rel, content] of Object.entries(spec)) {
    const p = path.join(root, ...rel.split('/'));
    if (content === null) mkdirSync(p, { recursive: true });
    else {
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, content);
    }
  }
}
