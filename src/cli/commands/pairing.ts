/**
 * `leaderless invite`, `join CODE`, `members` and `unpair DEVICE`: pairing
 * devices into a library and removing them.
 *
 * Pairing needs the network. Through a running service (`serve`), the
 * invite lives there and `invite --no-wait` may return at once; without
 * one, the command starts the engine with networking itself and stays until
 * the invite is used or ends (an invite cannot outlive its process).
 */
import type { Command, CommandContext } from '../command';
import { EXIT, UsageError } from '../exit-codes';
import type { InviteInfo, JoinResult } from '../../service/pairing-desk';
import type { LibraryStatus, StatusReport } from '../../service/status';

const clock = (ms: number) => new Date(ms).toTimeString().slice(0, 5);

export const invite: Command = {
  name: 'invite',
  summary: 'Show a code another device can join this library with',
  description: [
    'Prints a 12-character invite code (XXXX-XXXX-XXXX), valid once and for 10 minutes',
    '(--ttl), then waits until a device joins with it (exit 0) or it expires, is revoked or',
    'dies after 5 wrong attempts (exit 5). With --no-wait (only through a running service),',
    'it returns at once and the service keeps the invite open; --revoke CODE ends it. Ctrl-C',
    'ends an invite this command holds itself. --json prints the invite as',
    'JSON: {"code", "library", "libraryName", "expiresAt", "state", "attemptsLeft", "joined"}.',
  ].join('\n'),
  options: [
    { name: 'ttl', value: 'MINUTES', help: 'how long the code is valid (default 10)' },
    { name: 'no-wait', help: 'return once the code is shown (needs a running service)' },
    { name: 'revoke', value: 'CODE', help: 'end an open invite of the running service now' },
    { name: 'json', help: 'print JSON' },
  ],
  async run(ctx) {
    const revoke = ctx.option('revoke');
    if (revoke !== undefined) {
      const engine = await ctx.engine();
      if (engine.via !== 'service') throw new UsageError('--revoke needs the running service that made the invite ("leaderless serve")');
      const r = await engine.call<InviteInfo>('revokeInvite', { code: revoke });
      ctx.out.write(ctx.flag('json') ? JSON.stringify(r) + '\n' : `Invite ${r.code} is ${r.state === 'joined' ? 'already used' : 'revoked'}\n`);
      return;
    }
    const engine = await ctx.engine({ network: true });
    if (ctx.flag('no-wait') && engine.via !== 'service') throw new UsageError('--no-wait needs a running service ("leaderless serve"): an invite ends with the process that made it');
    const info = await engine.call<InviteInfo>('invite', { library: ctx.globals.library, ttlMinutes: ctx.option('ttl') });
    if (ctx.flag('json')) ctx.out.write(JSON.stringify(info) + '\n');
    else {
      ctx.out.write(`Invite code for "${info.libraryName}": ${info.code}\n`);
      ctx.out.write(`Valid until ${clock(info.expiresAt)}, once. On the other device run:  leaderless join ${info.code}\n`);
    }
    if (ctx.flag('no-wait')) return;
    const end = await engine.call<InviteInfo>('inviteWait', { code: info.code });
    if (ctx.flag('json')) ctx.out.write(JSON.stringify(end) + '\n');
    if (end.state === 'joined' && end.joined) {
      if (!ctx.flag('json')) ctx.out.write(`${end.joined.name} (${end.joined.device}) joined "${end.libraryName}"\n`);
      return;
    }
    ctx.err.write(`leaderless: the invite ${describeEnd(end)}\n`);
    return EXIT.pairing;
  },
};

function describeEnd(i: InviteInfo): string {
  switch (i.state) {
    case 'expired':
      return 'expired before anyone joined';
    case 'revoked':
      return 'was revoked';
    case 'exhausted':
      return 'died after too many wrong codes';
    default:
      return `ended (${i.state})`;
  }
}

