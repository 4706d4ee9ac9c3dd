import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ENGINE_THREAD_NICE } from '../../src/worker/thread-priority';

/** Runs lowerThreadPriority() in a worker thread; resolves with its answer and that thread's nice value. */
function inWorker(): Promise<{ said: string; nice: number | null }> {
  const file = path.join(__dirname, '../../src/worker/thread-priority.ts');
  const code = `
    require('tsx/cjs');
    const { readlinkSync } = require('node:fs');
    const os = require('node:os');
    const { lowerThreadPriority } = require(${JSON.stringify(file)});
    const said = lowerThreadPriority();
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    require('node:worker_threads').parentPort.postMessage({ said, nice: os.getPriority(tid) });`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    w.once('message', (m) => void w.terminate().then(() => resolve(m)));
    w.once('error', reject);
  });
}

describe('engine thread priority', () => {
  it('lowers the worker thread alone (Linux): the process main thread keeps its priority', async function () {
    if (process.platform !== 'linux') this.skip();
    const before = os.getPriority(process.pid);
    const r = await inWorker();
    assert.match(r.said, /nice/);
    assert.equal(r.nice, Math.max(before, ENGINE_THREAD_NICE));
    assert.equal(os.getPriority(process.pid), before, 'the main thread is unchanged');
  });
});
