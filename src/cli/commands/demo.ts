/** `leaderless demo`: the engine end to end over the in-memory transport (what `npm start` runs). */
import type { Command } from '../command';
import { runDemo } from '../demo';

export const demo: Command = {
  name: 'demo',
  summary: 'Two devices sync: backfill, live change, offline edits merged',
  description: 'Runs two devices of one library in a temporary folder over the in-memory transport\n(no network, nothing kept): backfill with progress, a live change, offline edits merged.',
  async run(ctx) {
    await runDemo(ctx.out);
  },
};
