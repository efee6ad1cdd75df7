/**
 * Message framing. From lite-01 on every control message is `Length (i)` then a body of exactly
 * that many bytes; typed messages put `Type (i)` before the length.
 *
 * Decoders here are incremental: given too few bytes they return `undefined` ("need more"),
 * never throw for that; they throw {@link ProtocolError} for bad bytes; they never look at
 * more than a message's declared size and refuse sizes over a named limit before buffering.
 *
 * @module
 */
import { Reader, Writer } from "./buffer.ts";
import { boundsError } from "./error.ts";
import { readVarint } from "./varint.ts";

/** Largest control message body accepted (announce, subscribe, setup, ...). */
export const MAX_MESSAGE_SIZE = 64 * 1024;

/** A decoded value and how many bytes it took from the input. */
export interface Decoded<T> {
  value: T;
  size: number;
}

/** Where a size-prefixed body lies in a buffer. */
export interface Framed {
  type: number;
  start: number;
  end: number;
}

/**
 * Locates a `Length (i)` body (or `Type (i) Length (i)` body when `typed`) at `offset`.
 * `undefined` = need more bytes.
 */
export function frame(
  buf: Uint8Array,
  offset: number,
  typed: boolean,
  what: string,
  max: number = MAX_MESSAGE_SIZE,
): Framed | undefined {
  let type = 0;
  let at = offset;
  if (typed) {
    const t = readVarint(buf, at);
    if (!t) return undefined;
    [type, at] = t;
  }
  const l = readVarint(buf, at);
  if (!l) return undefined;
  const [length, start] = l;
  if (length > max) {
    throw boundsError(`${what}: declared size ${length} exceeds the limit of ${max}`);
  }
  if (start + length > buf.length) return undefined;
  return { type, start, end: start + length };
}

/**
 * Decodes one size-prefixed message with `body`, which must consume the body exactly.
 * `undefined` = need more bytes.
 */
export function decodeSized<T>(
  buf: Uint8Array,
  offset: number,
  what: string,
  body: (r: Reader) => T,
  max: number = MAX_MESSAGE_SIZE,
): Decoded<T> | undefined {
  const f = frame(buf, offset, false, what, max);
  if (!f) return undefined;
  const r = new Reader(buf, f.start, f.end);
  const value = body(r);
  r.finish(what);
  return { value, size: f.end - offset };
}

/** Writes `Length (i)` and the body `body` writes. */
export function encodeSized(body: (w: Writer) => void): Uint8Array<ArrayBuffer> {
  return new Writer().sized(body).finish();
}

/** Writes `Type (i) Length (i)` and the body `body` writes. */
export function encodeTyped(type: number, body: (w: Writer) => void): Uint8Array<ArrayBuffer> {
  return new Writer().varint(type).sized(body).finish();
}

/** Reads a bare varint (stream types, frame headers). `undefined` = need more bytes. */
export function decodeVarint(buf: Uint8Array, offset = 0): Decoded<number> | undefined {
  const r = readVarint(buf, offset);
  return r ? { value: r[0], size: r[1] - offset } : undefined;
}
