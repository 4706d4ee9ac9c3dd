import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './tmp';

/** A folder that is a checkout of `remote` (a `.git/config` naming it as origin), with `files` (relative path → content). */
export function checkout(remote: string, files: Record<string, string>): string {
  const dir = tempDir('lls-ws-');
  fs.mkdirSync(path.join(dir, '.git'));
  fs.writeFileSync(path.join(dir, '.git', 'config'), `[remote "origin"]\n\turl = ${remote}\n`);
  for (const [rel, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), body);
  }
  return dir;
}
