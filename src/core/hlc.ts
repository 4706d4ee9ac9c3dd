/**
 * Hybrid logical clock (DESIGN rule 1).
 *
 * A stamp is (ms, counter, device): wall-clock milliseconds, a counter that
 * orders events within one millisecond, and the 16-byte id of the device that
 * made it. Stamps are totally ordered by (ms, counter, device) and have two
 * fixed-width forms that sort the same way: 24 bytes (6 ms + 2 counter + 16
 * device, big-endian) and a 48-character lower-case hex string.
 *
 * The clock never goes backwards: not when the wall clock steps back, not
 * after adopting a remote stamp that is ahead, not across restarts (the
 * caller persists `last` and hands it back). A remote stamp further ahead of
 * the local wall clock than `maxDriftMs` is refused with ClockDriftError.
 */

import { readId, toHex } from './ids';

export const HLC_BYTES = 24;
export const HLC_TIME_BYTES = 8;
export const HLC_STRING_LENGTH = 48;
export const DEVICE_ID_BYTES = 16;
export const MAX_COUNTER = 0xffff;
/** 2^48 - 1 ms: year 10889. Anything above cannot be encoded in 6 bytes. */
export const MAX_MS = 0xffff_ffff_ffff;
export const DEFAULT_MAX_CLOCK_DRIFT_MS = 5 * 60 * 1000;

export interface Hlc {
  readonly ms: number;
  readonly counter: number;
  readonly device: Uint8Array;
}

export class ClockDriftError extends Error {
  readonly code = 'ERR_CLOCK_DRIFT';
  constructor(
    readonly remote: Hlc,
    readonly localMs: number,
    readonly maxDriftMs: number,
    /** The device whose clock made the stamp (a shared change's stamp names its log origin, not the device). */
    readonly author: Uint8Array = remote.device,
  ) {
    super(
      `Refused a clock stamp ${hlcToString(remote)} from device ${toHex(author)}: ` +
        `it is ${remote.ms - localMs} ms ahead of this device's clock (limit ${maxDriftMs} ms). ` +
        `Check the system clock on that device.`,
    );
    this.name = 'ClockDriftError';
  }
}

export class HlcFormatError extends Error {
  readonly code = 'ERR_HLC_FORMAT';
  constructor(message: string) {
    super(message);
    this.name = 'HlcFormatError';
  }
}

export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  return compareBytes(a.device, b.device);
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function validateHlc(h: Hlc): void {
  if (!Number.isInteger(h.ms) || h.ms < 0 || h.ms > MAX_MS) throw new HlcFormatError(`HLC ms out of range: ${h.ms}`);
  if (!Number.isInteger(h.counter) || h.counter < 0 || h.counter > MAX_COUNTER)
    throw new HlcFormatError(`HLC counter out of range: ${h.counter}`);
  if (!(h.device instanceof Uint8Array) || h.device.length !== DEVICE_ID_BYTES)
    throw new HlcFormatError(`HLC device id must be ${DEVICE_ID_BYTES} bytes`);
}

/** 8 bytes: ms (6, big-endian) then counter (2). Sorts like (ms, counter). */
export function encodeHlcTime(h: { ms: number; counter: number }, out: Uint8Array = new Uint8Array(HLC_TIME_BYTES), at = 0): Uint8Array {
  const hi = Math.floor(h.ms / 0x1_0000_0000);
  const lo = h.ms >>> 0;
  out[at] = (hi >>> 8) & 0xff;
  out[at + 1] = hi & 0xff;
  out[at + 2] = lo >>> 24;
  out[at + 3] = (lo >>> 16) & 0xff;
  out[at + 4] = (lo >>> 8) & 0xff;
  out[at + 5] = lo & 0xff;
  out[at + 6] = (h.counter >>> 8) & 0xff;
  out[at + 7] = h.counter & 0xff;
  return out;
}

export function decodeHlcTime(b: Uint8Array, at = 0): { ms: number; counter: number } {
  if (b.length - at < HLC_TIME_BYTES) throw new HlcFormatError(`HLC time needs ${HLC_TIME_BYTES} bytes, got ${b.length - at}`);
  const hi = (b[at] << 8) | b[at + 1];
  const lo = ((b[at + 2] << 24) | (b[at + 3] << 16) | (b[at + 4] << 8) | b[at + 5]) >>> 0;
  return { ms: hi * 0x1_0000_0000 + lo, counter: (b[at + 6] << 8) | b[at + 7] };
}

export function encodeHlc(h: Hlc): Uint8Array {
  const out = new Uint8Array(HLC_BYTES);
  encodeHlcTime(h, out, 0);
  out.set(h.device, HLC_TIME_BYTES);
  return out;
}

