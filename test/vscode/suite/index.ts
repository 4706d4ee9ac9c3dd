/**
 * Test runner inside the extension host: VS Code calls run() because the
 * workbench was opened with extensionTestsPath pointing at the bundle of this
 * file. Runs every *.test.js bundled beside it with mocha, logs one line per
 * test (the console reaches the harness through the workbench), and writes the
 * counts and failures to $LEADERLESS_TEST_RESULTS for the harness to print.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export interface TestResults {
  passed: number;
  failed: number;
  pending: number;
  failures: { title: string; error: string }[];
  tests: { title: string; state: string; durationMs: number }[];
}

export function writeResults(results: TestResults): void {
  const file = process.env.LEADERLESS_TEST_RESULTS;
  if (file) writeFileSync(file, JSON.stringify(results, null, 2));
}

export function run(): Promise<void> {
  // mocha 12 is an ES module whose CommonJS build sits here; requiring it
  // directly keeps the extension host's module loader out of ESM.
  const Mocha = require('mocha/lib/mocha.cjs') as typeof import('mocha');
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false, reporter: LineReporter as never });
  if (process.env.LEADERLESS_TEST_GREP) mocha.grep(process.env.LEADERLESS_TEST_GREP);
  const files = (readdirSync(__dirname, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.test.js'))
    .sort();
  for (const f of files) mocha.addFile(path.join(__dirname, f));

  const results: TestResults = { passed: 0, failed: 0, pending: 0, failures: [], tests: [] };
  return new Promise((resolve, reject) => {
    let runner: import('mocha').Runner;
    try {
      runner = mocha.run((failures: number) => {
        writeResults(results);
        if (failures > 0) reject(new Error(`${failures} test(s) failed`));
        else resolve();
      });
    } catch (e) {
      // A test file that throws while loading fails the run with its error.
      results.failed++;
      results.failures.push({ title: 'loading the test files', error: errorText(e) });
      writeResults(results);
      reject(e);
      return;
    }
    const { EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;
    runner.on(EVENT_TEST_PASS, (t: import('mocha').Test) => {
      results.passed++;
      results.tests.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration ?? 0 });
    });
    runner.on(EVENT_TEST_FAIL, (t: import('mocha').Test, err: unknown) => {
      results.failed++;
      results.failures.push({ title: t.fullTitle(), error: errorText(err) });
      results.tests.push({ title: t.fullTitle(), state: 'failed', durationMs: t.duration ?? 0 });
    });
    runner.on(EVENT_TEST_PENDING, (t: import('mocha').Test) => {
      results.pending++;
      results.tests.push({ title: t.fullTitle(), state: 'pending', durationMs: 0 });
    });
  });
}

/** One console line per test: the extension host has no terminal for mocha's usual reporters. */
class LineReporter {
  constructor(runner: import('mocha').Runner) {
    const c = (require('mocha/lib/mocha.cjs') as typeof import('mocha')).Runner.constants;
    runner.on(c.EVENT_TEST_PASS, (t: import('mocha').Test) => console.log(`  ok   ${t.fullTitle()} (${t.duration ?? 0} ms)`));
    runner.on(c.EVENT_TEST_FAIL, (t: import('mocha').Test, err: unknown) =>
      console.log(`  FAIL ${t.fullTitle()}\n${indent(errorText(err))}`),
    );
    runner.on(c.EVENT_TEST_PENDING, (t: import('mocha').Test) => console.log(`  skip ${t.fullTitle()}`));
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `       ${l}`)
    .join('\n');
}
