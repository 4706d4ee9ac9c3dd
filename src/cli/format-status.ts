/** `leaderless status` as text: the service, then each library's sync state, partners, backfill, log and digest. */
import type { LibraryStatus, NetworkStatus, PartnerStatus, StatusReport, VerifiedStatus } from '../service/status';
import { formatDays } from './days';

export function formatStatus(report: StatusReport, now = Date.now()): string {
  const s = report.service;
  const lines: string[] = [];
  lines.push(s.running ? `service: running (pid ${s.pid}), network ${formatNetwork(s.network)}` : 'service: not running (this command opened the data directory itself)');
  lines.push(`data directory: ${s.dataDir}`);
  lines.push(`this device's public key: ${s.publicKey}`);
  for (const p of s.problems) lines.push(`problem: library ${p.library} could not be opened: ${p.error}`);
  if (report.libraries.length === 0) lines.push('no libraries (create one with "leaderless init")');
  for (const lib of report.libraries) lines.push('', ...formatLibrary(lib, now));
  return lines.join('\n') + '\n';
}

function formatNetwork(n: NetworkStatus): string {
  switch (n.state) {
    case 'up':
      return `up${n.announced ? ' (announced on the DHT)' : ' (not announced on the DHT yet)'}${n.bootstrap ? `, bootstrap ${n.bootstrap.join(', ')}` : ''}`;
    case 'unavailable':
      return `unavailable: ${n.error ?? 'unknown reason'}`;
    default:
      return n.state;
  }
}

function formatLibrary(lib: LibraryStatus, now: number): string[] {
  const notYet = !lib.backfilled && lib.partners.length > 0 ? ' (not backfilled yet)' : '';
  const out = [`library "${lib.name}" (${lib.library})`, `  this device: ${lib.device}`, `  sync: ${lib.state}${notYet}${lib.error ? ` (${lib.error})` : ''}`];
  const b = lib.backfill;
  if (b) out.push(`  backfill: ${b.received} of ${b.announced} rows${b.done ? ' (done)' : `, ${b.serving} partner(s) serving`}`);
  if (lib.partners.length === 0) out.push('  partners: none');
  else {
    out.push('  partners:');
    for (const p of lib.partners) {
      const state = p.ready ? 'online' : p.online ? 'online (catching up)' : 'offline';
      const seen = p.lastSeen === null ? 'never seen' : `last seen ${new Date(p.lastSeen).toISOString()} (${ago(now - p.lastSeen)})`;
      out.push(`    ${p.name ?? '(unnamed)'} ${p.device}: ${state}, ${seen}${p.publicKey ? '' : ', no network key'}${heldBack(p, lib, now)}${cutOff(p, now)}${verified(p.verified, now)}`);
    }
  }
  const v = lib.verified;
  if (v && v.owners > 0) out.push(`  verified: the files of ${v.verified} of ${v.owners} other device(s) held here are exactly what each signed`);
  out.push(`  peer log: ${lib.logSize} entries, parked: ${lib.parked}`);
  // Fields added later are missing from an older service's answer.
  if (lib.pruneAbsentAfterMs !== undefined) {
    out.push(
      lib.pruneAbsentAfterMs === null
        ? '  log horizon: none (a partner holds the log back however long it is away)'
        : `  log horizon: a partner not heard from for ${formatDays(lib.pruneAbsentAfterMs)} stops holding the log back (it gets a snapshot when it returns)`,
    );
  }
  out.push(`  counts: ${Object.entries(lib.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (lib.digest) out.push(`  digest: ${lib.digest}`);
  return out;
}

/** What the peer log keeps for a partner, and until when: ", holds back 12 log entries until …", or that it no longer does. */
function heldBack(p: PartnerStatus, lib: LibraryStatus, now: number): string {
  if (typeof p.lag !== 'number') return '';
  const entries = `${p.lag} log entr${p.lag === 1 ? 'y' : 'ies'}`;
  const until = p.holdsLogUntil;
  if (typeof until === 'number' && until <= now) {
    const horizon = typeof lib.pruneAbsentAfterMs === 'number' ? formatDays(lib.pruneAbsentAfterMs) : 'the log horizon';
    if (p.online) return `, has not acknowledged for longer than ${horizon}: no longer holds the log back (${entries} unacknowledged; it gets a snapshot for them)`;
    return `, away longer than ${horizon}: no longer holds the log back (${entries} unacknowledged; it gets a snapshot when it returns)`;
  }
  if (p.lag === 0) return '';
  if (p.online || typeof until !== 'number') return `, holds back ${entries}`;
  return `, holds back ${entries} until ${new Date(until).toISOString()} (in ${span(until - now)})`;
}

/** ", cut off for misbehaving until …" while this device refuses the partner's links (fields added later are missing from an older service's answer). */
function cutOff(p: PartnerStatus, now: number): string {
  const until = p.cutOffUntil;
  return typeof until === 'number' && until > now ? `, cut off for sending bad records until ${new Date(until).toISOString()} (in ${span(until - now)})` : '';
}

/**
 * Whether what is held of the partner's files and folders is exactly what it signed:
 * ", files verified since …", ", files do NOT match what it signed …" (nothing from an older service).
 */
function verified(v: VerifiedStatus | undefined, now: number): string {
  switch (v?.state) {
    case 'verified':
      return typeof v.since === 'number' ? `, files verified since ${new Date(v.since).toISOString()} (${ago(now - v.since)})` : ', files verified';
    case 'behind':
      return `, files not verified yet (catching up: it signed ${v.sealedRows ?? '?'} rows, ${v.rows} held here)`;
    case 'unproven':
      return `, files not verified (unproven: no signature of it covers the ${v.rows} rows held here yet)`;
    case 'mismatch':
      return `, files do NOT match what it signed (${v.rows} rows held here, it signed ${v.sealedRows ?? '?'}: forged or missing rows, being repaired)`;
    case 'none':
      return ', none of its files here yet';
    default:
      return '';
  }
}

function ago(ms: number): string {
  return `${span(ms)} ago`;
}

function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86_400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}
