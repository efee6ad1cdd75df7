/**
 * The varint of moq-transport draft 17 and later (its section 1.4.1; `moq-net` 0.3.18
 * `coding/varint.rs`): the count of leading one bits in the first byte says how many bytes
 * follow. Drafts 14 to 16 use QUIC varints (`bytes/varint.ts`) instead.
 *
 * | first byte | bytes | value bits |
 * |------------|-------|------------|
 * | `0xxxxxxx` | 1     | 7          |
 * | `10xxxxxx` | 2     | 14         |
 * | `110xxxxx` | 3     | 21         |
 * | `1110xxxx` | 4     | 28         |
 * | `11110xxx` | 5     | 35         |
 * | `111110xx` | 6     | 42         |
 * | `1111110x` | 7     | 49 (draft 18 on; reserved, so invalid, on draft 17) |
 * | `11111110` | 8     | 56         |
 * | `11111111` | 9     | 64         |
 *
 * Pure: bytes in, values out. Encoding always takes the shortest form, never the 7-byte one
 * (as upstream: the 8-byte form is valid on every draft).
 *
 * @module
 */
import { decodeError } from "../error.ts";

/** The largest value the 9-byte form carries. */
export const MAX_LEADING_ONES = (1n << 64n) - 1n;

/** Whether a draft accepts the 7-byte form (`1111110x`): draft 18 and later. */
export function acceptsSevenByteForm(draft: number): boolean {
  return draft >= 18;
}

/** Number of leading one bits of a byte (0 to 8). */
function leadingOnes(byte: number): number {
  let ones = 0;
  for (let mask = 0x80; mask > 0 && (byte & mask) !== 0; mask >>= 1) ones++;
  return ones;
}

/**
 * Bytes of the varint whose first byte is `first`, or undefined for the 7-byte form on a draft
 * that reserves it.
 */
export function leadingOnesLength(first: number, draft: number): number | undefined {
  const ones = leadingOnes(first);
  if (ones === 6 && !acceptsSevenByteForm(draft)) return undefined;
  return ones === 8 ? 9 : ones + 1;
}

/**
 * Reads a varint at `offset`: [value, next offset], or undefined when `buf` ends first. A
 * reserved form is a decode error.
 */
export function readLeadingOnes(
  buf: Uint8Array,
  offset: number,
  draft: number,
  end: number = buf.length,
): [bigint, number] | undefined {
  if (offset >= end) return undefined;
  const first = buf[offset] ?? 0;
  const size = leadingOnesLength(first, draft);
  if (size === undefined) {
    throw decodeError(
      `varint: 0x${first.toString(16)} starts the 7-byte form draft ${draft} reserves`,
    );
  }
  if (offset + size > end) return undefined;
  // The value bits of the first byte: none for the 8- and 9-byte forms.
  const ones = size === 9 ? 8 : size - 1;
  let value = ones >= 7 ? 0n : BigInt(first & (0xff >> (ones + 1)));
  for (let i = 1; i < size; i++) value = (value << 8n) | BigInt(buf[offset + i] ?? 0);
  return [value, offset + size];
}

/** Bytes `value` takes in its shortest form (never the 7-byte one). */
export function leadingOnesSize(value: number | bigint): number {
  const v = BigInt(value);
  if (v < 0n || v > MAX_LEADING_ONES) throw new RangeError(`varint out of range: ${value}`);
  for (const [bits, size] of [[7n, 1], [14n, 2], [21n, 3], [28n, 4], [35n, 5], [42n, 6]] as const) {
    if (v < 1n << bits) return size;
  }
  return v < 1n << 56n ? 8 : 9;
}

/** Writes `value` at `offset` in its shortest form; returns the new offset (the caller makes room). */
export function writeLeadingOnes(buf: Uint8Array, offset: number, value: number | bigint): number {
  const v = BigInt(value);
  const size = leadingOnesSize(v);
  // The prefix: (size - 1) ones then a zero, or eight ones for the 8- and 9-byte forms.
  const prefix = size >= 8 ? (size === 8 ? 0xfe : 0xff) : (0xff << (8 - (size - 1))) & 0xff;
  const payloadBytes = size - 1;
  let rest = v;
  for (let i = size - 1; i >= size - payloadBytes; i--) {
    buf[offset + i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  buf[offset] = size >= 8 ? prefix : prefix | Number(rest);
  return offset + size;
}

/** The shortest encoding of `value`, as bytes. */
export function encodeLeadingOnes(value: number | bigint): Uint8Array {
  const out = new Uint8Array(leadingOnesSize(value));
  writeLeadingOnes(out, 0, value);
  return out;
}
