/**
 * QPACK (RFC 9204) restricted to what a zero-capacity dynamic table allows: we advertise
 * QPACK_MAX_TABLE_CAPACITY 0 and QPACK_BLOCKED_STREAMS 0, so every field section a peer may send
 * us has Required Insert Count 0 and uses only the static table and literals (Huffman-coded or
 * not). Anything that references the dynamic table is rejected with a `QpackError`, which the
 * HTTP/3 layer turns into QPACK_DECOMPRESSION_FAILED. No encoder or decoder stream is needed.
 *
 * Decoded fields are checked as RFC 9114 sections 4.2 and 10.3 require: names are lowercase tokens
 * (a leading `:` for pseudo-headers), values carry no control characters but HTAB, and both are
 * valid UTF-8. Pseudo-header order and semantics are left to the HTTP/3 layer.
 *
 * @module
 */
import { huffmanDecode, huffmanEncode, huffmanEncodedLength, QpackError } from "./huffman.ts";

export { QpackError };

/**
 * The QPACK static table (RFC 9204 Appendix A), indexed from 0. Transcribed from
 * `github.com/quic-go/qpack` v0.6.0 `static_table.go` and checked entry by entry against
 * ls-qpack (Python `pylsqpack` 1.0.0), which encodes each entry as the matching indexed field line.
 */
export const STATIC_TABLE: readonly (readonly [name: string, value: string])[] = [
  [":authority", ""], // 0
  [":path", "/"], // 1
  ["age", "0"], // 2
  ["content-disposition", ""], // 3
  ["content-length", "0"], // 4
  ["cookie", ""], // 5
  ["date", ""], // 6
  ["etag", ""], // 7
  ["if-modified-since", ""], // 8
  ["if-none-match", ""], // 9
  ["last-modified", ""], // 10
  ["link", ""], // 11
  ["location", ""], // 12
  ["referer", ""], // 13
  ["set-cookie", ""], // 14
  [":method", "CONNECT"], // 15
  [":method", "DELETE"], // 16
  [":method", "GET"], // 17
  [":method", "HEAD"], // 18
  [":method", "OPTIONS"], // 19
  [":method", "POST"], // 20
  [":method", "PUT"], // 21
  [":scheme", "http"], // 22
  [":scheme", "https"], // 23
  [":status", "103"], // 24
  [":status", "200"], // 25
  [":status", "304"], // 26
  [":status", "404"], // 27
  [":status", "503"], // 28
  ["accept", "*/*"], // 29
  ["accept", "application/dns-message"], // 30
  ["accept-encoding", "gzip, deflate, br"], // 31
  ["accept-ranges", "bytes"], // 32
  ["access-control-allow-headers", "cache-control"], // 33
  ["access-control-allow-headers", "content-type"], // 34
  ["access-control-allow-origin", "*"], // 35
  ["cache-control", "max-age=0"], // 36
  ["cache-control", "max-age=2592000"], // 37
  ["cache-control", "max-age=604800"], // 38
  ["cache-control", "no-cache"], // 39
  ["cache-control", "no-store"], // 40
  ["cache-control", "public, max-age=31536000"], // 41
  ["content-encoding", "br"], // 42
  ["content-encoding", "gzip"], // 43
  ["content-type", "application/dns-message"], // 44
  ["content-type", "application/javascript"], // 45
  ["content-type", "application/json"], // 46
  ["content-type", "application/x-www-form-urlencoded"], // 47
  ["content-type", "image/gif"], // 48
  ["content-type", "image/jpeg"], // 49
  ["content-type", "image/png"], // 50
  ["content-type", "text/css"], // 51
  ["content-type", "text/html; charset=utf-8"], // 52
  ["content-type", "text/plain"], // 53
  ["content-type", "text/plain;charset=utf-8"], // 54
  ["range", "bytes=0-"], // 55
  ["strict-transport-security", "max-age=31536000"], // 56
  ["strict-transport-security", "max-age=31536000; includesubdomains"], // 57
  ["strict-transport-security", "max-age=31536000; includesubdomains; preload"], // 58
  ["vary", "accept-encoding"], // 59
  ["vary", "origin"], // 60
  ["x-content-type-options", "nosniff"], // 61
  ["x-xss-protection", "1; mode=block"], // 62
  [":status", "100"], // 63
  [":status", "204"], // 64
  [":status", "206"], // 65
  [":status", "302"], // 66
  [":status", "400"], // 67
  [":status", "403"], // 68
  [":status", "421"], // 69
  [":status", "425"], // 70
  [":status", "500"], // 71
  ["accept-language", ""], // 72
  ["access-control-allow-credentials", "FALSE"], // 73
  ["access-control-allow-credentials", "TRUE"], // 74
  ["access-control-allow-headers", "*"], // 75
  ["access-control-allow-methods", "get"], // 76
  ["access-control-allow-methods", "get, post, options"], // 77
  ["access-control-allow-methods", "options"], // 78
  ["access-control-expose-headers", "content-length"], // 79
  ["access-control-request-headers", "content-type"], // 80
  ["access-control-request-method", "get"], // 81
  ["access-control-request-method", "post"], // 82
  ["alt-svc", "clear"], // 83
  ["authorization", ""], // 84
  ["content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'"], // 85
  ["early-data", "1"], // 86
  ["expect-ct", ""], // 87
  ["forwarded", ""], // 88
  ["if-range", ""], // 89
  ["origin", ""], // 90
  ["purpose", "prefetch"], // 91
  ["server", ""], // 92
  ["timing-allow-origin", "*"], // 93
  ["upgrade-insecure-requests", "1"], // 94
  ["user-agent", ""], // 95
  ["x-forwarded-for", ""], // 96
  ["x-frame-options", "deny"], // 97
  ["x-frame-options", "sameorigin"], // 98
];

