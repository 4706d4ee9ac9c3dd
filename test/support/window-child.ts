/**
 * A child process standing in for one VS Code window: runs an
 * EngineOwnership on a data directory and speaks JSON lines.
 *
 * stdin:  {op: 'call', id, method, params} | {op: 'stop'} (stops gracefully, then exits)
 * stdout: {type: 'state', state, error, at} | {type: 'event', name, data} | {type: 'answer', id, result | error} | {type: 'log', line}
 *
 * argv: DATA_DIR WORKER_FILE. SIGTERM stops gracefully too.
 */
import * as readline from 'node:readline';
import { EngineOwnership } from '../../src/worker/engine-ownership';

const [dataDir, workerFile] = process.argv.slice(2);
const out = (m: unknown): void => void process.stdout.write(JSON.stringify(m) + '\n');

const own = new EngineOwnership({
  dataDir,
  workerFile,
  config: () => ({ data: { network: false, deviceName: `window-${process.pid}` } }),
  log: (line) => out({ type: 'log', line }),
});
own.on('connection', (state) => out({ type: 'state', state, error: own.error, at: Date.now() }));
own.on('event', (name, data) => out({ type: 'event', name, data }));
own.start();

async function stop(): Promise<void> {
  await own.stop();
  process.exit(0);
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line) as { op: string; id?: number; method?: string; params?: Record<string, unknown> };
  if (m.op === 'stop') void stop();
  else if (m.op === 'call') {
    own.call(m.method!, m.params ?? {}).then(
      (result) => out({ type: 'answer', id: m.id, result }),
      (e: Error & { code?: string }) => out({ type: 'answer', id: m.id, error: { code: e.code, message: e.message } }),
    );
  }
});
process.on('SIGTERM', () => void stop());
