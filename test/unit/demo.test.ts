import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { runDemo } from '../../src/cli/demo';
import { runNetworkDemo } from '../../src/cli/network-demo';

describe('leaderless demo (the main command)', function () {
  this.timeout(120_000);

  it('backfills, syncs live, merges offline edits and ends with identical digests', async () => {
    let text = '';
    const out = new Writable({
      write(chunk, _enc, cb) {
        text += String(chunk);
        cb();
      },
    });
    await runDemo(out);
    assert.match(text, /desktop: backfilling/);
    assert.match(text, /backfill 20,002 of 20,002 rows \(done\)/);
    assert.match(text, /the tag is "needs review" \(orange\) on both/);
    assert.match(text, /identical/);
  });

  it('over the network: pairs by invite code on a private loopback DHT, backfills, syncs live, merges offline edits', async () => {
    let text = '';
    const out = new Writable({
      write(chunk, _enc, cb) {
        text += String(chunk);
        cb();
      },
    });
    await runNetworkDemo(out);
    assert.match(text, /invite code [0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}/);
    assert.match(text, /paired over Hyperswarm/);
    assert.match(text, /backfill 20,002 of 20,002 rows \(done\)/);
    assert.match(text, /the tag is "needs review" \(orange\) on both/);
    assert.match(text, /identical/);
  });
});
