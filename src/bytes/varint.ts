/**
 * QUIC variable-length integers (RFC 9000 section 16): 1, 2, 4 or 8 bytes, the top two bits of the
 * first byte giving the length; values up to 2^62-1.
 *
 * A leaf module: the transport (HTTP/3 framing) and the codec (moq-lite) both build on it. The
 * reader here returns `bigint`s (the full range); the codec adds a `number` reader that refuses
 * values past 2^53-1 with a protocol error.
 *
 * @module
 */
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
