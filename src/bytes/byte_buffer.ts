/**
 * A growable FIFO of bytes: stream chunks go in at the back, parsed messages come off the front,
 * so a message split across chunks can be decoded once it is whole.
 *
 * @module
 */

/** Accumulates stream chunks so framed messages can be parsed across chunk boundaries. */
export class ByteBuffer {
  #buf = new Uint8Array(0);
  #start = 0;
  #end = 0;

  /** The unread bytes (a view, valid until the next append). */
  get bytes(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  get length(): number {
    return this.#end - this.#start;
  }

  append(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buf.length) {
      const unread = this.#end - this.#start;
      const size = Math.max(unread + chunk.length, this.#buf.length * 2, 256);
      const grown = unread + chunk.length <= this.#buf.length ? this.#buf : new Uint8Array(size);
      grown.set(this.#buf.subarray(this.#start, this.#end), 0);
      this.#buf = grown;
      this.#end = unread;
      this.#start = 0;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }
}
