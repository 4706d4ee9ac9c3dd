/**
 * The one error type of the wire protocol. Every failure to decode (or
 * encode) a message is a ProtocolError whose `code` is also what travels
 * back to the sender in an Error message.
 */
import { HlcFormatError } from '../core/hlc';
import { IdFormatError } from '../core/ids';
import { ModelKindError, UnknownModelError } from '../engine/registry';
import { RecordFormatError } from '../models/fields';
import type { MessageType } from './messages';

/** Wire order is fixed: an Error message carries the index. Append only. */
export const ERROR_CODES = [
  'bad-frame',
  'unknown-type',
  'unknown-model',
  'bad-record',
  'version',
  'too-large',
  'clock-drift',
  'not-owner',
  'rate-limited',
  'internal',
  'over-limit',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && (ERROR_CODES as readonly string[]).includes(v);
}

export interface ProtocolErrorDetails {
  /** The request the bad message belonged to, when that much could be read (0: none or unknown). */
  requestId?: number;
  /** The message type, when that much could be read. */
  messageType?: MessageType;
  cause?: unknown;
}

export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly requestId: number;
  readonly messageType: MessageType | null;

  constructor(code: ErrorCode, message: string, details: ProtocolErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ProtocolError';
    this.code = code;
    this.requestId = details.requestId ?? 0;
    this.messageType = details.messageType ?? null;
  }
}

/**
 * Any error met while decoding or encoding, as a ProtocolError: record and
 * clock format errors are 'bad-record', model lookups 'unknown-model', and
 * everything else compact-encoding throws is `otherwise` (decoding: an out
 * of bounds read or a varint beyond 2^53, 'bad-frame'; encoding: a value it
 * cannot represent, 'bad-record').
 */
export function toProtocolError(
  e: unknown,
  context: string,
  details: Omit<ProtocolErrorDetails, 'cause'> = {},
  otherwise: ErrorCode = 'bad-frame',
): ProtocolError {
  if (e instanceof ProtocolError) {
    const requestId = e.requestId || details.requestId || 0;
    const messageType = e.messageType ?? details.messageType ?? null;
    if (requestId === e.requestId && messageType === e.messageType) return e;
    return new ProtocolError(e.code, `${context}: ${e.message}`, { requestId, messageType: messageType ?? undefined, cause: e.cause });
  }
  const raw = e instanceof Error ? e.message : String(e);
  const text = raw === 'Out of bounds' ? 'the message is cut short' : raw;
  const code: ErrorCode =
    e instanceof RecordFormatError || e instanceof HlcFormatError || e instanceof IdFormatError
      ? 'bad-record'
      : e instanceof UnknownModelError || e instanceof ModelKindError
        ? 'unknown-model'
        : otherwise;
  return new ProtocolError(code, `${context}: ${text}`, { ...details, cause: e });
}
