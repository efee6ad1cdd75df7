/**
 * moq-lite error codes and the typed error every decoder throws for bad input.
 *
 * Upstream (`moq-net` 0.3.18, `error.rs`) keeps two registries, the same for every lite version:
 * one for closing a session, one for resetting or stopping a stream. Application codes are
 * `64 + n` in both. (Older notes list a single table with protocol violation = 15; the crate
 * replaced it. Peers such as `@moq/net` 0.3.4 log codes but do not act on them.)
 *
 * @module
 */

/** Codes for closing a session. */
export const SessionCode = {
  /** A normal close. */
  Cancel: 0x0,
  Internal: 0x1,
  Unauthorized: 0x2,
  ProtocolViolation: 0x3,
  KeyValueFormatting: 0x6,
  GoawayTimeout: 0x10,
  Timeout: 0x11,
  Version: 0x15,
} as const;
export type SessionCode = typeof SessionCode[keyof typeof SessionCode];

/** Codes for resetting a stream or asking the peer to stop sending. */
export const StreamCode = {
  Internal: 0x0,
  /** Nobody wants it any more. */
  Cancel: 0x1,
  DeliveryTimeout: 0x2,
  SessionClosed: 0x3,
  GoingAway: 0x4,
  /** The subscriber lagged too far behind. */
  TooFarBehind: 0x5,
  /** The peer's bytes on this stream could not be decoded. */
  MalformedTrack: 0x12,
  ControlTimeout: 0x31,
  GroupTooLarge: 0x32,
  NotFound: 0x33,
  /** Dropped because newer groups exist. */
  Old: 0x34,
  /** Evicted from the cache. */
  Evicted: 0x35,
  Unroutable: 0x36,
  WrongSize: 0x37,
  FrameTooLarge: 0x38,
  TimestampMismatch: 0x39,
} as const;
export type StreamCode = typeof StreamCode[keyof typeof StreamCode];

/** Application codes start here on the wire: application code `n` is `64 + n`. */
export const APPLICATION_CODE_BASE = 64;

/**
 * Bad bytes from a peer: the message says what; `code` is the session close code to use when
 * the bytes break the session, `streamCode` the reset code when only the stream is lost.
 * Decoders throw nothing else for any input.
 */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  readonly code: SessionCode;
  readonly streamCode: StreamCode;

  constructor(
    message: string,
    code: SessionCode = SessionCode.ProtocolViolation,
    streamCode: StreamCode = StreamCode.MalformedTrack,
  ) {
    super(message);
    this.code = code;
    this.streamCode = streamCode;
  }
}

/** A field that cannot be decoded (bad value, body too short or too long). */
export function decodeError(message: string): ProtocolError {
  return new ProtocolError(message);
}

/** A declared size or count beyond a named limit. */
export function boundsError(message: string): ProtocolError {
  return new ProtocolError(message);
}
