/**
 * More VS Code windows on the same engine, for a test: the harness opens
 * and closes them when asked through files in the run's scratch folder
 * (harness/extra-windows.ts). Each window is a page of the same workbench
 * with the extension loaded in its own extension host.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { testEnv, waitFor } from './test-env';

const dir = () => path.join(testEnv.tmp, 'windows');

async function ask(verb: 'open' | 'close', name: string, timeoutMs: number): Promise<void> {
  mkdirSync(dir(), { recursive: true });
  writeFileSync(path.join(dir(), `${verb}-${name}`), '');
  const done = path.join(dir(), `${verb === 'open' ? 'opened' : 'closed'}-${name}`);
  await waitFor(() => existsSync(done) || existsSync(`${done}.error`), `the harness to ${verb} window ${name}`, timeoutMs);
  if (existsSync(`${done}.error`)) throw new Error(`the harness could not ${verb} window ${name}: ${readFileSync(`${done}.error`, 'utf8')}`);
}

/** Opens another window on the test workspace (resolves once its workbench is on screen). */
export const openWindow = (name: string) => ask('open', name, 90_000);

/** Closes a window opened with openWindow, as a user closing it would. */
export const closeWindow = (name: string) => ask('close', name, 30_000);
