/**
 * Reads moq-lite messages from a stream with the codec's incremental decoders, buffering only
 * what the current message needs (decoders refuse oversized declared lengths before buffering).
 *
 * @module
 */
import { decodeError } from "../codec/error.ts";
import type { Decoded } from "../codec/message.ts";
import type { RecvStream } from "../transport/session.ts";
import { ByteBuffer } from "../bytes/byte_buffer.ts";

export type Decoder<T> = (buf: Uint8Array, offset: number) => Decoded<T> | undefined;

export class MessageReader {
  readonly stream: RecvStream;
  readonly #buffer = new ByteBuffer();
  #fin = false;

  constructor(stream: RecvStream, initial?: Uint8Array) {
    this.stream = stream;
    if (initial && initial.length > 0) this.#buffer.append(initial);
  }

  /** Bytes buffered but not yet consumed. */
  get buffered(): number {
    return this.#buffer.length;
  }

  async #fill(): Promise<boolean> {
    if (this.#fin) return false;
    const chunk = await this.stream.read();
    if (chunk === null) {
      this.#fin = true;
      return false;
    }
    this.#buffer.append(chunk);
    return true;
  }

  /** The next message, or null at a clean FIN between messages; FIN inside one is an error. */
  async read<T>(decode: Decoder<T>): Promise<T | null> {
    while (true) {
      if (this.#buffer.length > 0) {
        const d = decode(this.#buffer.bytes, 0);
        if (d) {
          this.#buffer.consume(d.size);
          return d.value;
        }
      }
      if (!await this.#fill()) {
        if (this.#buffer.length > 0) throw decodeError("stream ended inside a message");
        return null;
      }
    }
  }

  /** Like {@link read} but a FIN is an error too. */
  async expect<T>(decode: Decoder<T>, what: string): Promise<T> {
    const value = await this.read(decode);
    if (value === null) throw decodeError(`stream ended before ${what}`);
    return value;
  }

  /**
   * Up to `max` payload bytes, or null at FIN. A chunk read straight from the stream is handed
   * out as is (a view, no copy); only bytes already buffered behind a header are copied.
   */
  async payload(max: number): Promise<Uint8Array | null> {
    if (this.#buffer.length > 0) {
      const bytes = this.#buffer.bytes;
      const out = bytes.slice(0, Math.min(max, bytes.length));
      this.#buffer.consume(out.length);
      return out;
    }
    if (this.#fin) return null;
    const chunk = await this.stream.read();
    if (chunk === null) {
      this.#fin = true;
      return null;
    }
    if (chunk.length <= max) return chunk;
    this.#buffer.append(chunk.subarray(max));
    return chunk.subarray(0, max);
  }

  /** Reads and discards until FIN (a stream we only keep open). */
  async drain(): Promise<void> {
    while (await this.#fill()) this.#buffer.consume(this.#buffer.length);
  }
}
