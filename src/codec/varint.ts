/**
 * QUIC variable-length integers (RFC 9000 section 16): 1, 2, 4 or 8 bytes, the top two bits of the
 * first byte giving the length; values up to 2^62-1.
 *
 * JavaScript numbers hold integers exactly only up to 2^53-1, so there are two readers: one for
 * `number` fields (sizes, sequences, durations) that refuses larger values with a clear error,
 * and one for `bigint` identifiers (subscribe ids, hop ids) that take the full range.
 *
 * @module
 */
import { decodeError } from "./error.ts";

/** The largest value a QUIC varint holds. */
export const MAX_VARINT = (1n << 62n) - 1n;

/** How many bytes `value` takes as a varint (shortest form). */
export function varintSize(value: number | bigint): 1 | 2 | 4 | 8 {
  if (typeof value === "bigint") {
    if (value < 0n || value > MAX_VARINT) throw new RangeError(`varint out of range: ${value}`);
    if (value < 0x40n) return 1;
    if (value < 0x4000n) return 2;
    if (value < 0x40000000n) return 4;
    return 8;
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`varint out of range: ${value}`);
  }
  if (value < 0x40) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x40000000) return 4;
  return 8;
}

/** Byte length of the varint whose first byte is `first`. */
export function varintLength(first: number): 1 | 2 | 4 | 8 {
  return (1 << (first >> 6)) as 1 | 2 | 4 | 8;
}

/**
 * Writes `value` at `offset` in shortest form; returns the new offset.
 * The caller guarantees room (see {@link varintSize}).
 */
export function writeVarint(buf: Uint8Array, offset: number, value: number | bigint): number {
  const size = varintSize(value);
  if (size === 8) {
    let v = BigInt(value);
    for (let i = 7; i >= 1; i--) {
      buf[offset + i] = Number(v & 0xffn);
      v >>= 8n;
    }
    buf[offset] = 0xc0 | Number(v);
    return offset + 8;
  }
  const n = Number(value);
  if (size === 1) {
    buf[offset] = n;
  } else if (size === 2) {
    buf[offset] = 0x40 | (n >> 8);
    buf[offset + 1] = n & 0xff;
  } else {
    buf[offset] = 0x80 | (n >>> 24);
    buf[offset + 1] = (n >>> 16) & 0xff;
    buf[offset + 2] = (n >>> 8) & 0xff;
    buf[offset + 3] = n & 0xff;
  }
  return offset + size;
}

/** Reads a varint as a bigint, or `undefined` when `buf` (or `end`) ends first. Returns [value, next offset]. */
export function readVarintBig(
  buf: Uint8Array,
  offset: number,
  end: number = buf.length,
): [bigint, number] | undefined {
  if (offset >= end) return undefined;
  const first = buf[offset] ?? 0;
  const size = varintLength(first);
  if (offset + size > end) return undefined;
  let v = BigInt(first & 0x3f);
  for (let i = 1; i < size; i++) v = (v << 8n) | BigInt(buf[offset + i] ?? 0);
  return [v, offset + size];
}

/**
 * Reads a varint as a number, or `undefined` when `buf` ends first; throws a decode error for
 * values above 2^53-1. Returns [value, next offset].
 */
export function readVarint(
  buf: Uint8Array,
  offset: number,
  end: number = buf.length,
): [number, number] | undefined {
  if (offset >= end) return undefined;
  const first = buf[offset] ?? 0;
  const size = varintLength(first);
  if (offset + size > end) return undefined;
  if (size === 1) return [first, offset + 1];
  if (size === 2) return [((first & 0x3f) << 8) | (buf[offset + 1] ?? 0), offset + 2];
  if (size === 4) {
    const v = (first & 0x3f) * 0x1000000 + ((buf[offset + 1] ?? 0) << 16) +
      ((buf[offset + 2] ?? 0) << 8) + (buf[offset + 3] ?? 0);
    return [v, offset + 4];
  }
  const high = (first & 0x3f) * 0x1000000 + ((buf[offset + 1] ?? 0) << 16) +
    ((buf[offset + 2] ?? 0) << 8) + (buf[offset + 3] ?? 0);
  const low = (buf[offset + 4] ?? 0) * 0x1000000 + ((buf[offset + 5] ?? 0) << 16) +
    ((buf[offset + 6] ?? 0) << 8) + (buf[offset + 7] ?? 0);
  // high holds the top 30 bits; anything at or above 2^21 there exceeds 2^53-1.
  if (high >= 0x200000) {
    throw decodeError(`varint ${(BigInt(high) << 32n) | BigInt(low)} exceeds 2^53-1`);
  }
  return [high * 0x100000000 + low, offset + 8];
}

/** Zigzag-encodes a signed integer (lite-05 frame timestamp deltas): 0, -1, 1, -2 -> 0, 1, 2, 3. */
export function zigzagEncode(value: number): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`zigzag out of range: ${value}`);
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

/** Inverse of {@link zigzagEncode}. */
export function zigzagDecode(value: number): number {
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}
