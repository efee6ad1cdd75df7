/**
 * Opening streams behind a peer that grants little stream credit. A carrier's open waits until
 * the peer lets another stream start, and cannot be withdrawn once asked for; so a peer that
 * never reads would collect one such wait per group, each holding the group it was for.
 *
 * Here callers queue in the order they asked (as the carrier would serve them: streams open in
 * the order their groups came), and only a few carrier opens wait at once. A stream that opens
 * goes to whoever is first in line when it does; a caller that gives up leaves the line at once,
 * keeping nothing alive; a stream nobody wants any more is ended empty. Which group's bytes go
 * first once streams are open is the send order's business, not the line's.
 *
 * @module
 */
import { type Cancelable, StreamError } from "./session.ts";

/** Carrier opens waiting at once per session: opens are quick while credit lasts. */
export const CONCURRENT_OPENS = 4;

interface Waiter<T> {
  readonly priority: number;
  resolve(stream: T): void;
  reject(error: unknown): void;
  /** Detaches the caller's cancel hook. */
  detach(): void;
}

export class StreamOpener<T> {
  readonly #open: (priority: number) => Promise<T>;
  readonly #discard: (stream: T) => void;
  /** Waiting callers, first come first. */
  readonly #line: Waiter<T>[] = [];
  #opening = 0;
  #failure: unknown;

  /** `open` asks the carrier for a stream; `discard` ends one nobody took. */
  constructor(open: (priority: number) => Promise<T>, discard: (stream: T) => void) {
    this.#open = open;
    this.#discard = discard;
  }

  /** Callers waiting for a stream (for tests and stats). */
  get waiting(): number {
    return this.#line.length;
  }

  /** A new stream; rejects with a StreamError once `cancel` is cancelled before one opened. */
  open(priority: number, cancel?: Cancelable): Promise<T> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (cancel?.cancelled) return Promise.reject(givenUp());
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        priority,
        resolve,
        reject,
        detach: () => cancel?.onCancel(undefined),
      };
      cancel?.onCancel(() => {
        const at = this.#line.indexOf(waiter);
        if (at < 0) return;
        this.#line.splice(at, 1);
        reject(givenUp());
      });
      this.#line.push(waiter);
      this.#pump();
    });
  }

  /** Starts carrier opens while callers wait that no pending open will serve. */
  #pump(): void {
    while (this.#opening < CONCURRENT_OPENS && this.#opening < this.#line.length) {
      this.#opening++;
      this.#open(this.#line[0]?.priority ?? 0).then(
        (stream) => {
          this.#opening--;
          const waiter = this.#line.shift();
          if (!waiter) return this.#discard(stream);
          waiter.detach();
          waiter.resolve(stream);
          this.#pump();
        },
        (error) => {
          this.#opening--;
          // A failed open means the session is over: everyone waiting hears it.
          this.#failure ??= error;
          for (const waiter of this.#line.splice(0)) {
            waiter.detach();
            waiter.reject(error);
          }
        },
      );
    }
  }
}

/** The queue for a QUIC connection's unidirectional opens. */
export function uniOpener(conn: Deno.QuicConn): StreamOpener<Deno.QuicSendStream> {
  return new StreamOpener(
    (priority) =>
      conn.createUnidirectionalStream({ sendOrder: priority, waitUntilAvailable: true }),
    (stream) => void stream.close().catch(() => {}),
  );
}

function givenUp(): StreamError {
  return new StreamError("reset", 0, "given up before the stream opened");
}
