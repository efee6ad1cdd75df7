/**
 * Objects on a subgroup stream (WIRE.md 4.3), repeated after the SUBGROUP_HEADER until FIN:
 *
 * ```
 * Object ID Delta (i)
 * [Extensions Length (i), extensions]   when the subgroup type has 0x01
 * Payload Length (i)
 * [Object Status (i)]                   only when the length is 0 (every draft 14-20)
 * payload
 * ```
 *
 * The first object's delta is its Object ID; each later one is the previous id + delta + 1, so
 * a group of objects 0, 1, 2 ... is all zero deltas. What each upstream accepts:
 *
 * - upstream `moq-net` (`ietf/subscriber.rs` `run_group`) refuses any non-zero delta
 *   (Unsupported) and **`@moq/net` does too**, the first object's included
 *   (`ietf/object.js` `Frame.decode`: "object IDs must start at 0"); both write 0 throughout,
 *   except that `@moq/net` writes the first object's absolute id for a trimmed head. This codec
 *   decodes any delta (the session decides what it serves).
 * - status: 0 Normal (an empty object), 0x3 END_OF_GROUP, 0x4 END_OF_TRACK, and on 14/15 0x1
 *   OBJECT_DOES_NOT_EXIST; anything else is a protocol error (draft 16+ text; upstream answers
 *   Unsupported). **DIFF**: `@moq/net` on a 0x08 (FIN ends the group) stream accepts only
 *   status 0 and throws on 0x3; without 0x08 it takes both 0 and 0x3 as the end of the group
 *   (`ietf/object.js` `Frame.decode`, "TODO status === 0 should be an empty frame").
 *
 * Decoders stop at the payload: the session reads `length` payload bytes itself.
 *
 * @module
 */
import { decodeError, ProtocolError, SessionCode, StreamCode } from "../error.ts";
import type { Decoded } from "../message.ts";
import { type Draft, hasDoesNotExistStatus, hasPropertiesOnlyOnNormal } from "./draft.ts";
import { MAX_EXTENSIONS_SIZE } from "./extensions.ts";
import { draftVarintSize, readDraftVarint, writeDraftVarint } from "./wire.ts";

/** Object Status values. */
export const ObjectStatus = {
  Normal: 0x0,
  /** Drafts 14 and 15 only. */
  DoesNotExist: 0x1,
  EndOfGroup: 0x3,
  EndOfTrack: 0x4,
} as const;
export type ObjectStatus = typeof ObjectStatus[keyof typeof ObjectStatus];

/** Largest object payload accepted, the moq-lite frame limit (refused before any buffering). */
export const MAX_OBJECT_SIZE = 32 * 1024 * 1024;

/** Whether `status` is an Object Status `draft` defines. */
export function isObjectStatus(status: number, draft: Draft): boolean {
  return status === ObjectStatus.Normal || status === ObjectStatus.EndOfGroup ||
    status === ObjectStatus.EndOfTrack ||
    (status === ObjectStatus.DoesNotExist && hasDoesNotExistStatus(draft));
}

/** Throws a decode error for a status the draft does not define, or properties on a non-Normal
 * object where the draft forbids them (17+). */
export function checkObjectStatus(
  status: number,
  draft: Draft,
  extensions: Uint8Array | undefined,
): void {
  if (!isObjectStatus(status, draft)) {
    throw decodeError(`object status 0x${status.toString(16)} unknown on draft ${draft}`);
  }
  if (
    status !== ObjectStatus.Normal && extensions !== undefined && extensions.length > 0 &&
    hasPropertiesOnlyOnNormal(draft)
  ) {
    throw decodeError(`object status 0x${status.toString(16)} with properties`);
  }
}

/** The same checks for an encoder, as a RangeError (our own bug, not the peer's). */
export function assertObjectStatus(
  status: number,
  draft: Draft,
  extensions: Uint8Array | undefined,
): void {
  try {
    checkObjectStatus(status, draft, extensions);
  } catch (e) {
    throw new RangeError((e as Error).message);
  }
}

/**
 * `Length (i)` and an extensions block at `offset`: [a copy of the block, next offset], or
 * undefined when short. The length is checked against {@link MAX_EXTENSIONS_SIZE} before the
 * block is waited for. (A copy: the caller's buffer is consumed behind the header.)
 */
export function readExtensionBlock(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
  end: number = buf.length,
): [Uint8Array, number] | undefined {
  const l = readDraftVarint(buf, offset, draft, end);
  if (!l) return undefined;
  const [length, start] = l;
  if (length > MAX_EXTENSIONS_SIZE) {
    throw new ProtocolError(
      `object extensions of ${length} bytes exceed the limit of ${MAX_EXTENSIONS_SIZE}`,
    );
  }
  if (start + length > end) return undefined;
  return [buf.slice(start, start + length), start + length];
}

