/**
 * `Reader` walks a complete message body (running out of bytes is a decode error, because the
 * length prefix said the body was there); `Writer` builds bytes in a growable buffer.
 *
 * @module
 */
import { boundsError, decodeError } from "./error.ts";
import { readVarint, readVarintBig, varintSize, writeVarint } from "./varint.ts";

export { concatBytes } from "../bytes/concat.ts";

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/** Longest string field accepted (paths, track names, URIs, reasons). */
export const MAX_STRING_SIZE = 64 * 1024;

/** Reads fields from a body that must be consumed exactly. */
export class Reader {
  readonly buf: Uint8Array;
  offset: number;
  readonly end: number;

  constructor(buf: Uint8Array, offset = 0, end = buf.length) {
    this.buf = buf;
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  #short(what: string): never {
    throw decodeError(`message too short: ${what} runs past the end`);
  }

  u8(what = "byte"): number {
    if (this.offset >= this.end) this.#short(what);
    return this.buf[this.offset++] ?? 0;
  }

  bool(what = "boolean"): boolean {
    const b = this.u8(what);
    if (b > 1) throw decodeError(`${what}: ${b} is not a boolean (0 or 1)`);
    return b === 1;
  }

  varint(what = "varint"): number {
    const r = readVarint(this.buf, this.offset, this.end);
    if (!r) this.#short(what);
    this.offset = r[1];
    return r[0];
  }

  varintBig(what = "varint"): bigint {
    const r = readVarintBig(this.buf, this.offset, this.end);
    if (!r) this.#short(what);
    this.offset = r[1];
    return r[0];
  }

  /** An optional group number: 0 is absent, n > 0 is n - 1. */
  optional(what = "optional"): number | undefined {
    const v = this.varint(what);
    return v === 0 ? undefined : v - 1;
  }

  bytes(length: number, what = "bytes"): Uint8Array {
    if (length > this.remaining) this.#short(what);
    const out = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  /** A varint length, then that many bytes. */
  lengthPrefixed(what = "bytes", max = MAX_STRING_SIZE): Uint8Array {
    const length = this.varint(what);
    if (length > max) throw boundsError(`${what}: ${length} bytes exceeds the limit of ${max}`);
    return this.bytes(length, what);
  }

  string(what = "string", max = MAX_STRING_SIZE): string {
    const raw = this.lengthPrefixed(what, max);
    try {
      return utf8Decoder.decode(raw);
    } catch {
      throw decodeError(`${what}: not valid UTF-8`);
    }
  }

  /** Everything left in the body. */
  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }

  /** Messages are consumed exactly; trailing bytes mean the peer and we disagree on the layout. */
  finish(what: string): void {
    if (this.offset !== this.end) {
      throw decodeError(`${what}: ${this.end - this.offset} unexpected trailing byte(s)`);
    }
  }
}

/** Appends fields to a growable buffer. */
export class Writer {
  #buf: Uint8Array;
  #length = 0;

  constructor(capacity = 64) {
    this.#buf = new Uint8Array(capacity);
  }

  get length(): number {
    return this.#length;
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(needed, this.#buf.length * 2));
    grown.set(this.#buf.subarray(0, this.#length));
    this.#buf = grown;
  }

  u8(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 255) {
      throw new RangeError(`u8 out of range: ${value}`);
    }
    this.#reserve(1);
    this.#buf[this.#length++] = value;
    return this;
  }

  bool(value: boolean): this {
    return this.u8(value ? 1 : 0);
  }

  u16(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
      throw new RangeError(`u16 out of range: ${value}`);
    }
    this.#reserve(2);
    this.#buf[this.#length++] = value >> 8;
    this.#buf[this.#length++] = value & 0xff;
    return this;
  }

  varint(value: number | bigint): this {
    this.#reserve(varintSize(value));
    this.#length = writeVarint(this.#buf, this.#length, value);
    return this;
  }

  /** An optional group number: absent is 0, n is n + 1. */
  optional(value: number | undefined): this {
    return this.varint(value === undefined ? 0 : value + 1);
  }

  bytes(data: Uint8Array): this {
    this.#reserve(data.length);
    this.#buf.set(data, this.#length);
    this.#length += data.length;
    return this;
  }

  lengthPrefixed(data: Uint8Array): this {
    return this.varint(data.length).bytes(data);
  }

  string(value: string): this {
    return this.lengthPrefixed(utf8Encoder.encode(value));
  }

  /** A varint length prefix, then whatever `body` writes. */
  sized(body: (w: Writer) => void): this {
    const inner = new Writer();
    body(inner);
    return this.varint(inner.length).bytes(inner.finish());
  }

  /** The bytes written so far (a view; the writer should not be used afterwards). */
  finish(): Uint8Array<ArrayBuffer> {
    return this.#buf.subarray(0, this.#length) as Uint8Array<ArrayBuffer>;
  }
}