/** Field-section size limit default: our SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 4.2.2). */
export const DEFAULT_MAX_FIELD_SECTION_SIZE = 16384;

/** Per-field overhead in the header list size (RFC 9114 section 4.2.2). */
const FIELD_OVERHEAD = 32;

/** name -> index of its first static entry, and value -> index for entries with that name. */
const STATIC_BY_NAME: ReadonlyMap<string, { index: number; values: Map<string, number> }> = (() => {
  const map = new Map<string, { index: number; values: Map<string, number> }>();
  STATIC_TABLE.forEach(([name, value], index) => {
    let entry = map.get(name);
    if (entry === undefined) {
      entry = { index, values: new Map() };
      map.set(name, entry);
    }
    if (!entry.values.has(value)) entry.values.set(value, index);
  });
  return map;
})();

const utf8Encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF as data instead of silently dropping it.
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------------------------
// Prefixed integers (RFC 7541 section 5.1, used with 3- to 8-bit prefixes by RFC 9204 4.1.1)

/**
 * Appends `value` as an integer with an N-bit prefix; `flags` fills the bits above the prefix of
 * the first byte.
 */
export function encodeInteger(
  out: number[],
  flags: number,
  prefixBits: number,
  value: number,
): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`qpack: integer out of range: ${value}`);
  }
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  value -= max;
  while (value >= 128) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

/**
 * Reads an integer with an N-bit prefix starting at `buf[pos]` (the bits above the prefix are
 * ignored). Returns the value and the offset after it. Throws `QpackError` when truncated or when
 * the value exceeds `Number.MAX_SAFE_INTEGER` (2^53 - 1).
 */
export function decodeInteger(buf: Uint8Array, pos: number, prefixBits: number): [number, number] {
  if (pos >= buf.length) throw new QpackError("qpack: truncated integer");
  const max = (1 << prefixBits) - 1;
  let value = buf[pos++] & max;
  if (value < max) return [value, pos];
  let scale = 1;
  // Eight continuation bytes carry 56 bits, more than any safe integer needs.
  for (let count = 0; count < 8; count++) {
    if (pos >= buf.length) throw new QpackError("qpack: truncated integer");
    const byte = buf[pos++];
    value += (byte & 0x7f) * scale;
    if (value > Number.MAX_SAFE_INTEGER) throw new QpackError("qpack: integer exceeds 2^53 - 1");
    if ((byte & 0x80) === 0) return [value, pos];
    scale *= 128;
  }
  throw new QpackError("qpack: integer exceeds 2^53 - 1");
}

// ---------------------------------------------------------------------------------------------
// Field validation (RFC 9114 sections 4.2 and 10.3, RFC 9110 section 5.1 and 5.5)