/** Checks a payload length against the limit. */
export function checkObjectSize(length: number, maxSize: number): void {
  if (length > maxSize) {
    throw new ProtocolError(
      `object of ${length} bytes exceeds the limit of ${maxSize}`,
      SessionCode.ProtocolViolation,
      StreamCode.FrameTooLarge,
    );
  }
}

export interface ObjectHeader {
  objectId: number;
  /** The extensions block (without its length) when the subgroup type says objects carry one. */
  extensions?: Uint8Array;
  /** Payload bytes that follow the header. */
  length: number;
  /** Object Status, present exactly when `length` is 0. */
  status?: number;
}

/** What the object decoder needs from its stream. */
export interface ObjectContext {
  /** The subgroup type's extensions bit. */
  extensions: boolean;
  /** The previous object's id on this stream, or undefined for the first. */
  previous: number | undefined;
}

/**
 * Decodes one object header (not its payload) at `offset`. `undefined` = need more bytes;
 * `size` is the header's length, `value.length` the payload's.
 */
export function decodeObjectHeader(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
  ctx: ObjectContext,
  maxSize: number = MAX_OBJECT_SIZE,
): Decoded<ObjectHeader> | undefined {
  const d = readDraftVarint(buf, offset, draft);
  if (!d) return undefined;
  let at = d[1];
  const objectId = ctx.previous === undefined ? d[0] : ctx.previous + d[0] + 1;
  if (objectId > Number.MAX_SAFE_INTEGER) {
    throw decodeError(`object id ${ctx.previous} + ${d[0]} + 1 exceeds 2^53-1`);
  }
  let extensions: Uint8Array | undefined;
  if (ctx.extensions) {
    const e = readExtensionBlock(buf, at, draft);
    if (!e) return undefined;
    [extensions, at] = e;
  }
  const l = readDraftVarint(buf, at, draft);
  if (!l) return undefined;
  const [length] = l;
  at = l[1];
  checkObjectSize(length, maxSize);
  const header: ObjectHeader = { objectId, length };
  if (extensions !== undefined) header.extensions = extensions;
  if (length === 0) {
    const s = readDraftVarint(buf, at, draft);
    if (!s) return undefined;
    checkObjectStatus(s[0], draft, extensions);
    header.status = s[0];
    at = s[1];
  }
  return { value: header, size: at - offset };
}

/** What {@link encodeObjectHeader} writes. */
export interface ObjectHeaderFields {
  objectId: number;
  /** The previous object's id on this stream, or undefined for the first. */
  previous: number | undefined;
  /** The extensions block (without its length); written empty when the type says objects carry
   * one and this has none. */
  extensions?: Uint8Array;
  length: number;
  /** Only with `length` 0 (Normal when absent). */
  status?: number;
}

/** Encodes one object header; the payload goes after it. `flags` are the subgroup's. */
export function encodeObjectHeader(
  obj: ObjectHeaderFields,
  draft: Draft,
  flags: { extensions: boolean },
): Uint8Array<ArrayBuffer> {
  const delta = obj.previous === undefined ? obj.objectId : obj.objectId - obj.previous - 1;
  if (!Number.isSafeInteger(delta) || delta < 0) {
    throw new RangeError(`object id ${obj.objectId} does not follow ${obj.previous}`);
  }
  const ext = obj.extensions;
  if (!flags.extensions && ext !== undefined && ext.length > 0) {
    throw new RangeError("extensions on a subgroup whose type carries none");
  }
  if (ext !== undefined && ext.length > MAX_EXTENSIONS_SIZE) {
    throw new RangeError(`extensions of ${ext.length} bytes`);
  }
  if (obj.length !== 0 && obj.status !== undefined && obj.status !== ObjectStatus.Normal) {
    throw new RangeError(`object status ${obj.status} on an object of ${obj.length} bytes`);
  }
  const status = obj.length === 0 ? obj.status ?? ObjectStatus.Normal : undefined;
  if (status !== undefined) assertObjectStatus(status, draft, ext);
  const extLength = flags.extensions ? ext?.length ?? 0 : 0;
  const out = new Uint8Array(
    draftVarintSize(delta, draft) +
      (flags.extensions ? draftVarintSize(extLength, draft) + extLength : 0) +
      draftVarintSize(obj.length, draft) +
      (status !== undefined ? draftVarintSize(status, draft) : 0),
  );
  let at = writeDraftVarint(out, 0, delta, draft);
  if (flags.extensions) {
    at = writeDraftVarint(out, at, extLength, draft);
    if (ext && extLength > 0) out.set(ext, at);
    at += extLength;
  }
  at = writeDraftVarint(out, at, obj.length, draft);
  if (status !== undefined) writeDraftVarint(out, at, status, draft);
  return out;
}
