/**
 * What the harness (test/vscode/harness/run-tests.ts) hands the tests running
 * inside the extension host, read from the environment it gave code-server.
 */
import * as path from 'node:path';

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the suite with npm run test:vscode`);
  return v;
}

export const testEnv = {
  /** HOST:PORT of the run's local HyperDHT testnet (the engine and CLI peers use it, never the public DHT). */
  get bootstrap(): string {
    return required('LEADERLESS_TEST_BOOTSTRAP');
  },
  /** The repository: the extension under test and dist/cli.js. */
  get repo(): string {
    return required('LEADERLESS_TEST_REPO');
  },
  /** The folder the workbench has open (a small git-like checkout, see harness/workspace.ts). */
  get workspace(): string {
    return required('LEADERLESS_TEST_WORKSPACE');
  },
  /** The workspace key its `.git/config` remote normalises to. */
  get workspaceKey(): string {
    return required('LEADERLESS_TEST_WORKSPACE_KEY');
  },
  /** A scratch folder of this run, removed by the harness afterwards. */
  get tmp(): string {
    return required('LEADERLESS_TEST_TMP');
  },
  /** code-server's --user-data-dir. */
  get userData(): string {
    return required('LEADERLESS_TEST_USER_DATA');
  },
  /** The extension's globalStorage folder (where the engine keeps its data). */
  get globalStorage(): string {
    return path.join(required('LEADERLESS_TEST_USER_DATA'), 'User/globalStorage/leaderless.leaderless-sync');
  },
};

/** Polls `check` every 100 ms until it returns a truthy value or `timeoutMs` passes (views update a moment later). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<Awaited<T>>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<Awaited<T>>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
