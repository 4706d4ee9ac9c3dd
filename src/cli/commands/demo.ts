/**
 * `leaderless demo` (what `npm start` runs): two devices of one library, end
 * to end. By default over the real network on a private loopback DHT
 * (pairing by invite code, backfill, live change, offline edits merged);
 * with --memory, or where Hyperswarm cannot load, over the in-memory
 * transport.
 */
import { NetworkUnavailableError } from '../../net/errors';
import type { Command } from '../command';
import { runDemo } from '../demo';
import { runNetworkDemo } from '../network-demo';

export const demo: Command = {
  name: 'demo',
  summary: 'Two devices pair by code and sync: backfill, live change, offline edits merged',
  description: [
    'Runs two devices of one library in a temporary folder (nothing kept) on a private DHT on',
    '127.0.0.1 (nothing leaves this machine): the laptop shows an invite code, the desktop joins',
    'with it over Hyperswarm and backfills with progress, a note arrives live, and edits made',
    'while the desktop is offline merge when it is back. --memory runs the same over the',
    'in-memory transport instead (also the fallback where peer networking is unavailable).',
  ].join('\n'),
  options: [{ name: 'memory', help: 'use the in-memory transport instead of Hyperswarm' }],
  async run(ctx) {
    if (ctx.flag('memory')) return void (await runDemo(ctx.out));
    try {
      await runNetworkDemo(ctx.out);
    } catch (e) {
      if (!(e instanceof NetworkUnavailableError)) throw e;
      ctx.err.write(`leaderless: ${e.message}; running the demo over the in-memory transport instead\n`);
      await runDemo(ctx.out);
    }
  },
};
