/**
 * The folder the test workbench opens: a few files laid out like a small
 * git checkout. Only `.git/config` of git is there (the extension reads the
 * remote from it without a git binary), so workspace-key logic can be tested.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/** The remote in `.git/config`, and the workspace key it normalises to. */
export const workspaceRemote = 'git@github.com:leaderless-sync/sample-workspace.git';
export const workspaceKey = 'github.com/leaderless-sync/sample-workspace';

const files: Record<string, string> = {
  '.git/HEAD': 'ref: refs/heads/main\n',
  '.git/config':
    '[core]\n\trepositoryformatversion = 0\n\tbare = false\n' +
    `[remote "origin"]\n\turl = ${workspaceRemote}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n` +
    '[branch "main"]\n\tremote = origin\n\tmerge = refs/heads/main\n',
  '.gitignore': 'build/\n*.log\n',
  'README.md': '# Sample workspace\n\nFiles the extension tests tag, note and sync.\n',
  'package.json': '{ "name": "sample-workspace", "version": "1.0.0" }\n',
  'src/index.ts': "export { greet } from './greet';\n",
  'src/greet.ts': 'export function greet(name: string): string {\n  return `hello ${name}`;\n}\n',
  'src/util/strings.ts': 'export const trim = (s: string): string => s.trim();\n',
  'docs/notes.md': '# Notes\n\n- tag me\n',
  'docs/images/diagram.txt': 'boxes and arrows\n',
  'build/output.js': '// ignored by .gitignore\n',
  'debug.log': 'ignored by .gitignore\n',
};

/** Writes the sample workspace into `dir` (created) and returns `dir`. */
export function createWorkspace(dir: string): string {
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return dir;
}
