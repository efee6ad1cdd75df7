/**
 * The HPACK Huffman code (RFC 7541 Appendix B), which QPACK reuses for string literals
 * (RFC 9204 section 4.1.2).
 *
 * The 257-entry table (256 octets plus EOS) was transcribed from two independent copies that agree
 * entry for entry: Python `hpack` 4.2.0 `huffman_constants.py` and Go `golang.org/x/net` v0.62.0
 * `http2/hpack/tables.go`. The code is canonical (codes ascend by length, then by symbol), which
 * `tests/qpack_test.ts` re-derives from the lengths alone.
 *
 * Decoding walks a binary tree built once from the table: one array read per input bit.
 *
 * @module
 */

/** Malformed or unsupported QPACK or Huffman input (and un-encodable fields on the way out). */
export class QpackError extends Error {
  override name = "QpackError";
}

/** The EOS symbol: 30 one-bits; a decoder must never see it in the data (RFC 7541 5.2). */
export const HUFFMAN_EOS = 256;

/** Code of each symbol 0..256, right-aligned in its bit length; eight symbols a row. */
// deno-fmt-ignore
export const HUFFMAN_CODES: readonly number[] = [
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7, // 0x00
  0xfffffe8, 0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec, // 0x08
  0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3, // 0x10
  0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb, // 0x18
  0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa, // 0x20
  0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18, // 0x28
  0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, // 0x30
  0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc, // 0x38
  0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, // 0x40
  0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, // 0x48
  0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, // 0x50
  0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22, // 0x58
  0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26, // 0x60
  0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7, // 0x68
  0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78, // 0x70
  0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd, 0xffffffc, // 0x78
  0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9, // 0x80
  0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf, // 0x88
  0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3, // 0x90
  0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef, // 0x98
  0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde, // 0xa0
  0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec, // 0xa8
  0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef, // 0xb0
  0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1, // 0xb8
  0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec, // 0xc0
  0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed, // 0xc8
  0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2, // 0xd0
  0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5, // 0xd8
  0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3, // 0xe0
  0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4, // 0xe8
  0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea, // 0xf0
  0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee, // 0xf8
  0x3fffffff, // 0x100
];

/** Bit length of each symbol 0..256 (5 to 30); sixteen symbols a row. */
// deno-fmt-ignore
export const HUFFMAN_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0x00
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 0x10
   6, 10, 10, 12, 13,  6,  8, 11, 10, 10,  8, 11,  8,  6,  6,  6, // 0x20
   5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8, 15,  6, 12, 10, // 0x30
  13,  6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7, // 0x40
   7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8, 13, 19, 13, 14,  6, // 0x50
  15,  5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5, // 0x60
   6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7, 15, 11, 14, 13, 28, // 0x70
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 0x80
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 0x90
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 0xa0
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 0xb0
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 0xc0
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 0xd0
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 0xe0
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 0xf0
  30, // 0x100
];

/**
 * Decoding tree, two slots per internal node (slot 2n for bit 0, 2n+1 for bit 1). A slot holds
 * the child's node number when positive, or `-(symbol + 1)` for a leaf; node 0 is the root.
 */
const TREE: Int16Array = buildTree();

function buildTree(): Int16Array {
  // A complete prefix code with 257 leaves has exactly 256 internal nodes.
  const tree = new Int16Array(2 * 256);
  let nodes = 1;
  for (let sym = 0; sym <= HUFFMAN_EOS; sym++) {
    const code = HUFFMAN_CODES[sym];
    const len = HUFFMAN_LENGTHS[sym];
    let node = 0;
    for (let i = len - 1; i > 0; i--) {
      const slot = 2 * node + ((code >>> i) & 1);
      if (tree[slot] === 0) tree[slot] = nodes++;
      if (tree[slot] < 0) throw new Error(`huffman table is not a prefix code at symbol ${sym}`);
      node = tree[slot];
    }
    const slot = 2 * node + (code & 1);
    if (tree[slot] !== 0) throw new Error(`huffman table is not a prefix code at symbol ${sym}`);
    tree[slot] = -(sym + 1);
  }
  if (nodes !== 256) throw new Error(`huffman table is not complete: ${nodes} internal nodes`);
  return tree;
}

/** Length in bytes of the Huffman encoding of `bytes`, padding included. */
export function huffmanEncodedLength(bytes: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < bytes.length; i++) bits += HUFFMAN_LENGTHS[bytes[i]];
  return Math.ceil(bits / 8);
}

/** Huffman-encodes `bytes`, padding the last byte with the most significant bits of EOS (ones). */
export function huffmanEncode(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(bytes));
  let pos = 0;
  // `acc` holds `n` pending bits (n < 8 between symbols, < 38 after adding one), so plain
  // arithmetic stays exact where 32-bit shifts would not.
  let acc = 0;
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const len = HUFFMAN_LENGTHS[bytes[i]];
    acc = acc * 2 ** len + HUFFMAN_CODES[bytes[i]];
    n += len;
    while (n >= 8) {
      n -= 8;
      const scale = 2 ** n;
      const byte = Math.floor(acc / scale);
      out[pos++] = byte;
      acc -= byte * scale;
    }
  }
  if (n > 0) out[pos++] = (acc << (8 - n)) | (0xff >> n);
  return out;
}

/**
 * Decodes a Huffman-coded string. Throws `QpackError` if the data holds EOS, or if the padding
 * after the last symbol is longer than 7 bits or not all ones (RFC 7541 section 5.2).
 */
export function huffmanDecode(bytes: Uint8Array): Uint8Array {
  // The shortest code is 5 bits, so n bytes decode to at most floor(8n / 5) symbols.
  const out = new Uint8Array(Math.floor((bytes.length * 8) / 5));
  let pos = 0;
  let node = 0;
  let depth = 0; // bits read since the last complete symbol
  let ones = true; // whether all of them were ones
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    for (let shift = 7; shift >= 0; shift--) {
      const bit = (byte >> shift) & 1;
      const next = TREE[2 * node + bit];
      if (next < 0) {
        const sym = -next - 1;
        if (sym === HUFFMAN_EOS) throw new QpackError("huffman: EOS symbol in string");
        out[pos++] = sym;
        node = 0;
        depth = 0;
        ones = true;
      } else {
        node = next;
        depth++;
        if (bit === 0) ones = false;
      }
    }
  }
  if (depth > 7) throw new QpackError(`huffman: padding of ${depth} bits (at most 7 allowed)`);
  if (!ones) throw new QpackError("huffman: padding is not a prefix of EOS (all ones)");
  return out.slice(0, pos);
}
