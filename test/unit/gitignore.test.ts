import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GitIgnore } from '../../src/engine/gitignore';

describe('.gitignore rules', () => {
  const ig = (files: Record<string, string>): GitIgnore => {
    const g = new GitIgnore();
    for (const [base, text] of Object.entries(files)) g.add(base, text);
    return g;
  };

  it('names at any depth, globs, comments and blank lines', () => {
    const g = ig({ '': '# build output\n\n*.log\ncache?\nnode_modules\n' });
    assert.ok(g.ignored('a.log', false));
    assert.ok(g.ignored('src/deep/x.log', false));
    assert.ok(g.ignored('cache1', true));
    assert.ok(g.ignored('pkg/node_modules', true));
    assert.ok(!g.ignored('a.txt', false));
    assert.ok(!g.ignored('cache12', true));
    assert.ok(!g.ignored('# build output', false));
  });

  it('anchored patterns, dir-only patterns, ** and character classes', () => {
    const g = ig({ '': '/dist\nbuild/\ndocs/*.png\n**/tmp\na/**/z\nlogs/**\n*.[oa]\nfile[!0-9].txt\n' });
    assert.ok(g.ignored('dist', true));
    assert.ok(!g.ignored('src/dist', true), '/dist is anchored');
    assert.ok(g.ignored('build', true));
    assert.ok(g.ignored('src/build', true));
    assert.ok(!g.ignored('build', false), 'build/ matches folders only');
    assert.ok(g.ignored('docs/a.png', false));
    assert.ok(!g.ignored('docs/sub/a.png', false), '* stays within one name');
    assert.ok(g.ignored('tmp', true) && g.ignored('x/y/tmp', true));
    assert.ok(g.ignored('a/z', true) && g.ignored('a/b/c/z', true));
    assert.ok(g.ignored('logs/x/y.txt', false) && !g.ignored('logs', true));
    assert.ok(g.ignored('lib.o', false) && g.ignored('lib.a', false) && !g.ignored('lib.c', false));
    assert.ok(g.ignored('filex.txt', false) && !g.ignored('file1.txt', false));
  });

  it('negation re-includes; the last matching pattern decides; escapes', () => {
    const g = ig({ '': '*.log\n!keep.log\n\\#notes\n\\!bang\ntrailing   \n' });
    assert.ok(g.ignored('a.log', false));
    assert.ok(!g.ignored('keep.log', false));
    assert.ok(!g.ignored('sub/keep.log', false));
    assert.ok(g.ignored('#notes', false));
    assert.ok(g.ignored('!bang', false));
    assert.ok(g.ignored('trailing', false), 'trailing spaces are dropped');
    const h = ig({ '': '!keep.log\n*.log\n' });
    assert.ok(h.ignored('keep.log', false), 'a later pattern overrides an earlier negation');
  });

  it('nested .gitignore files are relative to their folder and override the ones above', () => {
    const g = ig({ '': '*.tmp\n', pkg: '/out\n!important.tmp\n', 'pkg/sub': '*.md\n' });
    assert.ok(g.ignored('pkg/out', true));
    assert.ok(!g.ignored('out', true), "pkg's /out is anchored to pkg");
    assert.ok(!g.ignored('pkg/x/out', true));
    assert.ok(g.ignored('pkg/a.tmp', false));
    assert.ok(!g.ignored('pkg/important.tmp', false));
    assert.ok(g.ignored('important.tmp', false), "pkg's negation does not reach the root");
    assert.ok(g.ignored('pkg/sub/readme.md', false) && !g.ignored('pkg/readme.md', false));
  });

  it("reads the repository's .git/info/exclude, which any .gitignore pattern overrides; a folder without one is fine", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'lls-exclude-'));
    try {
      mkdirSync(path.join(root, '.git/info'), { recursive: true });
      writeFileSync(path.join(root, '.git/info/exclude'), '# mine only\nscratch/\n*.local\nkeep.local\n');
      const g = new GitIgnore();
      await g.loadRepoExclude(root);
      g.add('', '!keep.local\n');
      assert.ok(g.ignored('scratch', true));
      assert.ok(g.ignored('src/x.local', false));
      assert.ok(!g.ignored('keep.local', false), 'the .gitignore negation wins over info/exclude');
      assert.ok(!g.ignored('src/x.ts', false));

      const none = new GitIgnore();
      await none.loadRepoExclude(path.join(root, 'nowhere'));
      assert.ok(none.empty);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
