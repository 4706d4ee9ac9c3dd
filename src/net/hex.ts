/** Hex of a key or topic. Keys arrive as Buffers or as plain Uint8Arrays (read from the database), whose toString is not hex. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
