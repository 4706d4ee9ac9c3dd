/**
 * One line from stdin, for a secret a command should not take as an
 * argument (the invite code of `join`: a process's arguments are visible
 * to every user of the machine in the process list, and stay in the
 * shell's history).
 *
 * - stdin a terminal: the prompt goes to stderr and the line is read as
 *   typed (echoed: an invite code is shown on the other device's screen
 *   anyway, and single-use).
 * - otherwise (a pipe or a file): the first line, without a prompt.
 *
 * Reads at most `maxBytes` (a line longer than that is cut), stops at the
 * first newline or the end of input, and then lets go of stdin, so the
 * process can exit on its own. Null when the input ended with nothing on
 * it.
 */

export interface LineInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
  destroy?: () => void;
}

export function readOneLine(input: LineInput, opts: { prompt?: string; promptTo?: NodeJS.WritableStream; maxBytes?: number } = {}): Promise<string | null> {
  const max = opts.maxBytes ?? 4096;
  if (input.isTTY && opts.prompt) opts.promptTo?.write(opts.prompt);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const finish = (err?: Error) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
      // A pipe we read only the first line of: close it, or it may keep the event loop busy. A terminal stays open for the shell.
      if (!input.isTTY) input.destroy?.();
      if (err) return reject(err);
      const text = Buffer.concat(chunks).toString('utf8');
      const nl = text.indexOf('\n');
      const line = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
      resolve(line === '' && nl < 0 ? null : line);
    };
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(b.subarray(0, Math.max(0, max - bytes)));
      bytes += b.length;
      if (b.includes(0x0a) || bytes >= max) finish();
    };
    const onEnd = () => finish();
    const onError = (e: Error) => finish(e);
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
  });
}
