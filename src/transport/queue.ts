/**
 * A small async FIFO: producers push, one consumer awaits `next()`; `close()` ends it and makes
 * every pending and later `next()` return null. Items pushed after close are handed to `onDrop`,
 * and so is the oldest waiting item whenever more than `capacity` wait.
 *
 * @module
 */
export class AsyncQueue<T> {
  #items: T[] = [];
  #waiters: ((item: T | null) => void)[] = [];
  #closed = false;
  readonly #onDrop: ((item: T) => void) | undefined;
  readonly #capacity: number;

  constructor(onDrop?: (item: T) => void, capacity = Infinity) {
    this.#onDrop = onDrop;
    this.#capacity = capacity;
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
    if (waiter) return waiter(item);
    this.#items.push(item);
    if (this.#items.length > this.#capacity) {
      const oldest = this.#items.shift() as T;
      this.#onDrop?.(oldest);
    }
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
