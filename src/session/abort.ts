/**
 * Waiting on something short-lived while something long-lived may end it first, without the
 * long-lived side keeping a reaction per wait: `Promise.race([next, forever])` adds a reaction
 * to `forever` on every call and none is released until `forever` settles, so a loop that races
 * each group against its subscription's end keeps one per group for the subscription's life.
 * An `AbortSignal` listener, or a {@link Cancellation}'s one waiter, is let go as soon as the
 * wait is over.
 *
 * @module
 */

/** Resolves with `promise`'s value, or with `undefined` once `signal` aborts, whichever is first. */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** Resolves once `signal` aborts (at once if it has). */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}

/**
 * A one-way switch for one sequential task: `race` gives up on a promise once `cancel()` is
 * called. Lighter than an AbortController (no EventTarget) for what runs per group and per
 * frame, because it holds at most one waiter: the task waits on one thing at a time.
 */
export class Cancellation {
  #cancelled = false;
  #wake: (() => void) | undefined;
  #hook: (() => void) | undefined;

  get cancelled(): boolean {
    return this.#cancelled;
  }

  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    const wake = this.#wake;
    const hook = this.#hook;
    this.#wake = undefined;
    this.#hook = undefined;
    wake?.();
    hook?.();
  }

  /** Sets (or clears) the one hook called on cancel, besides `race`'s waiter. */
  onCancel(hook: (() => void) | undefined): void {
    if (!this.#cancelled) this.#hook = hook;
  }

  /** `promise`'s value, or `undefined` once cancelled (at once if it is). One race at a time. */
  race<T>(promise: Promise<T>): Promise<T | undefined> {
    if (this.#cancelled) return Promise.resolve(undefined);
    return new Promise<T | undefined>((resolve, reject) => {
      this.#wake = () => resolve(undefined);
      promise.then(
        (value) => {
          this.#wake = undefined;
          resolve(value);
        },
        (error) => {
          this.#wake = undefined;
          reject(error);
        },
      );
    });
  }
}
