/** Reading and printing the results file the in-host runner writes (suite/index.ts). */
import { existsSync, readFileSync } from 'node:fs';
import type { TestResults } from '../suite/index';

export function readResults(file: string): TestResults | null {
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as TestResults;
}

/** Prints the failures and the closing `N passed, N failed` line; returns the process exit code. */
export function reportResults(results: TestResults | null, runnerExit: number | null): number {
  if (!results) {
    console.log(`\nno results were written (test runner exit: ${runnerExit ?? 'none'})`);
    console.log('0 passed, 1 failed');
    return 1;
  }
  if (results.failures.length) {
    console.log('\nfailures:');
    results.failures.forEach((f, i) => console.log(`\n${i + 1}) ${f.title}\n${f.error}`));
  }
  const skipped = results.pending ? `, ${results.pending} skipped` : '';
  console.log(`\n${results.passed} passed, ${results.failed} failed${skipped}`);
  return results.failed > 0 || (runnerExit !== null && runnerExit !== 0) ? 1 : 0;
}
