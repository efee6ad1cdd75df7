/**
 * Group streams (unidirectional, type `0x00`): a GROUP header, then frames until FIN.
 *
 * - GROUP: subscribe id, group sequence; 06 adds the index of the first frame on the stream.
 * - FRAME: 01..04 `size (i)` + payload; 05+ `timestamp delta (i, zigzag)` + size + payload,
 *   the delta against the previous frame of the group (the first against 0).
 *
 * Frame payloads are never copied here: the header decoder reports the payload size and the
 * session forwards those bytes as they arrive.
 *
 * @module
 */
import { ProtocolError, SessionCode, StreamCode } from "../error.ts";
import { type Decoded, decodeSized } from "../message.ts";
import { readVarint, varintSize, writeVarint, zigzagDecode, zigzagEncode } from "../varint.ts";
import { hasFrameBounds, hasFrameTimestamps, type Version } from "./version.ts";
import { Writer } from "../buffer.ts";

/** Largest frame accepted; bigger ones are refused with FrameTooLarge before any buffering. */
export const MAX_FRAME_SIZE = 32 * 1024 * 1024;

/**
 * Written before FIN to end a group stream early where the carrier cannot reset it (Deno's QUIC
 * turns a reset into a FIN): the first byte of a two-byte varint, so the stream ends inside a
 * frame header, which every moq-lite reader must take as a truncated group rather than a whole
 * one ending at a frame boundary. (A carrier that can reset does, with the reason's code, as
 * upstream moq-net does.)
 */
export const TRUNCATED_FRAME_HEADER: Uint8Array<ArrayBuffer> = Uint8Array.of(0x40);

export interface GroupHeader {
  subscribeId: bigint;
  sequence: number;
  /** 06: index of the first frame carried; 0 = the group from its start. Always 0 before 06. */
  frameStart: number;
}

export function decodeGroupHeader(
  buf: Uint8Array,
  version: Version,
  offset = 0,
): Decoded<GroupHeader> | undefined {
  return decodeSized(buf, offset, "GROUP", (r) => ({
    subscribeId: r.varintBig("subscribe id"),
    sequence: r.varint("sequence"),
    frameStart: hasFrameBounds(version) ? r.varint("frame start") : 0,
  }));
}

/**
 * Encodes a group header. It is written once per group per subscriber, so it is built in one
 * exact-size buffer; `before` and `after` reserve that many bytes in front of and behind it (for
 * the stream type and a first frame), so a group stream can start with a single write.
 */
export function encodeGroupHeader(
  msg: GroupHeader,
  version: Version,
  room: { before?: number; after?: number } = {},
): Uint8Array<ArrayBuffer> {
  if (!hasFrameBounds(version) && msg.frameStart !== 0) {
    // The peer would number the frames from 0 and misalign the group.
    throw new RangeError("a group starting past frame 0 needs lite-06");
  }
  const withStart = hasFrameBounds(version);
  const body = varintSize(msg.subscribeId) + varintSize(msg.sequence) +
    (withStart ? varintSize(msg.frameStart) : 0);
  const before = room.before ?? 0;
  const out = new Uint8Array(before + varintSize(body) + body + (room.after ?? 0));
  let at = writeVarint(out, before, body);
  at = writeVarint(out, at, msg.subscribeId);
  at = writeVarint(out, at, msg.sequence);
  if (withStart) writeVarint(out, at, msg.frameStart);
  return out;
}

export interface FrameHeader {
  /** 05+: signed delta against the previous frame's timestamp; 0 before 05. */
  timestampDelta: number;
  /** Payload bytes that follow the header. */
  size: number;
}

/**
 * Decodes a frame header (not its payload). `undefined` = need more bytes; `size` in the result
 * is the header length, `value.size` the payload length.
 */
export function decodeFrameHeader(
  buf: Uint8Array,
  version: Version,
  offset = 0,
  maxSize = MAX_FRAME_SIZE,
): Decoded<FrameHeader> | undefined {
  let at = offset;
  let timestampDelta = 0;
  if (hasFrameTimestamps(version)) {
    const t = readVarint(buf, at);
    if (!t) return undefined;
    timestampDelta = zigzagDecode(t[0]);
    at = t[1];
  }
  const s = readVarint(buf, at);
  if (!s) return undefined;
  if (s[0] > maxSize) {
    throw new ProtocolError(
      `frame of ${s[0]} bytes exceeds the limit of ${maxSize}`,
      SessionCode.ProtocolViolation,
      StreamCode.FrameTooLarge,
    );
  }
  return { value: { timestampDelta, size: s[0] }, size: s[1] - offset };
}

/** Encodes a frame header. */
export function encodeFrameHeader(header: FrameHeader, version: Version): Uint8Array<ArrayBuffer> {
  const stamped = hasFrameTimestamps(version);
  const zz = stamped ? zigzagEncode(header.timestampDelta) : 0;
  const out = new Uint8Array((stamped ? varintSize(zz) : 0) + varintSize(header.size));
  let at = 0;
  if (stamped) at = writeVarint(out, at, zz);
  writeVarint(out, at, header.size);
  return out;
}

/** Encodes a whole frame, header and payload (for tests and small frames; the relay forwards). */
export function encodeFrame(
  payload: Uint8Array,
  version: Version,
  timestampDelta = 0,
): Uint8Array<ArrayBuffer> {
  return new Writer().bytes(encodeFrameHeader({ timestampDelta, size: payload.length }, version))
    .bytes(payload).finish();
}
