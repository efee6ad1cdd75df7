/**
 * HPACK Huffman (RFC 7541 Appendix B) and static-table QPACK (RFC 9204): known vectors from the
 * RFCs, vectors produced by an independent encoder (ls-qpack), hand-built field sections, and
 * everything the decoder must refuse when our dynamic table capacity is 0.
 *
 * The ls-qpack vectors were made once with Python `pylsqpack` 1.0.0 (`Encoder.apply_settings(0, 0)`,
 * so static table and literals only) and are pinned here as hex; ls-qpack's decoder also read back
 * our own encodings of the same fields. Nothing here runs Python.
 */
import { deepEqual, equal, ok, throws } from "assert";
import {
  HUFFMAN_CODES,
  HUFFMAN_EOS,
  HUFFMAN_LENGTHS,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
} from "../src/transport/huffman.ts";
import {
  decodeFieldSection,
  decodeInteger,
  encodeFieldSection,
  encodeInteger,
  QpackError,
  STATIC_TABLE,
} from "../src/transport/qpack.ts";

const text = new TextEncoder();
const latin = new TextDecoder("latin1");

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function unhex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** mulberry32: a small seeded PRNG so failures reproduce. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rejects(fn: () => unknown, pattern: RegExp) {
  throws(fn, (e: unknown) => e instanceof QpackError && pattern.test(e.message));
}

// -----------------------------------------------------------------------------------------------
// Huffman

Deno.test("huffman: table is the canonical complete code of RFC 7541 Appendix B", () => {
  equal(HUFFMAN_CODES.length, 257);
  equal(HUFFMAN_LENGTHS.length, 257);
  // Canonical: sorted by (length, symbol), each code is the previous plus one, shifted to length.
  const order = [...Array(257).keys()].sort((a, b) =>
    HUFFMAN_LENGTHS[a] - HUFFMAN_LENGTHS[b] || a - b
  );
  let code = 0;
  let len = 0;
  let kraft = 0;
  for (const sym of order) {
    code *= 2 ** (HUFFMAN_LENGTHS[sym] - len);
    len = HUFFMAN_LENGTHS[sym];
    equal(HUFFMAN_CODES[sym], code, `symbol ${sym}`);
    code++;
    kraft += 2 ** -len;
  }
  equal(kraft, 1);
  // Spot checks against the RFC's printed table.
  equal(HUFFMAN_CODES[0x30], 0x0); // '0' 00000
  equal(HUFFMAN_LENGTHS[0x30], 5);
  equal(HUFFMAN_CODES[0x61], 0x3); // 'a' 00011
  equal(HUFFMAN_CODES[0x20], 0x14); // ' ' 010100
  equal(HUFFMAN_LENGTHS[0x20], 6);
  equal(HUFFMAN_CODES[0xff], 0x3ffffee);
  equal(HUFFMAN_LENGTHS[0xff], 26);
  equal(HUFFMAN_CODES[HUFFMAN_EOS], 0x3fffffff);
  equal(HUFFMAN_LENGTHS[HUFFMAN_EOS], 30);
});

Deno.test("huffman: RFC 7541 C.4 vectors", () => {
  const vectors: [string, string][] = [
    ["www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"],
    ["no-cache", "a8eb10649cbf"],
    ["custom-key", "25a849e95ba97d7f"],
    ["custom-value", "25a849e95bb8e8b4bf"],
    // RFC 7541 C.6 (response examples with Huffman)
    ["302", "6402"],
    ["private", "aec3771a4b"],
    ["Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"],
    ["https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"],
  ];
  for (const [plain, coded] of vectors) {
    const bytes = text.encode(plain);
    equal(hex(huffmanEncode(bytes)), coded, plain);
    equal(huffmanEncodedLength(bytes), coded.length / 2, plain);
    equal(latin.decode(huffmanDecode(unhex(coded))), plain);
  }
  equal(huffmanEncode(new Uint8Array()).length, 0);
  equal(huffmanDecode(new Uint8Array()).length, 0);
});

Deno.test("huffman: every octet, and random strings, round trip", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  deepEqual(huffmanDecode(huffmanEncode(all)), all);
  for (let b = 0; b < 256; b++) {
    const one = Uint8Array.of(b);
    const coded = huffmanEncode(one);
    equal(coded.length, Math.ceil(HUFFMAN_LENGTHS[b] / 8));
    deepEqual(huffmanDecode(coded), one);
  }
  const random = rng(7);
  for (let n = 0; n < 500; n++) {
    const len = Math.floor(random() * 64);
    // Half the strings are printable ASCII (short codes), half arbitrary octets (long codes).
    const ascii = n % 2 === 0;
    const bytes = Uint8Array.from(
      { length: len },
      () => ascii ? 0x20 + Math.floor(random() * 95) : Math.floor(random() * 256),
    );
    const coded = huffmanEncode(bytes);
    equal(coded.length, huffmanEncodedLength(bytes));
    deepEqual(huffmanDecode(coded), bytes, hex(bytes));
  }
});

