/**
 * moq-lite's use of QUIC varints: the byte-level primitives live in `bytes/varint.ts`; here, a
 * `number` reader for fields that fit one (sizes, sequences, durations), which refuses larger
 * values with a decode error, and zigzag for signed timestamp deltas.
 *
 * @module
 */
import { varintLength } from "../bytes/varint.ts";
import { decodeError } from "./error.ts";

export {
  MAX_VARINT,
  readVarintBig,
  varintLength,
  varintSize,
  writeVarint,
} from "../bytes/varint.ts";

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
