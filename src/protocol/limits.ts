/**
 * The protocol version and every bound a decoder enforces before it
 * allocates. Both sides enforce the same bounds when encoding, so whatever
 * this device sends, a peer of the same version accepts.
 */

/** Travels in Hello; a peer speaking another version is refused with code 'version'. */
export const PROTOCOL_VERSION = 5;

/** Largest message (frame payload) sent or accepted: 8 MiB. */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;

/** Records, changes or snapshot rows in one message; also the largest page a request may ask for. */
export const MAX_RECORDS = 10_000;

/** Entries in a version vector, a watermark list or a list of pruned origins. */
export const MAX_VECTOR_ENTRIES = 100_000;

/** Characters (UTF-16 code units) in an Error message's text. */
export const MAX_ERROR_MESSAGE_CHARS = 1024;

/** UTF-8 bytes of a model name on the wire (the longest registered name is far shorter). */
export const MAX_MODEL_NAME_BYTES = 64;

/** Request ids are 1 … 2^32 - 1; 0 means "not about a request" (Error only). */
export const MAX_REQUEST_ID = 0xffff_ffff;
