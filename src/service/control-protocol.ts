/**
 * The local control protocol: newline-delimited JSON over a Unix domain
 * socket (a named pipe on Windows).
 *
 *   request   {"id": 1, "method": "status", "params": {"library": "…"}}
 *   answer    {"id": 1, "result": …}  or  {"id": 1, "error": {"code": "ERR_…", "message": "…"}}
 *   event     {"event": "state", "data": {…}}   (only to connections that subscribed)
 *
 * `id` is a number or a string chosen by the client and echoed back; an
 * answer to a line that could not be read as a request has `"id": null`.
 * Lines are bounded (a request line over MAX_REQUEST_LINE_BYTES is refused
 * and skipped up to its newline, the connection stays usable).
 */
import { ControlError } from './errors';

/** Longest request line the service reads. */
export const MAX_REQUEST_LINE_BYTES = 1 << 20;
/** Longest answer or event line a client reads (listings can be long). */
export const MAX_ANSWER_LINE_BYTES = 64 << 20;

export type RequestId = number | string;

export interface ControlRequest {
  id: RequestId;
  method: string;
  params: Record<string, unknown>;
}

export interface ErrorBody {
  code: string;
  message: string;
}

export type ControlAnswer = { id: RequestId | null; result: unknown } | { id: RequestId | null; error: ErrorBody };

export interface ControlEvent {
  event: string;
  data: unknown;
}

/** Protocol-level error codes (method errors carry their own). */
export const PROTOCOL_ERROR = {
  parse: 'ERR_PARSE',
  invalidRequest: 'ERR_INVALID_REQUEST',
  unknownMethod: 'ERR_UNKNOWN_METHOD',
  lineTooLong: 'ERR_LINE_TOO_LONG',
} as const;

/**
 * Splits a byte stream into lines of at most `maxBytes` (without the
 * newline; a trailing CR is dropped, empty lines are skipped). A longer line
 * is reported once, as soon as it passes the bound, and its bytes are
 * discarded up to the next newline: memory stays bounded whatever is sent.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: () => void,
  ) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const nl = chunk.indexOf(10, at);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.discarding) {
        if (this.size + (end - at) > this.maxBytes) {
          this.parts = [];
          this.size = 0;
          this.discarding = true;
          this.onTooLong();
        } else if (end > at) {
          this.parts.push(chunk.subarray(at, end));
          this.size += end - at;
        }
      }
      if (nl === -1) return;
      if (this.discarding) this.discarding = false;
      else this.flush();
      at = nl + 1;
    }
  }

  private flush(): void {
    let line = Buffer.concat(this.parts, this.size).toString('utf8');
    this.parts = [];
    this.size = 0;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() !== '') this.onLine(line);
  }
}

/** A request line read as a request, or the error to answer it with. */
export function parseRequest(line: string): ControlRequest | { id: RequestId | null; error: ErrorBody } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return { id: null, error: { code: PROTOCOL_ERROR.parse, message: `Not JSON: ${(e as Error).message}` } };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return { id: null, error: { code: PROTOCOL_ERROR.invalidRequest, message: 'A request is a JSON object {id, method, params}' } };
  }
  const o = v as Record<string, unknown>;
  const id = typeof o.id === 'number' || typeof o.id === 'string' ? o.id : null;
  if (id === null || (typeof id === 'string' && id.length > 200)) {
    return { id: null, error: { code: PROTOCOL_ERROR.invalidRequest, message: 'A request needs an "id" (a number or a string of at most 200 characters)' } };
  }
  if (typeof o.method !== 'string' || o.method === '') {
    return { id, error: { code: PROTOCOL_ERROR.invalidRequest, message: 'A request needs a "method" (a string)' } };
  }
  if (o.params !== undefined && (typeof o.params !== 'object' || o.params === null || Array.isArray(o.params))) {
    return { id, error: { code: PROTOCOL_ERROR.invalidRequest, message: '"params", when given, is a JSON object' } };
  }
  return { id, method: o.method, params: (o.params as Record<string, unknown> | undefined) ?? {} };
}

/** An answer or event line read back by a client; throws ControlError if it is neither. */
export function parseServerLine(line: string): ControlAnswer | ControlEvent {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new ControlError(PROTOCOL_ERROR.parse, 'The service sent a line that is not JSON');
  }
  const o = v as Record<string, unknown> | null;
  if (typeof o === 'object' && o !== null) {
    if (typeof o.event === 'string') return { event: o.event, data: o.data };
    if ('id' in o && ('result' in o || isErrorBody(o.error))) return o as ControlAnswer;
  }
  throw new ControlError(PROTOCOL_ERROR.invalidRequest, 'The service sent a line that is neither an answer nor an event');
}

function isErrorBody(v: unknown): v is ErrorBody {
  const e = v as ErrorBody | null;
  return typeof e === 'object' && e !== null && typeof e.code === 'string' && typeof e.message === 'string';
}

/** One message as a line. */
export function encodeLine(message: ControlRequest | ControlAnswer | ControlEvent): string {
  return JSON.stringify(message) + '\n';
}
