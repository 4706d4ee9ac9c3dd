/** `leaderless status`: sync state, partners, backfill progress, log size and digest of each library. */
import type { StatusReport } from '../../service/status';
import type { Command } from '../command';
import { formatStatus } from '../format-status';

export const status: Command = {
  name: 'status',
  summary: "Show sync state, partners, backfill progress, log size and digest",
  description: [
    'Shows the service (running or not, network), then for each library (or the one named',
    'with --library): sync state, partners (online or offline, last seen, the peer-log',
    'entries each holds back and until when, whether its files held here are exactly what',
    'it signed), backfill progress, peer-log size and its absence horizon, parked records,',
    'counts per model and the canonical digest.',
    'With --json, one object: {"service": {...}, "libraries": [{...}]} (fields are only',
    'ever added). Asks the running service if there is one, else reads the libraries',
    'directly (state "stopped").',
  ].join('\n'),
  options: [
    { name: 'json', help: 'print one JSON object' },
    { name: 'no-digest', help: 'skip the digest (it reads every row)' },
  ],
  async run(ctx) {
    const engine = await ctx.engine();
    const report = await engine.call<StatusReport>('status', { library: ctx.globals.library, digest: !ctx.flag('no-digest') });
    ctx.out.write(ctx.flag('json') ? JSON.stringify(report) + '\n' : formatStatus(report));
  },
};
