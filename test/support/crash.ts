/** Runs a child process until it prints `ready`, lets it work for a random while, SIGKILLs it. */
import { spawn } from 'node:child_process';
import { waitExit } from './store-helpers';

export interface KilledChild {
  /** Everything it printed to stdout before it died. */
  out: string;
  stderr: string;
  killedAfterMs: number;
}

export async function runUntilKilled(args: string[], minMs = 50, maxMs = 400): Promise<KilledChild> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = waitExit(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      const had = out.includes('ready\n');
      out += d.toString();
      if (!had && out.includes('ready\n')) resolve();
    });
    void exited.then(() => reject(new Error(`crash child exited early: ${stderr}`)));
  });
  const killedAfterMs = minMs + Math.floor(Math.random() * (maxMs - minMs));
  await new Promise((r) => setTimeout(r, killedAfterMs));
  child.kill('SIGKILL');
  await exited;
  // stdout is a pipe: every line written before the kill is in `out` once the pipe closed
  await new Promise<void>((r) => (child.stdout!.readableEnded ? r() : child.stdout!.once('end', () => r())));
  return { out, stderr, killedAfterMs };
}
