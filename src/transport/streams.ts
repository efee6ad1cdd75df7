/**
 * Adapters from WHATWG streams (Deno QUIC, @moq/qmux) to our {@link SendStream} and
 * {@link RecvStream}, and a reader for stream headers that never reads past the header.
 *
 * @module
 */
import {
  type ByteMeter,
  keptStreamError,
  type RecvStream,
  type SendStream,
  type StreamError,
} from "./session.ts";

/** Turns a carrier's error into a StreamError. */
export type ErrorMapper = (e: unknown) => StreamError;

/** Holds the writer of a WHATWG writable for the stream's life. */
export class WritableSendStream implements SendStream {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #order: { sendOrder: number } | undefined;
  readonly #mapError: ErrorMapper;
  readonly #meter: ByteMeter | undefined;
  readonly closed: Promise<void>;
  #done = false;

  constructor(
    writable: WritableStream<Uint8Array>,
    mapError: ErrorMapper,
    order?: { sendOrder: number },
    meter?: ByteMeter,
  ) {
    this.#writer = writable.getWriter();
    this.#order = order;
    this.#mapError = mapError;
    this.#meter = meter;
    this.closed = this.#writer.closed.then(() => {}, (e) => {
      throw mapError(e);
    });
    this.closed.catch(() => {}); // observed by whoever cares; never an unhandled rejection
  }

  get priority(): number {
    return this.#order?.sendOrder ?? 0;
  }

  set priority(value: number) {
    if (this.#order) this.#order.sendOrder = value;
  }

  async write(chunk: Uint8Array): Promise<void> {
    try {
      await this.#writer.write(chunk);
      if (this.#meter) this.#meter.sent += chunk.length;
    } catch (e) {
      throw this.#mapError(e);
    }
  }

  async close(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      await this.#writer.close();
    } catch (e) {
      throw this.#mapError(e);
    }
  }

  reset(code: number): void {
    if (this.#done) return;
    this.#done = true;
    this.#writer.abort(keptStreamError("reset", code)).catch(() => {});
  }
}

/** Smallest and largest read buffer of a byte stream. */
export const MIN_READ = 1024;
export const MAX_READ = 64 * 1024;

/**
 * Holds the reader of a WHATWG readable for the stream's life. Byte streams (Deno's QUIC) are
 * read into buffers we size: the default reader gives every read a fresh 64 KiB buffer, and a
 * 160-byte audio frame kept in the cache would pin all of it, as would every idle stream's
 * pending read. The size doubles after a read that fills it and halves after one that uses
 * under a quarter; a read using under half its buffer is copied out, so what we hand on never
 * holds more than twice its bytes.
 */
export class ReadableRecvStream implements RecvStream {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader;
  readonly #byob: boolean;
  readonly #mapError: ErrorMapper;
  readonly #meter: ByteMeter | undefined;
  #prefix: Uint8Array | undefined;
  #size = MIN_READ;

  /** `prefix`: bytes already read past a header, returned first; `meter` counts what is read. */
  constructor(
    readable: ReadableStream<Uint8Array>,
    mapError: ErrorMapper,
    prefix?: Uint8Array,
    meter?: ByteMeter,
  ) {
    let byob: ReadableStreamBYOBReader | undefined;
    try {
      byob = readable.getReader({ mode: "byob" });
    } catch {
      byob = undefined; // not a byte stream (@moq/qmux): its chunks are sized by their producer
    }
    this.#byob = byob !== undefined;
    this.#reader = byob ?? readable.getReader();
    this.#mapError = mapError;
    this.#meter = meter;
    this.#prefix = prefix && prefix.length > 0 ? prefix : undefined;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#prefix) {
      const prefix = this.#prefix;
      this.#prefix = undefined;
      return prefix;
    }
    try {
      if (!this.#byob) {
        const { value, done } = await (this.#reader as ReadableStreamDefaultReader<Uint8Array>)
          .read();
        if (done) return null;
        if (this.#meter) this.#meter.received += value.length;
        return value;
      }
      const size = this.#size;
      const { value, done } = await (this.#reader as ReadableStreamBYOBReader).read(
        new Uint8Array(size),
      );
      if (done || !value) return null;
      const n = value.byteLength;
      if (this.#meter) this.#meter.received += n;
      if (n === size) this.#size = Math.min(MAX_READ, size * 2);
      else if (n < size / 4) this.#size = Math.max(MIN_READ, size / 2);
      return n < size / 2 ? value.slice() : value;
    } catch (e) {
      throw this.#mapError(e);
    }
  }

  stop(code: number): void {
    this.#reader.cancel(keptStreamError("stopped", code)).catch(() => {});
  }
}

/** A stream header read by {@link readHeader}. */
export interface StreamHeader {
  /** The varints; a value beyond 2^53-1 reads as Number.MAX_SAFE_INTEGER (never a valid id). */
  values: number[];
  /** Everything read: the header bytes as sent, then `rest`. */
  bytes: Uint8Array;
  /** Length of each header varint in bytes. */
  sizes: number[];
  /** Bytes read past the header (only possible when `firstRead` exceeds the header's length). */
  rest: Uint8Array;
}

/**
 * Reads a stream's leading `count` varints with a BYOB reader, then releases the reader. The
 * first read takes whatever is available up to `firstRead` bytes; later reads are exact, so
 * nothing past the header is consumed when the header is at least `firstRead` bytes long.
 * Returns null if the stream ends first.
 */
export async function readHeader(
  readable: ReadableStream<Uint8Array>,
  count: number,
  firstRead: number,
  onReader?: (reader: ReadableStreamBYOBReader) => void,
): Promise<StreamHeader | null> {
  const reader = readable.getReader({ mode: "byob" });
  onReader?.(reader);
  let buf = new Uint8Array(Math.max(16, firstRead));
  let length = 0;
  const fill = async (n: number, exact: boolean): Promise<boolean> => {
    while (length < n) {
      const want = exact ? n - length : buf.length - length;
      const { value, done } = await reader.read(new Uint8Array(buf.buffer, length, want));
      if (done || !value) return false;
      buf = new Uint8Array(value.buffer);
      length += value.byteLength;
      if (!exact) return true;
    }
    return true;
  };
  try {
    buf = new Uint8Array(buf.buffer, 0, firstRead);
    if (!await fill(1, false)) return null;
    buf = new Uint8Array(buf.buffer);
    const values: number[] = [];
    const sizes: number[] = [];
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (!await fill(at + 1, true)) return null;
      const size = 1 << ((buf[at] ?? 0) >> 6);
      if (!await fill(at + size, true)) return null;
      let v = (buf[at] ?? 0) & 0x3f;
      for (let j = 1; j < size; j++) v = v * 256 + (buf[at + j] ?? 0);
      values.push(Math.min(v, Number.MAX_SAFE_INTEGER));
      sizes.push(size);
      at += size;
    }
    const bytes = buf.slice(0, length);
    return { values, bytes, sizes, rest: bytes.subarray(at) };
  } finally {
    reader.releaseLock();
  }
}
