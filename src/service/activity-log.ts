/**
 * What a library's sync did lately, in memory, for the status webview:
 * changes received and sent (per model and partner), stamps refused,
 * errors. Each list is a ring of at most `capacity` entries (oldest
 * dropped), so a long-running service holds a bounded amount.
 *
 * A backfill arrives as a thousand pages: consecutive batches of the same
 * partner and model within MERGE_MS are one entry (count summed, `at` the
 * latest), so the list shows what happened rather than page sizes.
 *
 * Listeners hear that something was added at most every `minIntervalMs`
 * (4 times a second by default), however fast changes come.
 */

export interface ChangeActivity {
  /** ms since the epoch (the latest batch merged into it). */
  at: number;
  device: string;
  name: string | null;
  model: string;
  count: number;
}

export interface RefusedActivity {
  at: number;
  /** The partner that sent it. */
  device: string;
  name: string | null;
  reason: string;
  /** How far ahead of this device's clock the stamp was (clock drift); null for a record rejected as invalid. */
  skewMs: number | null;
  /** The device that wrote the refused stamp (may differ from the sender, which relayed it); null if unknown. */
  origin: string | null;
  model: string | null;
}

export interface ErrorActivity {
  at: number;
  message: string;
  /** The partner it concerns, if any. */
  device: string | null;
  name: string | null;
}

export interface ActivityLists {
  received: ChangeActivity[];
  sent: ChangeActivity[];
  refused: RefusedActivity[];
  errors: ErrorActivity[];
}

export const ACTIVITY_CAPACITY = 200;
const MERGE_MS = 1000;

export class ActivityLog {
  private readonly lists: ActivityLists = { received: [], sent: [], refused: [], errors: [] };
  private timer: NodeJS.Timeout | null = null;
  private lastNotified = -Infinity;
  private closed = false;

  constructor(
    private readonly notify: () => void,
    private readonly opts: { capacity?: number; minIntervalMs?: number; now?: () => number } = {},
  ) {}

  received(device: string, name: string | null, model: string, count: number): void {
    this.change(this.lists.received, device, name, model, count);
  }

  sent(device: string, name: string | null, model: string, count: number): void {
    this.change(this.lists.sent, device, name, model, count);
  }

  refused(e: Omit<RefusedActivity, 'at'>): void {
    this.push(this.lists.refused, { at: this.now(), ...e });
  }

  error(message: string, device: string | null, name: string | null): void {
    this.push(this.lists.errors, { at: this.now(), message, device, name });
  }

  /** The newest `limit` entries of each list, newest first. */
  recent(limit: number): ActivityLists {
    const take = <T>(xs: T[]) => xs.slice(Math.max(0, xs.length - limit)).reverse();
    return { received: take(this.lists.received), sent: take(this.lists.sent), refused: take(this.lists.refused), errors: take(this.lists.errors) };
  }

  /** Stops notifying (a pending notification is dropped). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private change(list: ChangeActivity[], device: string, name: string | null, model: string, count: number): void {
    if (count <= 0) return;
    const at = this.now();
    const last = list[list.length - 1];
    if (last && last.device === device && last.model === model && at - last.at <= MERGE_MS) {
      last.count += count;
      last.at = at;
      last.name = name ?? last.name;
      this.changed();
      return;
    }
    this.push(list, { at, device, name, model, count });
  }

  private push<T>(list: T[], entry: T): void {
    list.push(entry);
    const cap = this.opts.capacity ?? ACTIVITY_CAPACITY;
    if (list.length > cap) list.splice(0, list.length - cap);
    this.changed();
  }

  private changed(): void {
    if (this.timer || this.closed) return;
    const min = this.opts.minIntervalMs ?? 250;
    const wait = Math.max(0, this.lastNotified + min - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.lastNotified = Date.now();
      if (!this.closed) this.notify();
    }, wait);
    this.timer.unref?.();
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}
