/**
 * The baselines of bench:net: plain Hyperswarm between two processes on the
 * same local testnet, no engine. One process is run as the server
 * (`receive` or `echo`), the other as the client (`send` or `ping`); both
 * print one JSON line when done.
 *
 *   node net-raw.js receive <bootstrap host:port> <topic hex> <bytes>
 *   node net-raw.js send    <bootstrap host:port> <topic hex> <bytes> <chunk bytes>
 *   node net-raw.js echo    <bootstrap host:port> <topic hex> <count>
 *   node net-raw.js ping    <bootstrap host:port> <topic hex> <count> <message bytes> <spacing ms>
 *
 * Throughput: the sender writes `bytes` in chunks of `chunk bytes`, waiting
 * for 'drain' whenever the stream says it is full (as the engine does); the
 * receiver times from the first byte to the last and answers one byte when
 * done. Latency: the pinger sends `count` small messages one at a time,
 * `spacing ms` apart, each after the previous one's echo came back, and
 * reports the round trips (the echo side answers each message as it is).
 *
 * A connection that closes before the run is done (e.g. one that came up on
 * one side only and timed out, see the Hyperswarm notes) is dropped and the
 * run starts over on the next connection.
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
  on(event: 'close', fn: () => void): unknown;
};

type Result = Record<string, number | number[]>;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Runs one attempt on `conn`; resolves with the result, or null if the connection closed first. */
function run(mode: string, conn: Stream, args: string[]): Promise<Result | null> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: Result | null) => {
      if (done) return;
      done = true;
      resolve(r);
    };
    conn.on('close', () => finish(null));
    if (mode === 'receive') {
      const bytes = Number(args[0]);
      let got = 0;
      let first = 0;
      conn.on('data', (b) => {
        if (got === 0) first = performance.now();
        got += b.byteLength;
        if (got >= bytes && !done) {
          const ms = performance.now() - first;
          conn.write(new Uint8Array([1]));
          finish({ bytes: got, ms, MBps: got / 1e6 / (ms / 1000) });
        }
      });
    } else if (mode === 'send') {
      const bytes = Number(args[0]);
      const chunk = new Uint8Array(Number(args[1])).fill(7);
      const t0 = performance.now();
      conn.on('data', () => finish({ bytes, ms: performance.now() - t0 }));
      let sent = 0;
      const pump = () => {
        while (sent < bytes && !done) {
          sent += chunk.byteLength;
          if (!conn.write(chunk)) return void conn.once('drain', pump);
        }
      };
      pump();
    } else if (mode === 'echo') {
      const count = Number(args[0]);
      let n = 0;
      conn.on('data', (b) => {
        conn.write(b);
        if (++n >= count) finish({ echoed: n });
      });
    } else {
      const [count, size, spacing] = args.map(Number);
      const msg = new Uint8Array(size).fill(9);
      const rtts: number[] = [];
      let pending: ((at: number) => void) | null = null;
      conn.on('data', () => pending?.(performance.now()));
      void (async () => {
        for (let i = 0; i < count && !done; i++) {
          await sleep(spacing);
          const t0 = performance.now();
          const at = await new Promise<number>((r) => {
            pending = r;
            conn.write(msg);
          });
          rtts.push(at - t0);
        }
        const warm = rtts.slice(Math.min(50, Math.floor(rtts.length / 10))).sort((a, b) => a - b);
        finish({ count: warm.length, rttP50Ms: percentile(warm, 0.5), rttP99Ms: percentile(warm, 0.99), rttMaxMs: warm[warm.length - 1] });
      })();
    }
  });
}

async function main(): Promise<void> {
  const [mode, bootstrapArg, topicHex, ...args] = process.argv.slice(2);
  if (!['receive', 'send', 'echo', 'ping'].includes(mode)) throw new Error(`unknown mode ${mode}`);
  const [host, port] = bootstrapArg.split(':');
  const net = loadNetModules();
  const swarm = newSwarm(net, { keyPair: keyPairFromSeed(randomBytes(32)), bootstrap: [{ host, port: Number(port) }] }, () => false);
  const topic = Buffer.from(topicHex, 'hex');
  const server = mode === 'receive' || mode === 'echo';
  let busy = false;
  let retries = 0;
  const result = await new Promise<Result>((resolve) => {
    swarm.on('connection', (c) => {
      const conn = c as Stream;
      conn.on('error', () => undefined);
      if (busy) return conn.destroy();
      busy = true;
      void run(mode, conn, args).then((r) => {
        if (r) return resolve(r);
        // Closed before the end: start over on the next connection.
        busy = false;
        retries++;
      });
    });
    const discovery = swarm.join(topic, { server, client: !server });
    // Same-moment joins can miss each other's announcements: look again until connected.
    const retry = setInterval(() => (busy ? undefined : void discovery.refresh().catch(() => undefined)), 1000);
    retry.unref();
  });
  process.stdout.write(JSON.stringify({ ...result, retries }) + '\n');
  // Give the last answer (receive / echo) a moment to leave before the swarm goes.
  if (server) await sleep(200);
  await swarm.destroy();
}

main().catch((e: Error) => {
  process.stderr.write(`net-raw: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
