/**
 * moq-lite error codes (the same numbers serve stream resets and session close) and the typed
 * error every decoder throws for bad input.
 *
 * @module
 */

/** Error codes shared by every moq-lite version (upstream `moq-net` `error.rs`). */
export const ErrorCode = {
  Cancel: 0,
  RequiredExtension: 1,
  Old: 2,
  Timeout: 3,
  Transport: 4,
  Decode: 5,
  Unauthorized: 6,
  Version: 9,
  UnexpectedStream: 10,
  BoundsExceeded: 11,
  Duplicate: 12,
  NotFound: 13,
  WrongSize: 14,
  ProtocolViolation: 15,
  UnexpectedMessage: 16,
  Unsupported: 17,
  Encode: 18,
  TooManyParameters: 19,
  InvalidRole: 20,
  UnknownAlpn: 21,
  Dropped: 24,
  Closed: 25,
  Lagged: 26,
  FrameTooLarge: 27,
  TimestampMismatch: 29,
  Unroutable: 30,
  Evicted: 31,
} as const;

export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/** Application codes start here on the wire: application code `n` is `64 + n`. */
export const APPLICATION_CODE_BASE = 64;

/**
 * Bad bytes from a peer: the message says what, `code` is the moq-lite code to reset the stream
 * or close the session with. Decoders throw nothing else for any input.
 */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A field that cannot be decoded (bad value, body too short or too long). */
export function decodeError(message: string): ProtocolError {
  return new ProtocolError(ErrorCode.Decode, message);
}

/** A declared size or count beyond a named limit. */
export function boundsError(message: string): ProtocolError {
  return new ProtocolError(ErrorCode.BoundsExceeded, message);
}
