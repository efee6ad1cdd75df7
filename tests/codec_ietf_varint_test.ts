/**
 * The leading-ones varint of moq-transport draft 17 and later, against the vectors of the
 * draft's section 1.4.1 as upstream's `moq-net` 0.3.18 tests them (`coding/varint.rs`).
 */
import { deepEqual, equal, throws } from "assert";
import {
  encodeLeadingOnes,
  leadingOnesSize,
  MAX_LEADING_ONES,
  readLeadingOnes,
} from "../src/codec/ietf/leading_ones.ts";
import { ProtocolError } from "../src/codec/error.ts";

const DRAFTS = [17, 18, 19, 20] as const;

Deno.test("the draft's examples decode, and encode back in their shortest form", () => {
  const cases: [number[], bigint, boolean][] = [
    [[0x25], 37n, true],
    [[0x80, 0x25], 37n, false], // a longer form of 37: decodes, never written
    [[0xbb, 0xbd], 15_293n, true],
    [[0xfa, 0xa1, 0xa0, 0xe4, 0x03, 0xd8], 2_893_212_287_960n, true],
    [[0xfe, 0xfa, 0x31, 0x8f, 0xa8, 0xe3, 0xca, 0x11], 70_423_237_261_249_041n, true],
    [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], MAX_LEADING_ONES, true],
  ];
  for (const draft of DRAFTS) {
    for (const [bytes, value, shortest] of cases) {
      deepEqual(readLeadingOnes(Uint8Array.from(bytes), 0, draft), [value, bytes.length]);
      if (shortest) deepEqual([...encodeLeadingOnes(value)], bytes, `encode ${value}`);
    }
  }
});

Deno.test("each length's boundaries round-trip in the length the table gives", () => {
  const cases: [bigint, number][] = [
    [0n, 1],
    [(1n << 7n) - 1n, 1],
    [1n << 7n, 2],
    [(1n << 14n) - 1n, 2],
    [1n << 14n, 3],
    [(1n << 21n) - 1n, 3],
    [1n << 21n, 4],
    [(1n << 28n) - 1n, 4],
    [1n << 28n, 5],
    [(1n << 35n) - 1n, 5],
    [1n << 35n, 6],
    [(1n << 42n) - 1n, 6],
    [1n << 42n, 8], // never the 7-byte form
    [(1n << 56n) - 1n, 8],
    [1n << 56n, 9],
    [MAX_LEADING_ONES, 9],
  ];
  for (const [value, size] of cases) {
    equal(leadingOnesSize(value), size, `size of ${value}`);
    const bytes = encodeLeadingOnes(value);
    equal(bytes.length, size);
    deepEqual(readLeadingOnes(bytes, 0, 17), [value, size], `round trip of ${value}`);
  }
  throws(() => leadingOnesSize(-1), RangeError);
  throws(() => leadingOnesSize(MAX_LEADING_ONES + 1n), RangeError);
});

Deno.test("the 7-byte form is reserved on draft 17 and read on draft 18 and later", () => {
  // As upstream's test: 0x1234_5678_9ABC as 1111110x (x = bit 48), then its low 48 bits.
  const value = 0x1234_5678_9abcn;
  const bytes = [0xfc | Number((value >> 48n) & 1n)];
  for (let shift = 40n; shift >= 0n; shift -= 8n) bytes.push(Number((value >> shift) & 0xffn));
  equal(bytes.length, 7);
  throws(() => readLeadingOnes(Uint8Array.from(bytes), 0, 17), ProtocolError);
  throws(() => readLeadingOnes(Uint8Array.from([0xfc]), 0, 17), ProtocolError);
  for (const draft of [18, 19, 20]) {
    deepEqual(readLeadingOnes(Uint8Array.from(bytes), 0, draft), [value, 7]);
  }
});

Deno.test("a varint cut short reads as not there yet, at any offset", () => {
  for (const value of [200n, 70_000n, 1n << 40n, MAX_LEADING_ONES]) {
    const bytes = Uint8Array.from([0x00, ...encodeLeadingOnes(value)]);
    for (let end = 1; end < bytes.length; end++) {
      equal(readLeadingOnes(bytes, 1, 20, end), undefined, `${value} cut at ${end}`);
    }
    deepEqual(readLeadingOnes(bytes, 1, 20), [value, bytes.length]);
  }
  equal(readLeadingOnes(new Uint8Array(0), 0, 20), undefined);
});