export const join: Command = {
  name: 'join',
  args: '[CODE]',
  arity: { min: 0, max: 1 },
  summary: 'Join a library with an invite code from another device',
  description: [
    'Finds the inviting device, proves the code, and creates this device\'s copy of the',
    'library; then follows the backfill until this device is in sync (progress on stderr)',
    'unless --no-wait. A mistyped code is refused before any attempt is spent (exit 2);',
    'a refused, expired or unanswered code exits 5. Without a running service, the backfill',
    'continues the next time "leaderless serve" runs.',
    'Without CODE, the code is read from stdin: asked for when stdin is a terminal, else',
    'the first line (e.g. `leaderless join < code.txt`). Prefer that on a machine other',
    'people use: a command\'s arguments show in the process list, to every user.',
    '--json prints {"library", "name", "partners"}.',
  ].join('\n'),
  options: [
    { name: 'timeout', value: 'SECONDS', help: 'how long to look for the inviting device (default 60)' },
    { name: 'no-wait', help: 'return once paired, without following the backfill' },
    { name: 'json', help: 'print JSON' },
  ],
  async run(ctx) {
    // Read before the engine opens, so a slow typist does not hold the data directory.
    const code = ctx.args.positional[0] ?? (await ctx.readLine('Invite code (shown by "leaderless invite" on the other device): '))?.trim();
    if (!code) throw new UsageError('No invite code: give it as CODE, type it when asked, or send it on stdin');
    const engine = await ctx.engine({ create: true, network: true });
    const joined = await engine.call<JoinResult>('join', { code, timeoutSeconds: ctx.option('timeout') });
    if (ctx.flag('json')) ctx.out.write(JSON.stringify(joined) + '\n');
    else ctx.out.write(`Joined "${joined.name}" (${joined.library}); syncing with ${joined.partners.map((p) => p.name || p.device).join(', ')}\n`);
    if (!ctx.flag('no-wait')) await followBackfill(ctx, (p) => engine.call<StatusReport>('status', p), joined.library);
  },
};

/** Waits until the library is ready, printing progress to stderr now and then. */
async function followBackfill(ctx: CommandContext, status: (p: Record<string, unknown>) => Promise<StatusReport>, library: string): Promise<void> {
  let last = '';
  for (;;) {
    const s: LibraryStatus = (await status({ library, digest: false })).libraries[0];
    if (s.state === 'ready') {
      ctx.err.write(`in sync: ${s.counts.entry ?? 0} entries, ${s.counts.tag ?? 0} tags\n`);
      return;
    }
    const b = s.backfill;
    const line = !s.partners.some((p) => p.online)
      ? 'waiting for a partner to come online (the inviting device or another member running "leaderless serve")…'
      : b
        ? `${s.state}: ${b.received.toLocaleString('en-US')} of ${b.announced.toLocaleString('en-US')} rows`
        : `${s.state}…`;
    if (line !== last) ctx.err.write(line + '\n');
    last = line;
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface MemberRow {
  device: string;
  name: string;
  publicKey: string;
  live: boolean;
  self: boolean;
}

export const members: Command = {
  name: 'members',
  summary: "List the library's paired devices",
  description: 'One line per device: id, name, and "(this device)" or "(unpaired)". --json prints them with their keys.',
  options: [{ name: 'json', help: 'print JSON' }],
  async run(ctx) {
    const engine = await ctx.engine();
    const rows = await engine.call<MemberRow[]>('members', { library: ctx.globals.library });
    if (ctx.flag('json')) return void ctx.out.write(JSON.stringify(rows) + '\n');
    for (const m of rows) ctx.out.write(`${m.device}  ${m.name}${m.self ? '  (this device)' : ''}${m.live ? '' : '  (unpaired)'}\n`);
  },
};

export const unpair: Command = {
  name: 'unpair',
  args: 'DEVICE',
  arity: { min: 1, max: 1 },
  summary: 'Remove a device from the library on every peer',
  description: [
    'DEVICE is a device id (or a unique prefix of one) or a device name. Every partner',
    'learns of it through sync, drops its links and refuses its connections from then on;',
    'it keeps what it already had. Pairing it again takes a new invite.',
  ].join('\n'),
  options: [{ name: 'json', help: 'print JSON' }],
  async run(ctx) {
    const engine = await ctx.engine();
    const r = await engine.call<{ device: string; name: string }>('unpair', { library: ctx.globals.library, device: ctx.args.positional[0] });
    ctx.out.write(ctx.flag('json') ? JSON.stringify(r) + '\n' : `Unpaired ${r.name || r.device} (${r.device})\n`);
  },
};
