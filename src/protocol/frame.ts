/**
 * Stream framing for transports without message boundaries: each frame is
 * a compact-encoding uint length (1, 3, 5 or 9 bytes, shortest form only)
 * followed by that many bytes. FrameReader checks an announced length
 * against its limit as soon as the prefix is complete, before it keeps a
 * single byte of the frame.
 */
import c from 'compact-encoding';
import { ProtocolError } from './errors';
import { MAX_FRAME_BYTES } from './limits';

/** `bytes` with its length prefix. */
export function frame(bytes: Uint8Array, maxFrameBytes = MAX_FRAME_BYTES): Uint8Array {
  if (bytes.byteLength > maxFrameBytes) throw new ProtocolError('too-large', `frame of ${bytes.byteLength} bytes; the limit is ${maxFrameBytes}`);
  const state = c.state();
  c.uint.preencode(state, bytes.byteLength);
  const out = new Uint8Array(state.end + bytes.byteLength);
  state.buffer = out;
  c.uint.encode(state, bytes.byteLength);
  out.set(bytes, state.start);
  return out;
}

export interface FrameReaderOptions {
  /** Largest frame accepted (default MAX_FRAME_BYTES). */
  maxFrameBytes?: number;
}

/** Prefix bytes by first byte (compact-encoding uint). */
function prefixBytes(first: number): number {
  return first <= 0xfc ? 1 : first === 0xfd ? 3 : first === 0xfe ? 5 : 9;
}

/** Smallest value each prefix width may carry (shorter forms must be used for smaller ones). */
function minValue(width: number): number {
  return width === 1 ? 0 : width === 3 ? 0xfd : width === 5 ? 0x1_0000 : 0x1_0000_0000;
}

/**
 * Reassembles frames from chunks. After it throws (a length over the limit:
 * 'too-large'; a prefix in a longer form than needed: 'bad-frame') it stays
 * failed: every later call throws the same error, frames completed earlier
 * in the same chunk are dropped with it, and the connection should be
 * closed.
 */
export class FrameReader {
  readonly maxFrameBytes: number;
  private readonly prefix = new Uint8Array(9);
  private prefixLength = 0;
  /** Length of the frame being read; -1 while reading its prefix. */
  private frameLength = -1;
  private parts: Uint8Array[] = [];
  private received = 0;
  private error: ProtocolError | null = null;

  constructor(opts: FrameReaderOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? MAX_FRAME_BYTES;
  }

  /** Bytes held for the incomplete frame (prefix included). */
  get buffered(): number {
    return this.prefixLength + this.received;
  }

  /** The error that stopped this reader, if any. */
  get failure(): ProtocolError | null {
    return this.error;
  }

  /** Adds a chunk; returns the frames it completed, in order (bodies only, copied). */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.error) throw this.error;
    const frames: Uint8Array[] = [];
    let at = 0;
    while (at < chunk.byteLength) {
      if (this.frameLength < 0) {
        if (this.prefixLength === 0) this.checkFirstByte(chunk[at]);
        const width = prefixBytes(this.prefixLength === 0 ? chunk[at] : this.prefix[0]);
        const take = Math.min(width - this.prefixLength, chunk.byteLength - at);
        this.prefix.set(chunk.subarray(at, at + take), this.prefixLength);
        this.prefixLength += take;
        at += take;
        if (this.prefixLength < width) break;
        this.frameLength = this.readPrefix(width);
        if (this.frameLength === 0) {
          frames.push(new Uint8Array(0));
          this.reset();
        }
        continue;
      }
      const take = Math.min(this.frameLength - this.received, chunk.byteLength - at);
      // A copy, never a view: the caller may reuse its chunk, and Buffer#slice would be a view.
      this.parts.push(new Uint8Array(chunk.subarray(at, at + take)));
      this.received += take;
      at += take;
      if (this.received === this.frameLength) {
        frames.push(this.parts.length === 1 ? this.parts[0] : concat(this.parts, this.frameLength));
        this.reset();
      }
    }
    return frames;
  }

  /** Call at end of stream: throws 'bad-frame' if a frame was cut off. */
  end(): void {
    if (this.error) throw this.error;
    if (this.buffered > 0) this.fail(new ProtocolError('bad-frame', `stream ended inside a frame (${this.buffered} bytes held)`));
  }

  private checkFirstByte(first: number): void {
    const width = prefixBytes(first);
    if (minValue(width) > this.maxFrameBytes) this.tooLarge(`at least ${minValue(width)}`);
  }

  private readPrefix(width: number): number {
    let n: number;
    try {
      n = c.uint.decode(c.state(0, width, this.prefix));
    } catch {
      this.tooLarge('more than 2^53');
    }
    if (n > this.maxFrameBytes) this.tooLarge(String(n));
    if (n < minValue(width)) this.fail(new ProtocolError('bad-frame', `frame length ${n} in a ${width}-byte prefix`));
    return n;
  }

  private tooLarge(announced: string): never {
    this.fail(new ProtocolError('too-large', `a frame announces ${announced} bytes; the limit is ${this.maxFrameBytes}`));
  }

  private fail(e: ProtocolError): never {
    this.error = e;
    this.parts = [];
    this.received = 0;
    throw e;
  }

  private reset(): void {
    this.prefixLength = 0;
    this.frameLength = -1;
    this.parts = [];
    this.received = 0;
  }
}

function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
