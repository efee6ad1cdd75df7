/**
 * Field readers and writers for moq-transport: the moq-lite {@link Reader} and {@link Writer}
 * with the draft's varint (QUIC on 14-16, leading-ones on 17+), and control message framing:
 * `Type (i)`, `Length (16)` big-endian, then exactly that many bytes, on every draft.
 *
 * @module
 */
import { Reader, Writer } from "../buffer.ts";
import { decodeError } from "../error.ts";
import { readVarint, readVarintBig, varintSize, writeVarint } from "../varint.ts";
import { type Draft, usesLeadingOnes } from "./draft.ts";
import { leadingOnesSize, readLeadingOnes, writeLeadingOnes } from "./leading_ones.ts";

/** Largest control message body: its length is a 16-bit field. */
export const MAX_CONTROL_SIZE = 0xffff;

/** A varint of `draft` as a bigint: [value, next offset], or undefined when `buf` ends first. */
export function readDraftVarintBig(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
  end: number = buf.length,
): [bigint, number] | undefined {
  if (usesLeadingOnes(draft)) return readLeadingOnes(buf, offset, draft, end);
  return readVarintBig(buf, offset, end);
}

/** A varint of `draft` as a number (a decode error above 2^53-1), or undefined when short. */
export function readDraftVarint(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
  end: number = buf.length,
): [number, number] | undefined {
  if (!usesLeadingOnes(draft)) return readVarint(buf, offset, end);
  // One byte below 0x80 is the same value in both codecs: the common case, without a bigint.
  const first = offset < end ? buf[offset] ?? 0 : -1;
  if (first >= 0 && first < 0x80) return [first, offset + 1];
  const r = readLeadingOnes(buf, offset, draft, end);
  if (!r) return undefined;
  if (r[0] > BigInt(Number.MAX_SAFE_INTEGER)) throw decodeError(`varint ${r[0]} exceeds 2^53-1`);
  return [Number(r[0]), r[1]];
}

/** Bytes a varint of `draft` takes. */
export function draftVarintSize(value: number | bigint, draft: Draft): number {
  return usesLeadingOnes(draft) ? leadingOnesSize(value) : varintSize(value);
}

/** Writes a varint of `draft` into `buf` at `offset` (the caller made room); the new offset. */
export function writeDraftVarint(
  buf: Uint8Array,
  offset: number,
  value: number | bigint,
  draft: Draft,
): number {
  return usesLeadingOnes(draft)
    ? writeLeadingOnes(buf, offset, value)
    : writeVarint(buf, offset, value);
}

/** The bytes of one varint of `draft`. */
export function encodeDraftVarint(value: number | bigint, draft: Draft): Uint8Array {
  const out = new Uint8Array(draftVarintSize(value, draft));
  writeDraftVarint(out, 0, value, draft);
  return out;
}

/** Reads a body's fields with the draft's varints. */
export class IetfReader extends Reader {
  readonly draft: Draft;

  constructor(buf: Uint8Array, draft: Draft, offset = 0, end = buf.length) {
    super(buf, offset, end);
    this.draft = draft;
  }

  override varint(what = "varint"): number {
    const r = readDraftVarint(this.buf, this.offset, this.draft, this.end);
    if (!r) throw decodeError(`message too short: ${what} runs past the end`);
    this.offset = r[1];
    return r[0];
  }

  override varintBig(what = "varint"): bigint {
    const r = readDraftVarintBig(this.buf, this.offset, this.draft, this.end);
    if (!r) throw decodeError(`message too short: ${what} runs past the end`);
    this.offset = r[1];
    return r[0];
  }

  /** A 16-bit big-endian field. */
  u16(what = "u16"): number {
    return (this.u8(what) << 8) | this.u8(what);
  }
}

/** Writes fields with the draft's varints. */
export class IetfWriter extends Writer {
  readonly draft: Draft;

  constructor(draft: Draft, capacity = 64) {
    super(capacity);
    this.draft = draft;
  }

  override varint(value: number | bigint): this {
    // Below 64 both codecs write the value as one byte.
    if (typeof value === "number" && value >= 0 && value < 64 && Number.isInteger(value)) {
      return this.u8(value);
    }
    return this.bytes(encodeDraftVarint(value, this.draft));
  }
}

/** Where a control message lies in a buffer: its type and its body's bounds. */
export interface ControlFrame {
  type: number;
  start: number;
  end: number;
}

/**
 * Locates a control message (`Type (i)`, `Length (16)`, body) at `offset`; undefined = need more
 * bytes. The 16-bit length bounds the body at 64 KiB before anything is buffered.
 */
export function frameControl(
  buf: Uint8Array,
  offset: number,
  draft: Draft,
): ControlFrame | undefined {
  const t = readDraftVarint(buf, offset, draft);
  if (!t) return undefined;
  const [type, at] = t;
  if (at + 2 > buf.length) return undefined;
  const length = ((buf[at] ?? 0) << 8) | (buf[at + 1] ?? 0);
  const start = at + 2;
  if (start + length > buf.length) return undefined;
  return { type, start, end: start + length };
}

/** `Type (i)`, `Length (16)`, then the body `body` writes (at most 64 KiB). */
export function encodeControl(
  draft: Draft,
  type: number,
  body: (w: IetfWriter) => void,
): Uint8Array<ArrayBuffer> {
  const inner = new IetfWriter(draft);
  body(inner);
  if (inner.length > MAX_CONTROL_SIZE) {
    throw new RangeError(`control message 0x${type.toString(16)} of ${inner.length} bytes`);
  }
  return new IetfWriter(draft, inner.length + 12).varint(type).u16(inner.length)
    .bytes(inner.finish()).finish();
}
