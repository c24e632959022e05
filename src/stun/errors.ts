/**
 * The one error the STUN codec throws. Decoders read untrusted bytes: every
 * problem with them surfaces as this type (never a RangeError from a DataView),
 * so a boundary can catch exactly this and count it.
 */
export type StunDecodeErrorCode =
  | 'truncated'
  | 'not-stun'
  | 'bad-length'
  | 'bad-attribute-length'
  | 'trailing-bytes';

export class StunDecodeError extends Error {
  override readonly name = 'StunDecodeError';
  constructor(
    readonly code: StunDecodeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown by the encoder when asked for something it cannot write (e.g. MESSAGE-INTEGRITY without a key). */
export class StunEncodeError extends Error {
  override readonly name = 'StunEncodeError';
}
