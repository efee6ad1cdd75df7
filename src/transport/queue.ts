/**
 * A small async FIFO: producers push, one consumer awaits `next()`; `close()` ends it and makes
 * every pending and later `next()` return null. Items pushed after close are handed to `onDrop`.
 *
 * @module
 */
export class AsyncQueue<T> {
  #items: T[] = [];
  #waiters: ((item: T | null) => void)[] = [];
  #closed = false;
  readonly #onDrop: ((item: T) => void) | undefined;

  constructor(onDrop?: (item: T) => void) {
    this.#onDrop = onDrop;
  }

  get size(): number {
    return this.#items.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  push(item: T): void {
    if (this.#closed) {
      this.#onDrop?.(item);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }

  next(): Promise<T | null> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve(item);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter(null);
    for (const item of this.#items.splice(0)) this.#onDrop?.(item);
  }
}

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
