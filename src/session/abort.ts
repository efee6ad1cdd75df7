/**
 * Waiting on something short-lived while something long-lived may end it first, without the
 * long-lived side keeping a reaction per wait: `Promise.race([next, forever])` adds a reaction
 * to `forever` on every call and none is released until `forever` settles, so a loop that races
 * each group against its subscription's end keeps one per group for the subscription's life.
 * An `AbortSignal` listener is removed as soon as the wait is over.
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