/** tchar (RFC 9110 5.6.2) without uppercase letters, as a 128-entry lookup. */
const NAME_CHAR: Uint8Array = (() => {
  const t = new Uint8Array(128);
  for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") t[c.charCodeAt(0)] = 1;
  return t;
})();

/** Why `name` (as bytes) is not a valid HTTP/3 field name, or undefined if it is. */
function nameProblem(name: Uint8Array): string | undefined {
  if (name.length === 0) return "empty field name";
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === 0x3a && i === 0 && name.length > 1) continue; // pseudo-header ":name"
    if (c < 128 && NAME_CHAR[c] === 1) continue;
    if (c >= 0x41 && c <= 0x5a) return "uppercase character in field name";
    return `invalid character 0x${c.toString(16).padStart(2, "0")} in field name`;
  }
  return undefined;
}

/** Why `value` (as bytes) is not a valid field value, or undefined if it is. */
function valueProblem(value: Uint8Array): string | undefined {
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      return `invalid character 0x${c.toString(16).padStart(2, "0")} in field value`;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Options for `encodeFieldSection`. */
export interface EncodeOptions {
  /** Huffman-code each string when that is shorter (default true). */
  huffman?: boolean;
}

/** Appends a string literal: H bit `huffFlag` and length with an N-bit prefix, then the octets. */
function encodeString(
  out: number[],
  flags: number,
  huffFlag: number,
  prefixBits: number,
  bytes: Uint8Array,
  huffman: boolean,
) {
  if (huffman && huffmanEncodedLength(bytes) < bytes.length) {
    const coded = huffmanEncode(bytes);
    encodeInteger(out, flags | huffFlag, prefixBits, coded.length);
    for (let i = 0; i < coded.length; i++) out.push(coded[i]);
  } else {
    encodeInteger(out, flags, prefixBits, bytes.length);
    for (let i = 0; i < bytes.length; i++) out.push(bytes[i]);
  }
}

/**
 * Encodes a field section with Required Insert Count 0 and Base 0 (prefix `00 00`), using for
 * each field an indexed static field line when name and value match an entry, a literal with a
 * static name reference when only the name does, and a literal with a literal name otherwise.
 * Throws `QpackError` for a name or value that `decodeFieldSection` would reject (uppercase,
 * control characters): names must be lowercased by the caller.
 */
export function encodeFieldSection(
  fields: readonly (readonly [string, string])[],
  opts: EncodeOptions = {},
): Uint8Array {
  const huffman = opts.huffman !== false;
  const out: number[] = [0x00, 0x00]; // Required Insert Count 0; Sign 0, Delta Base 0
  for (const [name, value] of fields) {
    const nameBytes = utf8Encoder.encode(name);
    const valueBytes = utf8Encoder.encode(value);
    const problem = nameProblem(nameBytes) ?? valueProblem(valueBytes);
    if (problem !== undefined) throw new QpackError(`qpack: cannot encode ${name}: ${problem}`);
    const entry = STATIC_BY_NAME.get(name);
    const exact = entry?.values.get(value);
    if (exact !== undefined) {
      encodeInteger(out, 0xc0, 6, exact); // 1 T=1 index(6+)
    } else if (entry !== undefined) {
      encodeInteger(out, 0x50, 4, entry.index); // 01 N=0 T=1 index(4+)
      encodeString(out, 0x00, 0x80, 7, valueBytes, huffman); // H value-length(7+)
    } else {
      encodeString(out, 0x20, 0x08, 3, nameBytes, huffman); // 001 N=0 H name-length(3+)
      encodeString(out, 0x00, 0x80, 7, valueBytes, huffman);
    }
  }
  return new Uint8Array(out);
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Reads a string literal whose H bit is `huffFlag` and length has an N-bit prefix. */
function decodeString(
  buf: Uint8Array,
  pos: number,
  huffFlag: number,
  prefixBits: number,
): [Uint8Array, number] {
  const huffman = (buf[pos] & huffFlag) !== 0;
  const [length, start] = decodeInteger(buf, pos, prefixBits);
  if (length > buf.length - start) throw new QpackError("qpack: truncated string literal");
  const raw = buf.subarray(start, start + length);
  return [huffman ? huffmanDecode(raw) : raw, start + length];
}

function utf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new QpackError(`qpack: invalid UTF-8 in field ${what}`);
  }
}

