/**
 * The engine's settings as the connection reads them (declared in
 * package.json's contributes.configuration): whether it runs, this device's
 * name, the DHT bootstrap nodes, the clock drift bound and how long an
 * absent partner holds the peer log back.
 *
 * LEADERLESS_TEST_BOOTSTRAP (host:port[,host:port]) overrides the bootstrap
 * setting: the headless VS Code tests point the engine at a local testnet
 * with it, so a test never reaches the public DHT.
 */
import * as os from 'node:os';
import * as vscode from 'vscode';
import { parseHostPort } from '../../cli/global-options';

export const SECTION = 'leaderlessSync';

export interface EngineSettings {
  enable: boolean;
  deviceName: string;
  /** Undefined: Hyperswarm's public bootstrap nodes. */
  bootstrap: { host: string; port: number }[] | undefined;
  maxClockDriftMs: number | undefined;
  /** leaderlessSync.pruneAbsentAfterDays in ms; undefined: the engine's default (30 days). */
  pruneAbsentAfterMs: number | undefined;
  /** false: no networking (LEADERLESS_TEST_BOOTSTRAP set but unusable: a test must never fall back to the public DHT). */
  network: boolean;
  /** Settings that could not be used, for the log. */
  problems: string[];
}

export function readEngineSettings(env: NodeJS.ProcessEnv = process.env): EngineSettings {
  const c = vscode.workspace.getConfiguration(SECTION);
  const problems: string[] = [];
  const name = c.get<string>('deviceName', '');
  const testNodes = env.LEADERLESS_TEST_BOOTSTRAP?.trim();
  const nodes = testNodes ? testNodes.split(',') : c.get<string[]>('bootstrap', []);
  const bootstrap: { host: string; port: number }[] = [];
  for (const n of Array.isArray(nodes) ? nodes : []) {
    if (typeof n !== 'string' || n.trim() === '') continue;
    try {
      bootstrap.push(parseHostPort(n.trim()));
    } catch (e) {
      problems.push(`${testNodes ? 'LEADERLESS_TEST_BOOTSTRAP' : 'leaderlessSync.bootstrap'}: ${(e as Error).message}; ignored`);
    }
  }
  const drift = c.get<number | null>('maxClockDriftSeconds', null);
  let maxClockDriftMs: number | undefined;
  if (typeof drift === 'number' && Number.isFinite(drift) && drift > 0) maxClockDriftMs = Math.round(drift * 1000);
  else if (drift !== null && drift !== undefined) problems.push(`leaderlessSync.maxClockDriftSeconds must be a number above 0; using the default`);
  const days = c.get<number | null>('pruneAbsentAfterDays', null);
  let pruneAbsentAfterMs: number | undefined;
  if (typeof days === 'number' && Number.isFinite(days) && days > 0) pruneAbsentAfterMs = Math.round(days * 86_400_000);
  else if (days !== null && days !== undefined) problems.push(`leaderlessSync.pruneAbsentAfterDays must be a number of days above 0; using the default (30)`);
  const network = !testNodes || bootstrap.length > 0;
  if (!network) problems.push(`LEADERLESS_TEST_BOOTSTRAP holds no usable node (${testNodes}): the engine runs without networking`);
  return {
    network,
    enable: c.get<boolean>('enable', true) !== false,
    deviceName: typeof name === 'string' && name.trim() ? name.trim().slice(0, 256) : os.hostname(),
    bootstrap: bootstrap.length ? bootstrap : undefined,
    maxClockDriftMs,
    pruneAbsentAfterMs,
    problems,
  };
}

/** Whether a change touches the engine's own settings, and which. */
export function engineSettingsChanged(e: vscode.ConfigurationChangeEvent): { enable: boolean; restart: boolean } {
  const has = (k: string) => e.affectsConfiguration(`${SECTION}.${k}`);
  return { enable: has('enable'), restart: has('bootstrap') || has('deviceName') || has('maxClockDriftSeconds') || has('pruneAbsentAfterDays') };
}
