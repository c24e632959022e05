/** A decode error from the wire layer: which protocol, and what is wrong. */
export class WireError extends Error {
  override name = 'WireError';
  constructor(
    readonly protocol: string,
    readonly problem: string,
  ) {
    super(`${protocol}: ${problem}`);
  }
}
