/** Child process that opens the store in argv[2], prints `ready` and waits to be killed. */
import { Store } from '../../src/store';

async function main(): Promise<void> {
  await Store.open({ dir: process.argv[2], migrations: [] });
  process.stdout.write('ready\n');
  setInterval(() => undefined, 60_000);
}

main().catch((e) => {
  process.stderr.write(`lock child failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
