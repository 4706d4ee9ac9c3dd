#!/usr/bin/env node
/**
 * `leaderless`: the sync engine as a command-line peer.
 *
 *   leaderless init [--name NAME]     create a library in the data directory
 *   leaderless libraries              list libraries
 *   leaderless status [--json]        counts, log size and digest of a library
 *   leaderless demo                   two devices sync over the in-memory transport
 *
 * Global: --data-dir DIR (default $LEADERLESS_DATA_DIR or ~/.leaderless-sync),
 * --library ID (default: the only library). Exit codes: 0 ok, 1 error, 2 usage.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import { idFromString, idToString } from '../engine/ids';
import { Library, listLibraries } from '../engine/library';
import { runDemo } from './demo';

class UsageError extends Error {}

interface Args {
  command: string;
  positional: string[];
  flags: Map<string, string | true>;
}

function parseArgs(argv: string[]): Args {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const [k, v] = a.slice(2).split('=', 2);
      if (v !== undefined) flags.set(k, v);
      else if (['data-dir', 'library', 'name'].includes(k)) {
        if (i + 1 >= argv.length) throw new UsageError(`--${k} needs a value`);
        flags.set(k, argv[++i]);
      } else flags.set(k, true);
    } else positional.push(a);
  }
  return { command: positional.shift() ?? 'help', positional, flags };
}

const HELP = `Usage: leaderless <command> [options]

Commands:
  init [--name NAME]   Create a new library on this device
  libraries            List the libraries in the data directory
  status [--json]      Show a library's contents, log size and digest
  demo                 Two devices sync: backfill, live change, offline edits merged
  help                 Show this help

Options:
  --data-dir DIR       Where libraries live (default: $LEADERLESS_DATA_DIR or ~/.leaderless-sync)
  --library ID         Which library (default: the only one)
`;

async function pickLibrary(dataDir: string, flag: string | true | undefined): Promise<Library> {
  let id = typeof flag === 'string' ? flag : undefined;
  if (!id) {
    const libs = await listLibraries(dataDir);
    if (libs.length === 0) throw new Error(`No library in ${dataDir}: run "leaderless init" first`);
    if (libs.length > 1) throw new UsageError(`Several libraries in ${dataDir}: choose one with --library ID`);
    id = libs[0].id;
  }
  return Library.open({ dataDir, libraryId: idFromString(id) });
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const dataDir = path.resolve(String(args.flags.get('data-dir') ?? process.env.LEADERLESS_DATA_DIR ?? path.join(os.homedir(), '.leaderless-sync')));
  switch (args.command) {
    case 'help':
    case '--help':
      process.stdout.write(HELP);
      return 0;
    case 'init': {
      await fsp.mkdir(dataDir, { recursive: true });
      const name = String(args.flags.get('name') ?? `${os.userInfo().username}'s library`);
      const lib = await Library.create({ dataDir, name });
      process.stdout.write(`Created library "${name}" (${idToString(lib.id)}) in ${dataDir}\n`);
      await lib.close();
      return 0;
    }
    case 'libraries': {
      const libs = await listLibraries(dataDir);
      if (args.flags.has('json')) process.stdout.write(JSON.stringify(libs) + '\n');
      else for (const l of libs) process.stdout.write(`${l.id}  ${l.name}\n`);
      return 0;
    }
    case 'status': {
      const lib = await pickLibrary(dataDir, args.flags.get('library'));
      try {
        const status = {
          library: idToString(lib.id),
          name: lib.name,
          device: idToString(lib.deviceId),
          counts: lib.counts(),
          logSize: lib.read((r) => lib.log.size(r)),
          parked: lib.parkedCount(),
          digest: lib.digest(),
        };
        if (args.flags.has('json')) process.stdout.write(JSON.stringify(status) + '\n');
        else {
          process.stdout.write(`${status.name} (${status.library})\nthis device: ${status.device}\n`);
          for (const [k, v] of Object.entries(status.counts)) process.stdout.write(`  ${k.padEnd(15)} ${v}\n`);
          process.stdout.write(`peer log: ${status.logSize} entries, parked: ${status.parked}\ndigest: ${status.digest}\n`);
        }
      } finally {
        await lib.close();
      }
      return 0;
    }
    case 'demo':
      await runDemo(process.stdout);
      return 0;
    default:
      throw new UsageError(`Unknown command "${args.command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`leaderless: ${e.message}\n`);
    if (e instanceof UsageError) process.stderr.write(`Run "leaderless help" for usage.\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
