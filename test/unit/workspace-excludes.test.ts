import assert from 'node:assert/strict';
import { Excludes } from '../../src/engine/excludes';
import { excludeGlobs, expandBraces } from '../../src/vscode/workspace-excludes';

describe("VS Code's exclude settings as engine excludes", () => {
  it('takes the files.exclude globs that are on, and leaderlessSync.exclude', () => {
    const globs = excludeGlobs({ '**/.git': true, '**/.DS_Store': true, '**/off': false, '**/*.js': { when: '$(basename).ts' } }, ['dist/', '  ', 7, './tmp']);
    assert.deepEqual(globs, ['**/.git', '**/.DS_Store', 'dist/', 'tmp']);
    const ex = new Excludes(globs);
    assert.ok(ex.matches('a/b/.DS_Store', false) && ex.matches('.git', true) && ex.matches('dist', true) && !ex.matches('src/x.js', false));
  });

  it('expands brace alternatives, nested too', () => {
    assert.deepEqual(expandBraces('**/*.{js,map}'), ['**/*.js', '**/*.map']);
    assert.deepEqual(expandBraces('{a,b{c,d}}/x'), ['a/x', 'bc/x', 'bd/x']);
    assert.deepEqual(expandBraces('no{brace'), ['no{brace']);
    assert.deepEqual(excludeGlobs({ '**/*.{png,jpg}': true }, []), ['**/*.png', '**/*.jpg']);
  });
});