Deno.test("huffman: rejects bad padding and EOS", () => {
  // 'a' is 00011: 0x1f is 'a' plus three one-bits of padding, which is fine.
  deepEqual(huffmanDecode(Uint8Array.of(0x1f)), text.encode("a"));
  // 'a' then 11 one-bits: padding longer than 7 bits.
  rejects(() => huffmanDecode(Uint8Array.of(0x1f, 0xff)), /padding of 11 bits/);
  // A whole byte of ones after complete symbols is 8 bits of padding.
  rejects(() => huffmanDecode(Uint8Array.of(0xff)), /padding of 8 bits/);
  // 'a' then 000: padding not all ones.
  rejects(() => huffmanDecode(Uint8Array.of(0x18)), /not a prefix of EOS/);
  // "www.example.com" with its last padding bit cleared.
  rejects(() => huffmanDecode(unhex("f1e3c2e5f23a6ba0ab90f4fe")), /not a prefix of EOS/);
  // EOS (30 ones) plus two padding ones; and EOS after 'a'.
  rejects(() => huffmanDecode(unhex("ffffffff")), /EOS/);
  rejects(() => huffmanDecode(unhex("1fffffffff")), /EOS/);
});

// -----------------------------------------------------------------------------------------------
// QPACK integers and static table

Deno.test("qpack: prefixed integers (RFC 7541 C.1) and their limits", () => {
  const enc = (flags: number, prefix: number, value: number) => {
    const out: number[] = [];
    encodeInteger(out, flags, prefix, value);
    return hex(Uint8Array.from(out));
  };
  equal(enc(0, 5, 10), "0a");
  equal(enc(0xe0, 5, 1337), "ff9a0a");
  equal(enc(0, 8, 42), "2a");
  equal(enc(0, 3, 7), "0700");
  equal(enc(0xc0, 6, 63), "ff00");
  deepEqual(decodeInteger(unhex("ff9a0a"), 0, 5), [1337, 3]);
  deepEqual(decodeInteger(unhex("ea"), 0, 5), [10, 1]); // flag bits above the prefix ignored
  const max = Number.MAX_SAFE_INTEGER;
  for (const prefix of [3, 4, 5, 6, 7, 8]) {
    for (const v of [0, 1, 126, 127, 128, 255, 16383, 2 ** 31, 2 ** 32 + 5, max]) {
      const out: number[] = [];
      encodeInteger(out, 0, prefix, v);
      deepEqual(decodeInteger(Uint8Array.from(out), 0, prefix), [v, out.length], `${prefix}/${v}`);
    }
  }
  // 2^53 with a 7-bit prefix: 127 + (2^53 - 127) in continuation bytes.
  const big: number[] = [0x7f];
  let rest = 2 ** 53 - 127;
  while (rest >= 128) {
    big.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  big.push(rest);
  rejects(() => decodeInteger(Uint8Array.from(big), 0, 7), /exceeds 2\^53/);
  rejects(() => decodeInteger(unhex("7fffffffffffffffffff01"), 0, 7), /exceeds 2\^53/);
  // Endless zero continuation bytes are refused too.
  rejects(() => decodeInteger(unhex("7f808080808080808000"), 0, 7), /exceeds 2\^53/);
  rejects(() => decodeInteger(unhex("7f8080"), 0, 7), /truncated integer/);
  rejects(() => decodeInteger(new Uint8Array(), 0, 7), /truncated integer/);
});

Deno.test("qpack: static table (RFC 9204 Appendix A)", async () => {
  equal(STATIC_TABLE.length, 99);
  deepEqual(STATIC_TABLE[0], [":authority", ""]);
  deepEqual(STATIC_TABLE[1], [":path", "/"]);
  deepEqual(STATIC_TABLE[15], [":method", "CONNECT"]);
  deepEqual(STATIC_TABLE[17], [":method", "GET"]);
  deepEqual(STATIC_TABLE[23], [":scheme", "https"]);
  deepEqual(STATIC_TABLE[25], [":status", "200"]);
  deepEqual(STATIC_TABLE[31], ["accept-encoding", "gzip, deflate, br"]);
  deepEqual(STATIC_TABLE[63], [":status", "100"]);
  deepEqual(STATIC_TABLE[72], ["accept-language", ""]);
  deepEqual(STATIC_TABLE[90], ["origin", ""]);
  deepEqual(STATIC_TABLE[98], ["x-frame-options", "sameorigin"]);
  // SHA-256 of the table as compact JSON, computed from quic-go/qpack's copy (not from ours).
  const digest = await crypto.subtle.digest("SHA-256", text.encode(JSON.stringify(STATIC_TABLE)));
  equal(
    hex(new Uint8Array(digest)),
    "7dce2dc56c18201a3d209281200b80fe9cc27819e4e2b16d6f23b7c045a360b8",
  );
});

Deno.test("qpack: every static entry encodes as its own indexed field line", () => {
  STATIC_TABLE.forEach(([name, value], i) => {
    const expected = i < 63
      ? `0000${(0xc0 | i).toString(16)}`
      : `0000ff${hex(Uint8Array.of(i - 63))}`;
    // The first entry with a given name/value pair wins; the table has no duplicates.
    equal(hex(encodeFieldSection([[name, value]])), expected, `${i} ${name}: ${value}`);
    deepEqual(decodeFieldSection(unhex(expected)), [[name, value]]);
  });
});

// -----------------------------------------------------------------------------------------------
// QPACK field sections

const CONNECT: [string, string][] = [
  [":method", "CONNECT"],
  [":scheme", "https"],
  [":authority", "127.0.0.1:4443"],
  [":path", "/moq?x=1"],
  [":protocol", "webtransport"],
  ["sec-webtransport-http3-draft02", "1"],
  ["origin", "http://127.0.0.1:8096"],
  ["wt-available-protocols", '"moq-lite-04", "moq-lite-03"'],
];
const RESPONSE: [string, string][] = [[":status", "200"], ["wt-protocol", '"moq-lite-04"']];
const MISC: [string, string][] = [
  [":status", "404"],
  ["content-type", "text/plain"],
  ["x-custom", "café"],
  ["user-agent", "Mozilla/5.0 (X11; Linux x86_64)"],
  ["cache-control", "no-cache"],
  ["cookie", ""],
];
const LONG: [string, string][] = [
  ["x-long", "a".repeat(150) + "~".repeat(10)],
  ["accept-language", "en-US,en;q=0.9"],
  [":path", "/"],
  ["etag", '"~~"'],
];

/** ls-qpack (pylsqpack 1.0.0, table capacity 0) encodings of the field lists above. */
const LSQPACK: [string, [string, string][], string][] = [
  [
    "WebTransport CONNECT",
    CONNECT,
    "0000cfd7508a089d5c0b8170dc69a69951876293f6ff3cc01f2f00b95d8749c87a3f89f058d360ea4567b13f2f0e" +
    "4148b782c69b07522b3d895a74a6b65692c1ca900b01315f4b8f9d29aee30c044eae05c0b86e3c07dc2f09f09587" +
    "dc66a071d055abb0e9390f423f97fe693f65a8324ab01afe7e94fe693f65a8324ab019fe7f",
  ],
  ["WebTransport response", RESPONSE, "0000d92f01f095abb0e9390f478bfe693f65a8324ab01afe7f"],
  [
    "misc",
    MISC,
    "0000dbf52ef2b12d424f4f05636166c3a95f5099d07f66a281b0dae053fafc087ed4ce6aadf2a7979c89c6bf" +
    "bfe7c5",
  ],
  [
    "long Huffman value, literal Huffman name",
    LONG,
    "00002df2b507aa6fee18" + "c6318c6318".repeat(18) + "c6318fffbffdffefff7ffbffdffefff7ffbffd" +
    "5f398b2d4b70ddf45abefb4005dfc15704227e7e22",
  ],
];

Deno.test("qpack: ls-qpack vectors decode, and we encode them byte for byte", () => {
  for (const [what, fields, vector] of LSQPACK) {
    deepEqual(decodeFieldSection(unhex(vector)), fields, what);
    equal(hex(encodeFieldSection(fields)), vector, what);
  }
});

Deno.test("qpack: WebTransport CONNECT and response round trip, with and without Huffman", () => {
  for (const fields of [CONNECT, RESPONSE, MISC, LONG]) {
    deepEqual(decodeFieldSection(encodeFieldSection(fields)), fields);
    deepEqual(decodeFieldSection(encodeFieldSection(fields, { huffman: false })), fields);
  }
  // Without Huffman the strings are visible as ASCII.
  const raw = encodeFieldSection(CONNECT, { huffman: false });
  ok(latin.decode(raw).includes("sec-webtransport-http3-draft02"));
  ok(latin.decode(raw).includes("127.0.0.1:4443"));
  ok(encodeFieldSection(CONNECT).length < raw.length);
  // A long raw value needs a multi-byte length (7-bit prefix).
  const big: [string, string][] = [["x-big", "\u00ff".repeat(100) + "z".repeat(300)]];
  deepEqual(decodeFieldSection(encodeFieldSection(big, { huffman: false })), big);
  deepEqual(decodeFieldSection(encodeFieldSection(big)), big);
});

Deno.test("qpack: :status 200 alone is 00 00 d9", () => {
  equal(hex(encodeFieldSection([[":status", "200"]])), "0000d9");
  deepEqual(decodeFieldSection(unhex("0000d9")), [[":status", "200"]]);
  equal(hex(encodeFieldSection([])), "0000");
  deepEqual(decodeFieldSection(unhex("0000")), []);
});

Deno.test("qpack: hand-built field sections (RFC 9204 4.5)", () => {
  // Literal with static name reference, Huffman value:
  //   00 00   Required Insert Count 0, Sign 0, Delta Base 0
  //   50      01 N=0 T=1 index 0 (:authority)
  //   8c      H=1 length 12, then "www.example.com" Huffman-coded (RFC 7541 C.4.1)
  deepEqual(decodeFieldSection(unhex("0000 50 8c f1e3c2e5f23a6ba0ab90f4ff")), [
    [":authority", "www.example.com"],
  ]);
  equal(
    hex(encodeFieldSection([[":authority", "www.example.com"]])),
    "0000508cf1e3c2e5f23a6ba0ab90f4ff",
  );
  // Same with the never-index bit, a name index above 15 and a non-zero Delta Base (legal when
  // nothing is referenced):
  //   00 05   RIC 0, Sign 0, Delta Base 5
  //   7f 15   01 N=1 T=1 index 15+21 = 36 (cache-control)
  //   86 ..   H=1 length 6, "no-cache" Huffman-coded
  deepEqual(decodeFieldSection(unhex("0005 7f15 86 a8eb10649cbf")), [[
    "cache-control",
    "no-cache",
  ]]);
  // Literal with literal name, both Huffman, N=1:
  //   3f 01   001 N=1 H=1 name length 7+1 = 8, "custom-key"
  //   89 ..   H=1 length 9, "custom-value"
  deepEqual(decodeFieldSection(unhex("0000 3f01 25a849e95ba97d7f 89 25a849e95bb8e8b4bf")), [
    ["custom-key", "custom-value"],
  ]);
  // Literal with literal name, neither Huffman: 23 "abc" 03 "xyz"; indexed 1 T=1 index 0.
  deepEqual(decodeFieldSection(unhex("0000 23616263 0378797a c0")), [["abc", "xyz"], [
    ":authority",
    "",
  ]]);
  // Indexed field line with a 2-byte index: ff 23 = 63 + 35 = 98.
  deepEqual(decodeFieldSection(unhex("0000 ff23")), [["x-frame-options", "sameorigin"]]);
  // A UTF-8 value, and a leading U+FEFF kept as data.
  deepEqual(decodeFieldSection(unhex("0000 23616263 06 efbbbf636166")), [["abc", "\ufeffcaf"]]);
});

Deno.test("qpack: rejects dynamic-table and post-base references", () => {
  rejects(() => decodeFieldSection(unhex("0000 80")), /dynamic table reference \(indexed\)/);
  rejects(() => decodeFieldSection(unhex("0000 4001 61")), /dynamic table reference/);
  rejects(() => decodeFieldSection(unhex("0000 10")), /post-base index/);
  rejects(() => decodeFieldSection(unhex("0000 0001 61")), /post-base name/);
  rejects(() => decodeFieldSection(unhex("0200 d9")), /Required Insert Count 2/);
  rejects(() => decodeFieldSection(unhex("0180 d9")), /Required Insert Count 1/);
  rejects(() => decodeFieldSection(unhex("0080 d9")), /negative Base/);
  rejects(() => decodeFieldSection(unhex("0000 ff24")), /static table index 99 out of range/);
  rejects(() => decodeFieldSection(unhex("0000 5f54 00")), /static table index 99 out of range/);
});

Deno.test("qpack: rejects truncated and malformed sections", () => {
  rejects(() => decodeFieldSection(new Uint8Array()), /truncated integer/);
  rejects(() => decodeFieldSection(unhex("00")), /truncated field section prefix/);
  rejects(() => decodeFieldSection(unhex("007f")), /truncated integer/);
  rejects(() => decodeFieldSection(unhex("0000 ff")), /truncated integer/);
  rejects(() => decodeFieldSection(unhex("0000 50")), /truncated field line/);
  rejects(() => decodeFieldSection(unhex("0000 5f")), /truncated integer/);
  rejects(() => decodeFieldSection(unhex("0000 508c f1e3c2e5")), /truncated string/);
  rejects(() => decodeFieldSection(unhex("0000 2361")), /truncated string/);
  rejects(() => decodeFieldSection(unhex("0000 23616263")), /truncated field line/);
  rejects(() => decodeFieldSection(unhex("0000 23616263 05 7879")), /truncated string/);
  rejects(
    () => decodeFieldSection(unhex("0000 50 7fffffffffffffffffff01")),
    /exceeds 2\^53/,
  );
  // Invalid Huffman inside a field: 'a' then 000 padding; 11 padding bits; EOS.
  rejects(() => decodeFieldSection(unhex("0000 50 81 18")), /not a prefix of EOS/);
  rejects(() => decodeFieldSection(unhex("0000 50 82 1fff")), /padding of 11 bits/);
  rejects(() => decodeFieldSection(unhex("0000 50 84 ffffffff")), /EOS/);
  rejects(() => decodeFieldSection(unhex("0000 2a 1fff 00")), /padding of 11 bits/); // name
  // Invalid UTF-8 in a value.
  rejects(() => decodeFieldSection(unhex("0000 50 02 c328")), /invalid UTF-8/);
  rejects(() => decodeFieldSection(unhex("0000 50 01 ff")), /invalid UTF-8/);
});

Deno.test("qpack: rejects invalid names and values", () => {
  // Literal names "X-Foo" (uppercase), "" (empty), "a b", "a:b", ":" and a control in a value.
  rejects(() => decodeFieldSection(unhex("0000 25 582d466f6f 0161")), /uppercase/);
  rejects(() => decodeFieldSection(unhex("0000 20 0161")), /empty field name/);
  rejects(() => decodeFieldSection(unhex("0000 23 612062 0161")), /invalid character 0x20/);
  rejects(() => decodeFieldSection(unhex("0000 23 613a62 0161")), /invalid character 0x3a/);
  rejects(() => decodeFieldSection(unhex("0000 21 3a 0161")), /invalid character 0x3a/);
  rejects(() => decodeFieldSection(unhex("0000 21 e9 0161")), /invalid character 0xe9/);
  rejects(() => decodeFieldSection(unhex("0000 50 03 610d62")), /invalid character 0x0d/);
  rejects(() => decodeFieldSection(unhex("0000 50 03 610a62")), /invalid character 0x0a/);
  rejects(() => decodeFieldSection(unhex("0000 50 03 610062")), /invalid character 0x00/);
  deepEqual(decodeFieldSection(unhex("0000 50 03 610962")), [[":authority", "a\tb"]]);
  // The encoder refuses what the decoder would reject.
  rejects(() => encodeFieldSection([["X-Foo", "1"]]), /uppercase/);
  rejects(() => encodeFieldSection([["", "1"]]), /empty/);
  rejects(() => encodeFieldSection([["x", "a\r\nb"]]), /invalid character 0x0d/);
});

Deno.test("qpack: header list size limit (RFC 9114 4.2.2)", () => {
  // One field: 5 + 100 + 32 = 137 bytes.
  const one: [string, string][] = [["x-big", "v".repeat(100)]];
  for (const huffman of [true, false]) {
    const block = encodeFieldSection(one, { huffman });
    deepEqual(decodeFieldSection(block, 137), one);
    rejects(() => decodeFieldSection(block, 136), /exceeds 136 bytes/);
  }
  // Sizes count UTF-8 octets: "é" is two.
  deepEqual(decodeFieldSection(encodeFieldSection([["x", "é"]]), 35), [["x", "é"]]);
  rejects(() => decodeFieldSection(encodeFieldSection([["x", "é"]]), 34), /exceeds/);
  // Indexed static fields count too: ":status 200" is 7 + 3 + 32 = 42 each.
  const many = unhex("0000" + "d9".repeat(390)); // 390 * 42 = 16380 <= 16384
  equal(decodeFieldSection(many).length, 390);
  rejects(() => decodeFieldSection(unhex("0000" + "d9".repeat(391))), /exceeds 16384 bytes/);
  // Default limit with one big value.
  const big: [string, string][] = [["x", "a".repeat(16384 - 32)]];
  rejects(() => decodeFieldSection(encodeFieldSection(big)), /exceeds 16384 bytes/);
  deepEqual(decodeFieldSection(encodeFieldSection([["x", "a".repeat(16384 - 33)]])).length, 1);
});
