// For `npx @vscode/test-cli` on a machine that can download VS Code.
// CI on the project's own machines runs the same tests in code-server instead (see README).
import { defineConfig } from '@vscode/test-cli';

export default defineConfig({
  files: 'dist/test/extension/**/*.test.js',
  version: '1.100.3',
  mocha: { ui: 'bdd', timeout: 60000 },
});