/** A 24-byte stamp at `buf[at]`; its device is `lastDevice` itself when the same (see readId). */
export function readHlc(buf: Uint8Array, at: number, lastDevice: Uint8Array | null): Hlc {
  const t = decodeHlcTime(buf, at);
  return { ms: t.ms, counter: t.counter, device: readId(buf, at + HLC_TIME_BYTES, lastDevice) };
}

export function decodeHlc(b: Uint8Array): Hlc {
  if (!(b instanceof Uint8Array) || b.length !== HLC_BYTES) throw new HlcFormatError(`HLC must be ${HLC_BYTES} bytes`);
  const t = decodeHlcTime(b, 0);
  return { ms: t.ms, counter: t.counter, device: b.slice(HLC_TIME_BYTES) };
}

/** Combine an 8-byte time (as stored on device-owned rows) with the owner's device id. */
export function hlcFromTime(time: Uint8Array, device: Uint8Array): Hlc {
  const t = decodeHlcTime(time);
  return { ms: t.ms, counter: t.counter, device };
}

export function hlcToString(h: Hlc): string {
  return h.ms.toString(16).padStart(12, '0') + h.counter.toString(16).padStart(4, '0') + toHex(h.device);
}

const HLC_STRING = /^[0-9a-f]{48}$/;
export function hlcFromString(s: string): Hlc {
  if (!HLC_STRING.test(s)) throw new HlcFormatError(`Not an HLC string: ${JSON.stringify(s).slice(0, 60)}`);
  return {
    ms: parseInt(s.slice(0, 12), 16),
    counter: parseInt(s.slice(12, 16), 16),
    device: Uint8Array.from(Buffer.from(s.slice(16), 'hex')),
  };
}

export interface HlcClockOptions {
  device: Uint8Array;
  /** Wall clock in ms; injectable for tests. */
  now?: () => number;
  maxDriftMs?: number;
  /** The last stamp issued or adopted before a restart. */
  last?: Hlc | null;
}

export class HlcClock {
  readonly device: Uint8Array;
  readonly maxDriftMs: number;
  private readonly wall: () => number;

  /** This clock's wall time (ms). */
  wallMs(): number {
    return this.wall();
  }
  private ms = 0;
  private counter = 0;

  constructor(opts: HlcClockOptions) {
    if (opts.device.length !== DEVICE_ID_BYTES) throw new HlcFormatError(`device id must be ${DEVICE_ID_BYTES} bytes`);
    this.device = opts.device;
    this.wall = opts.now ?? Date.now;
    this.maxDriftMs = opts.maxDriftMs ?? DEFAULT_MAX_CLOCK_DRIFT_MS;
    if (opts.last) {
      validateHlc(opts.last);
      this.ms = opts.last.ms;
      this.counter = opts.last.counter;
    }
  }

  /** The newest stamp issued or adopted (device: this device). */
  last(): Hlc {
    return { ms: this.ms, counter: this.counter, device: this.device };
  }

  /** A new stamp, strictly greater than every stamp issued or adopted before. */
  now(): Hlc {
    const wall = this.wall();
    if (wall > this.ms) {
      this.ms = wall;
      this.counter = 0;
    } else {
      this.bump();
    }
    return this.last();
  }

  /**
   * Adopt a stamp received from another device so that every later local
   * stamp is greater than it. Throws ClockDriftError (and changes nothing)
   * when it is more than maxDriftMs ahead of the local wall clock.
   */
  receive(remote: Hlc): void {
    validateHlc(remote);
    this.check(remote);
    if (remote.ms > this.ms || (remote.ms === this.ms && remote.counter > this.counter)) {
      this.ms = remote.ms;
      this.counter = remote.counter;
    }
  }

  /** Throws ClockDriftError if `remote` (made by `author`, by default its device) is too far ahead; changes nothing. */
  check(remote: Hlc, author?: Uint8Array): void {
    const wall = this.wall();
    if (remote.ms - wall > this.maxDriftMs) throw new ClockDriftError(remote, wall, this.maxDriftMs, author);
  }

  private bump(): void {
    if (this.counter < MAX_COUNTER) {
      this.counter++;
    } else {
      // Counter exhausted within one logical millisecond: move the logical
      // clock one ms ahead rather than wrap (which would go backwards).
      this.ms++;
      this.counter = 0;
    }
  }
}

/** The 8-byte stamp time just before `t` (null before the first). */
export function justBefore(t: Uint8Array): Uint8Array | null {
  const out = Uint8Array.from(t);
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] > 0) {
      out[i]--;
      return out;
    }
    out[i] = 0xff;
  }
  return null;
}
