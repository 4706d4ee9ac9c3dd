/** A device-owned write for a row the writer does not own (DESIGN: Security). */
export class OwnershipError extends Error {
  readonly code = 'ERR_NOT_OWNER';
  constructor(message: string) {
    super(message);
    this.name = 'OwnershipError';
  }
}