function staticEntry(index: number): readonly [string, string] {
  const entry = STATIC_TABLE[index];
  if (entry === undefined) {
    throw new QpackError(`qpack: static table index ${index} out of range (0..98)`);
  }
  return entry;
}

/**
 * Decodes a field section (the payload of an HTTP/3 HEADERS frame) that uses only the static
 * table, returning the fields in order.
 *
 * `maxSize` bounds the header list size as RFC 9114 section 4.2.2 counts it: the sum over fields
 * of name and value lengths in octets plus 32. Throws `QpackError` for malformed input (truncated
 * integers or strings, integers above 2^53 - 1, invalid Huffman, invalid UTF-8), for anything
 * that needs the dynamic table (non-zero Required Insert Count, a negative Base, dynamic or
 * post-base references), for invalid names or values, and when the list exceeds `maxSize`.
 */
export function decodeFieldSection(
  block: Uint8Array,
  maxSize: number = DEFAULT_MAX_FIELD_SECTION_SIZE,
): [string, string][] {
  const [requiredInsertCount, afterRic] = decodeInteger(block, 0, 8);
  if (requiredInsertCount !== 0) {
    throw new QpackError(
      `qpack: Required Insert Count ${requiredInsertCount} but our dynamic table capacity is 0`,
    );
  }
  if (afterRic >= block.length) throw new QpackError("qpack: truncated field section prefix");
  const negative = (block[afterRic] & 0x80) !== 0;
  // With nothing referenced, any Delta Base is legal; only its sign matters.
  let pos = decodeInteger(block, afterRic, 7)[1];
  if (negative) {
    // RFC 9204 4.5.1.2: Sign 1 needs Required Insert Count > Delta Base, impossible here.
    throw new QpackError("qpack: negative Base with Required Insert Count 0");
  }

  const fields: [string, string][] = [];
  let size = 0;
  while (pos < block.length) {
    const first = block[pos];
    let name: string;
    let nameLength: number;
    let valueBytes: Uint8Array;
    let value: string | undefined;
    if ((first & 0x80) !== 0) {
      // Indexed field line: 1 T index(6+)
      if ((first & 0x40) === 0) throw new QpackError("qpack: dynamic table reference (indexed)");
      const [index, next] = decodeInteger(block, pos, 6);
      pos = next;
      [name, value] = staticEntry(index);
      nameLength = name.length;
      valueBytes = utf8Encoder.encode(value);
    } else if ((first & 0x40) !== 0) {
      // Literal field line with name reference: 01 N T index(4+), H value-length(7+) value
      if ((first & 0x10) === 0) {
        throw new QpackError("qpack: dynamic table reference (literal with name reference)");
      }
      const [index, next] = decodeInteger(block, pos, 4);
      name = staticEntry(index)[0];
      nameLength = name.length;
      if (next >= block.length) throw new QpackError("qpack: truncated field line");
      [valueBytes, pos] = decodeString(block, next, 0x80, 7);
    } else if ((first & 0x20) !== 0) {
      // Literal field line with literal name: 001 N H name-length(3+) name, H value-length(7+)
      const [nameBytes, next] = decodeString(block, pos, 0x08, 3);
      const problem = nameProblem(nameBytes);
      if (problem !== undefined) throw new QpackError(`qpack: ${problem}`);
      name = utf8(nameBytes, "name"); // ASCII by now, so this cannot fail
      nameLength = nameBytes.length;
      if (next >= block.length) throw new QpackError("qpack: truncated field line");
      [valueBytes, pos] = decodeString(block, next, 0x80, 7);
    } else if ((first & 0x10) !== 0) {
      // Indexed field line with post-base index: 0001 index(4+)
      throw new QpackError("qpack: dynamic table reference (indexed with post-base index)");
    } else {
      // Literal field line with post-base name reference: 0000 N index(3+)
      throw new QpackError("qpack: dynamic table reference (literal with post-base name)");
    }
    size += nameLength + valueBytes.length + FIELD_OVERHEAD;
    if (size > maxSize) {
      throw new QpackError(`qpack: header list size exceeds ${maxSize} bytes`);
    }
    if (value === undefined) {
      const problem = valueProblem(valueBytes);
      if (problem !== undefined) throw new QpackError(`qpack: ${name}: ${problem}`);
      value = utf8(valueBytes, "value");
    }
    fields.push([name, value]);
  }
  return fields;
}
