/**
 * moq-transport error codes per draft (`WIRE.md` 6; `moq-net` 0.3.18 `error.rs:55-75`,
 * `ietf/error.rs:13-335`): session close codes (the same on every draft), stream reset codes
 * (RESET_STREAM / STOP_SENDING; they grew, and one moved, across the drafts), and request error
 * codes (REQUEST_ERROR; draft 14 has one registry per error message, and renumbers against 15:
 * its SUBSCRIBE_ERROR 0x4 is TRACK_DOES_NOT_EXIST and 0x10 MALFORMED_AUTH_TOKEN, where 15+ put
 * DOES_NOT_EXIST at 0x10).
 *
 * @module
 */
import {
  type Draft,
  hasFetchTypes,
  hasGoingAwayRequestError,
  hasGoingAwayResetCode,
  hasMalformedTrackResetCode,
  hasSharedReplies,
  hasTooFarBehindResetCode,
} from "./draft.ts";
import type { RequestKind } from "./messages.ts";

/** Session close codes (CONNECTION_CLOSE / WebTransport close), every draft (`R:error.rs:55-75`).
 * Application code `n` is `64 + n`. */
export const IetfSessionCode = {
  NoError: 0x0,
  Internal: 0x1,
  Unauthorized: 0x2,
  ProtocolViolation: 0x3,
  KeyValueFormatting: 0x6,
  GoawayTimeout: 0x10,
  Timeout: 0x11,
  /** No common version. */
  Version: 0x15,
} as const;

/** What a stream reset says, independent of the draft's numbering. */
export type StreamResetCondition =
  | "internal"
  | "cancelled"
  | "delivery-timeout"
  | "session-closed"
  | "going-away"
  | "too-far-behind"
  | "malformed-track"
  | "unknown-object-status";

/** The stream reset codes that mean the same on every draft. */
export const IetfStreamCode = {
  Internal: 0x0,
  Cancelled: 0x1,
  DeliveryTimeout: 0x2,
  SessionClosed: 0x3,
  /** 16+. */
  MalformedTrack: 0x12,
  /** 17+. */
  TooFarBehind: 0x5,
  /** 18+ (16, 17: UNKNOWN_OBJECT_STATUS). */
  GoingAway: 0x4,
} as const;

/** UNKNOWN_OBJECT_STATUS: 0x4 on 16 and 17, 0x6 from 18 (`R:ietf/error.rs:45-64`). */
function unknownObjectStatus(draft: Draft): number | undefined {
  if (!hasMalformedTrackResetCode(draft)) return undefined;
  return hasGoingAwayResetCode(draft) ? 0x6 : 0x4;
}

/**
 * The reset code for `condition` on `draft`; a condition the draft does not register is sent as
 * INTERNAL_ERROR (`R:ietf/error.rs:81-97`).
 */
export function streamResetCode(condition: StreamResetCondition, draft: Draft): number {
  switch (condition) {
    case "internal":
      return IetfStreamCode.Internal;
    case "cancelled":
      return IetfStreamCode.Cancelled;
    case "delivery-timeout":
      return IetfStreamCode.DeliveryTimeout;
    case "session-closed":
      return IetfStreamCode.SessionClosed;
    case "going-away":
      return hasGoingAwayResetCode(draft) ? IetfStreamCode.GoingAway : IetfStreamCode.Internal;
    case "too-far-behind":
      return hasTooFarBehindResetCode(draft)
        ? IetfStreamCode.TooFarBehind
        : IetfStreamCode.Internal;
    case "malformed-track":
      return hasMalformedTrackResetCode(draft)
        ? IetfStreamCode.MalformedTrack
        : IetfStreamCode.Internal;
    case "unknown-object-status":
      return unknownObjectStatus(draft) ?? IetfStreamCode.Internal;
  }
}

/** What a received reset code means on `draft`, or undefined for one it does not register. */
export function streamResetCondition(code: number, draft: Draft): StreamResetCondition | undefined {
  const all: StreamResetCondition[] = [
    "internal",
    "cancelled",
    "delivery-timeout",
    "session-closed",
    "going-away",
    "too-far-behind",
    "malformed-track",
    "unknown-object-status",
  ];
  return all.find((c) => {
    const mapped = streamResetCode(c, draft);
    // Conditions that fall back to INTERNAL_ERROR do not claim its code.
    return mapped === code && (c === "internal" || mapped !== IetfStreamCode.Internal);
  });
}

