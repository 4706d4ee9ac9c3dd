/** The wire protocol: messages, their binary codecs, and stream framing. */
export * from './errors';
export * from './limits';
export * from './messages';
export { MESSAGE_CODES, MessageCodec, decodeMessage, encodeMessage, encodedLength, requestIdOf, type MessageCodecOptions } from './codec';
export { FrameReader, frame, type FrameReaderOptions } from './frame';
