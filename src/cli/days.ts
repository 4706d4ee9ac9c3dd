/** Durations given and shown in days (the peer log's absence horizon). */
import { UsageError } from './exit-codes';

export const DAY_MS = 86_400_000;

/** An option's value as a number of days above 0, in ms; undefined if not given. Anything else is a usage error. */
export function parseDaysOption(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const days = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(days) || days <= 0) throw new UsageError(`--${option} takes a number of days above 0 (e.g. 30), not "${value}"`);
  return Math.round(days * DAY_MS);
}

/** e.g. "30 days", "1 day", "0.5 days". */
export function formatDays(ms: number): string {
  const days = Number((ms / DAY_MS).toFixed(2));
  return `${days} day${days === 1 ? '' : 's'}`;
}
