/**
 * The baseline of bench:net: plain Hyperswarm stream throughput between two
 * processes on the same local testnet, no engine. One process is run as
 * `receive`, the other as `send`; both print one JSON line when done.
 *
 *   node net-raw.js receive <bootstrap host:port> <topic hex> <bytes>
 *   node net-raw.js send    <bootstrap host:port> <topic hex> <bytes> <chunk bytes>
 *
 * The sender writes `bytes` in chunks of `chunk bytes`, waiting for 'drain'
 * whenever the stream says it is full (as the engine does); the receiver
 * times from the first byte to the last and answers one byte when done.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { SecretStream } from '../src/net/hyperswarm-types';
import { keyPairFromSeed } from '../src/net/keys';
import { loadNetModules } from '../src/net/native';
import { newSwarm } from '../src/net/swarm-host';

type Stream = SecretStream & {
  write(b: Uint8Array): boolean;
  once(event: 'drain', fn: () => void): unknown;
  on(event: 'data', fn: (b: Buffer) => void): unknown;
};

async function main(): Promise<void> {
  const [mode, bootstrapArg, topicHex, bytesArg, chunkArg] = process.argv.slice(2);
  const [host, port] = bootstrapArg.split(':');
  const bytes = Number(bytesArg);
  const net = loadNetModules();
  const swarm = newSwarm(net, { keyPair: keyPairFromSeed(randomBytes(32)), bootstrap: [{ host, port: Number(port) }] }, () => false);
  const topic = Buffer.from(topicHex, 'hex');
  const result = await new Promise<Record<string, number>>((resolve) => {
    let taken = false;
    swarm.on('connection', (c) => {
      const conn = c as Stream;
      conn.on('error', () => undefined);
      if (taken) return conn.destroy();
      taken = true;
      if (mode === 'receive') {
        let got = 0;
        let first = 0;
        conn.on('data', (b) => {
          if (got === 0) first = performance.now();
          got += b.byteLength;
          if (got >= bytes) {
            const ms = performance.now() - first;
            conn.write(new Uint8Array([1]));
            resolve({ bytes: got, ms, MBps: got / 1e6 / (ms / 1000) });
          }
        });
      } else {
        const chunk = new Uint8Array(Number(chunkArg)).fill(7);
        const t0 = performance.now();
        conn.on('data', () => resolve({ bytes, ms: performance.now() - t0 }));
        let sent = 0;
        const pump = () => {
          while (sent < bytes) {
            sent += chunk.byteLength;
            if (!conn.write(chunk)) return void conn.once('drain', pump);
          }
        };
        pump();
      }
    });
    const discovery = swarm.join(topic, { server: mode === 'receive', client: mode !== 'receive' });
    // Same-moment joins can miss each other's announcements: look again until connected.
    const retry = setInterval(() => (taken ? clearInterval(retry) : void discovery.refresh().catch(() => undefined)), 1000);
  });
  process.stdout.write(JSON.stringify(result) + '\n');
  await swarm.destroy();
}

main().catch((e: Error) => {
  process.stderr.write(`net-raw: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
