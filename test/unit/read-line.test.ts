/**
 * Reading one line for a command (the invite code of `leaderless join`
 * without CODE): a prompt on a terminal, the first line of a pipe.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { readOneLine, type LineInput } from '../../src/cli/read-line';

function input(tty: boolean): PassThrough & LineInput {
  const s = new PassThrough() as PassThrough & LineInput;
  s.isTTY = tty;
  return s;
}

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, text: () => text };
}

describe('reading one line from stdin', () => {
  it('on a terminal: prompts on stderr, returns the line as typed, and leaves the terminal open', async () => {
    const tty = input(true);
    const err = sink();
    const line = readOneLine(tty, { prompt: 'Invite code: ', promptTo: err.stream });
    assert.equal(err.text(), 'Invite code: ');
    tty.write('ab');
    tty.write('cd-EFGH\r\nmore');
    assert.equal(await line, 'abcd-EFGH');
    assert.equal(tty.destroyed, false);
    assert.equal(tty.listenerCount('data'), 0, 'stops reading');
  });

  it('from a pipe: no prompt, the first line only, and the pipe is let go', async () => {
    const pipe = input(false);
    const err = sink();
    const line = readOneLine(pipe, { prompt: 'Invite code: ', promptTo: err.stream });
    pipe.end('CODE\nsecond line\n');
    assert.equal(await line, 'CODE');
    assert.equal(err.text(), '');
    assert.equal(pipe.destroyed, true);
  });

  it('nothing before the end is null; a last line without a newline counts; a long line is cut', async () => {
    const empty = input(false);
    const none = readOneLine(empty);
    empty.end();
    assert.equal(await none, null);
    const last = input(false);
    const l = readOneLine(last);
    last.end('no newline');
    assert.equal(await l, 'no newline');
    const long = input(false);
    const cut = readOneLine(long, { maxBytes: 10 });
    long.write('x'.repeat(100));
    assert.equal(await cut, 'x'.repeat(10));
  });
});
