/**
 * The indexer meets a directory it cannot read. Run in-process by an
 * unprivileged user; as root (whom permissions do not stop) the test runs
 * this file as a child under another uid. Args: dataDir folder. Prints the
 * outcome as JSON.
 */
import { chmodSync } from 'node:fs';
import * as path from 'node:path';
import { indexFolder } from '../../src/engine/indexer';
import { Library } from '../../src/engine/library';

export interface UnreadableOutcome {
  first: { entries: number; warnings: string[] };
  second: { entries: number; written: number; deleted: number; warnings: string[] };
  scanState: string | null;
}

/** Indexes `folder` (which has a `locked/` directory), locks `locked/`, indexes again. */
export async function unreadableScenario(dataDir: string, folder: string): Promise<UnreadableOutcome> {
  const lib = await Library.create({ dataDir, name: 'unreadable' });
  try {
    const first = await indexFolder(lib, folder);
    chmodSync(path.join(folder, 'locked'), 0o000);
    try {
      const second = await indexFolder(lib, folder);
      return {
        first: { entries: first.entries, warnings: first.warnings },
        second: { entries: second.entries, written: second.written, deleted: second.deleted, warnings: second.warnings },
        scanState: lib.scanState(second.location)?.state ?? null,
      };
    } finally {
      chmodSync(path.join(folder, 'locked'), 0o755);
    }
  } finally {
    await lib.close();
  }
}

if (require.main === module) {
  const [dataDir, folder] = process.argv.slice(2);
  unreadableScenario(dataDir, folder).then(
    (o) => process.stdout.write(JSON.stringify(o) + '\n'),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
