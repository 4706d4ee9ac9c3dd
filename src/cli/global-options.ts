/**
 * Options every command takes, and what they resolve to: the data
 * directory, the DHT bootstrap nodes and the library to act on.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { OptionSpec, ParsedArgs } from './args';
import { UsageError } from './exit-codes';

export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { name: 'data-dir', value: 'DIR', help: 'where libraries live (default: $LEADERLESS_DATA_DIR or ~/.leaderless-sync)' },
  { name: 'bootstrap', value: 'HOST:PORT', repeatable: true, help: 'DHT bootstrap node(s), repeatable or comma separated (default: $LEADERLESS_BOOTSTRAP or the public DHT)' },
  { name: 'library', value: 'ID', help: 'which library (its id or a unique prefix; default: the only one)' },
  { name: 'help', short: 'h', help: 'show help' },
];

export interface Globals {
  dataDir: string;
  /** Undefined: Hyperswarm's public bootstrap nodes. */
  bootstrap: { host: string; port: number }[] | undefined;
  library: string | undefined;
}

export function resolveGlobals(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): Globals {
  const dir = args.options.get('data-dir')?.[0] ?? env.LEADERLESS_DATA_DIR ?? path.join(os.homedir(), '.leaderless-sync');
  const nodes = args.options.get('bootstrap') ?? (env.LEADERLESS_BOOTSTRAP ? [env.LEADERLESS_BOOTSTRAP] : []);
  return {
    dataDir: path.resolve(dir),
    bootstrap: nodes.length ? nodes.flatMap((v) => v.split(',')).map((v) => parseHostPort(v.trim())) : undefined,
    library: args.options.get('library')?.[0],
  };
}

/** `host:port`, `[v6addr]:port`. */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new UsageError(`Bad bootstrap node "${s}": expected HOST:PORT (e.g. 127.0.0.1:49737)`);
  return { host: m[1] ?? m[2], port };
}