/** What a request error says, independent of the draft's numbering. */
export type RequestErrorCondition =
  | "internal"
  | "unauthorized"
  | "timeout"
  | "not-supported"
  | "does-not-exist"
  | "uninterested"
  | "malformed-track"
  | "going-away"
  | "invalid-range"
  | "invalid-joining-request-id";

/** Request error codes of drafts 15+ (`R:ietf/error.rs:169-208`). */
export const RequestErrorCode = {
  Internal: 0x0,
  Unauthorized: 0x1,
  Timeout: 0x2,
  NotSupported: 0x3,
  /** 17+. */
  GoingAway: 0x6,
  DoesNotExist: 0x10,
  InvalidRange: 0x11,
  MalformedTrack: 0x12,
  Uninterested: 0x20,
  /** 15-19 (removed with joining fetches in 20). */
  InvalidJoiningRequestId: 0x32,
} as const;

/** Draft 14's numbers where they differ from 15+ (`R:ietf/error.rs:183-208`). */
export const RequestErrorCode14 = {
  /** SUBSCRIBE_ERROR, FETCH_ERROR, TRACK_STATUS_ERROR: TRACK_DOES_NOT_EXIST. */
  DoesNotExist: 0x4,
  /** PUBLISH_ERROR, PUBLISH_NAMESPACE_ERROR. */
  Uninterested: 0x4,
  /** FETCH_ERROR. */
  InvalidRange: 0x5,
  /** FETCH_ERROR. */
  InvalidJoiningRequestId: 0x7,
  /** FETCH_ERROR. */
  MalformedTrack: 0x9,
  /** SUBSCRIBE_ERROR's MALFORMED_AUTH_TOKEN: the number 15+ give DOES_NOT_EXIST. */
  MalformedAuthToken: 0x10,
} as const;

function registered(
  condition: RequestErrorCondition,
  draft: Draft,
  of: RequestKind,
): number | undefined {
  const d14 = !hasSharedReplies(draft);
  switch (condition) {
    case "internal":
      return RequestErrorCode.Internal;
    case "unauthorized":
      return RequestErrorCode.Unauthorized;
    case "timeout":
      return RequestErrorCode.Timeout;
    case "not-supported":
      return RequestErrorCode.NotSupported;
    case "does-not-exist":
      if (!d14) return RequestErrorCode.DoesNotExist;
      return of === "subscribe" || of === "fetch" || of === "track_status"
        ? RequestErrorCode14.DoesNotExist
        : undefined;
    case "uninterested":
      if (!d14) return RequestErrorCode.Uninterested;
      return of === "publish" || of === "publish_namespace"
        ? RequestErrorCode14.Uninterested
        : undefined;
    case "malformed-track":
      if (!d14) return RequestErrorCode.MalformedTrack;
      return of === "fetch" ? RequestErrorCode14.MalformedTrack : undefined;
    case "going-away":
      return hasGoingAwayRequestError(draft) ? RequestErrorCode.GoingAway : undefined;
    case "invalid-range":
      if (of !== "fetch") return undefined;
      return d14 ? RequestErrorCode14.InvalidRange : RequestErrorCode.InvalidRange;
    case "invalid-joining-request-id":
      if (of !== "fetch" || !hasFetchTypes(draft)) return undefined;
      return d14
        ? RequestErrorCode14.InvalidJoiningRequestId
        : RequestErrorCode.InvalidJoiningRequestId;
  }
}

/**
 * The code to refuse request `of` with on `draft`. A condition the draft does not register for
 * that request is INTERNAL_ERROR rather than another draft's number (`R:ietf/error.rs:278-315`).
 */
export function requestErrorCode(
  condition: RequestErrorCondition,
  draft: Draft,
  of: RequestKind,
): number {
  return registered(condition, draft, of) ?? RequestErrorCode.Internal;
}

/** What a received request error code means for request `of` on `draft` (undefined = not
 * registered; INTERNAL_ERROR is "internal"). */
export function requestErrorCondition(
  code: number,
  draft: Draft,
  of: RequestKind,
): RequestErrorCondition | undefined {
  const all: RequestErrorCondition[] = [
    "internal",
    "unauthorized",
    "timeout",
    "not-supported",
    "does-not-exist",
    "uninterested",
    "malformed-track",
    "going-away",
    "invalid-range",
    "invalid-joining-request-id",
  ];
  return all.find((c) => registered(c, draft, of) === code);
}
