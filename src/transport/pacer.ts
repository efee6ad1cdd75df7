/**
 * Back-pressure for a carrier whose writes can wait without bound: over QMux, a stream's write
 * finishes only once its frame went to the socket, and a peer that grants plenty of credit and
 * stops reading TCP holds every write, and every stream opened after, with the bytes they carry.
 *
 * So the session counts the bytes it has handed the carrier and not yet seen written: past a
 * high-water mark, writes wait for room, each stream behind its own wait, and no new stream
 * opens. A wait that is withdrawn (the stream reset, the open given up) keeps nothing alive.
 *
 * @module
 */
import { type Cancelable, type SendStream, StreamError } from "./session.ts";

/** Bytes a session may have handed the carrier and not yet seen written. */
export const SEND_HIGH_WATER = 1024 * 1024;

export class SendPacer {
  readonly #waiters = new Set<() => void>();
  #inFlight = 0;
  #closed = false;

  /** Bytes handed to the carrier whose writes have not finished. */
  get inFlight(): number {
    return this.#inFlight;
  }

  get congested(): boolean {
    return !this.#closed && this.#inFlight >= SEND_HIGH_WATER;
  }

  /** Counts `bytes` until `write` settles. */
  track(bytes: number, write: Promise<void>): Promise<void> {
    this.#inFlight += bytes;
    const done = () => {
      this.#inFlight -= bytes;
      if (!this.congested) this.#wakeAll();
    };
    write.then(done, done);
    return write;
  }

  /** Calls `ready` once there is room (at once if there is); returns a withdrawal. */
  wait(ready: () => void): () => void {
    if (!this.congested) {
      ready();
      return () => {};
    }
    this.#waiters.add(ready);
    return () => void this.#waiters.delete(ready);
  }

  /** Waits for room before a stream opens; rejects once `cancel` is cancelled. */
  room(cancel?: Cancelable): Promise<void> {
    if (!this.congested) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const withdraw = this.wait(() => {
        cancel?.onCancel(undefined);
        resolve();
      });
      cancel?.onCancel(() => {
        withdraw();
        reject(new StreamError("reset", 0, "given up before the stream opened"));
      });
    });
  }

  /** The session is over: nobody waits any more (their writes fail on their own). */
  close(): void {
    this.#closed = true;
    this.#wakeAll();
  }

  #wakeAll(): void {
    const waiting = [...this.#waiters];
    this.#waiters.clear();
    for (const ready of waiting) ready();
  }
}

/** A send stream whose writes each wait for room first, in order. */
export class PacedSendStream implements SendStream {
  readonly #inner: SendStream;
  readonly #pacer: SendPacer;
  #tail: Promise<void> = Promise.resolve();
  #withdraw: (() => void) | undefined;
  #reset = false;

  constructor(inner: SendStream, pacer: SendPacer) {
    this.#inner = inner;
    this.#pacer = pacer;
  }

  get closed(): Promise<void> {
    return this.#inner.closed;
  }

  get priority(): number {
    return this.#inner.priority;
  }

  set priority(value: number) {
    this.#inner.priority = value;
  }

  write(chunk: Uint8Array): Promise<void> {
    const step = this.#tail.then(() => this.#room()).then(() => {
      if (this.#reset) throw new StreamError("reset", null, "the stream was reset");
      return this.#pacer.track(chunk.length, this.#inner.write(chunk));
    });
    this.#tail = step.catch(() => {});
    return step;
  }

  close(): Promise<void> {
    const step = this.#tail.then(() => this.#inner.close());
    this.#tail = step.catch(() => {});
    return step;
  }

  /**
   * Resets at once, whatever waits: a write waiting for room is withdrawn (it never settles, and
   * what it held is let go).
   */
  reset(code: number): void {
    this.#reset = true;
    this.#withdraw?.();
    this.#withdraw = undefined;
    this.#inner.reset(code);
  }

  #room(): Promise<void> {
    if (!this.#pacer.congested) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#withdraw = this.#pacer.wait(() => {
        this.#withdraw = undefined;
        resolve();
      });
    });
  }
}
