/**
 * A session's hold on its grant. `ended` resolves, with why, once the grant no longer covers the
 * session (it expired; an auth server refused it, narrowed it or answered nonsense on a
 * revalidation); the session then closes. `finish` is the session's side: it is over, so timers
 * stop and whoever granted it hears the end.
 *
 * @module
 */
import type { Grant } from "./grant.ts";

/** What a session moved, from the relay's side, for the auth server's `end` event. */
export interface SessionBytes {
  sent: number;
  received: number;
}

export interface Lease {
  readonly grant: Grant;
  readonly ended: Promise<string>;
  finish(reason: string, bytes?: SessionBytes): void;
}

/** setTimeout's longest delay; longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `fire` at `at` (ms since the epoch), however far off; returns the cancel. */
export function timerAt(at: number, fire: () => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    const wait = at - Date.now();
    if (wait <= 0) return fire();
    timer = setTimeout(arm, Math.min(wait, MAX_TIMER_MS));
    // An expiry must never keep the process alive on its own.
    Deno.unrefTimer(timer);
  };
  arm();
  return () => clearTimeout(timer);
}

/** A grant that only ever ends by expiring (a token's `exp`, an embedder's answer). */
export class FixedLease implements Lease {
  readonly grant: Grant;
  readonly ended: Promise<string>;
  #cancel: () => void = () => {};
  readonly #onFinish: ((reason: string, bytes?: SessionBytes) => void) | undefined;

  constructor(grant: Grant, onFinish?: (reason: string, bytes?: SessionBytes) => void) {
    this.grant = grant;
    this.#onFinish = onFinish;
    this.ended = new Promise((resolve) => {
      if (grant.expiresAt !== undefined) {
        this.#cancel = timerAt(grant.expiresAt, () => resolve("the grant expired"));
      }
    });
  }

  finish(reason: string, bytes?: SessionBytes): void {
    this.#cancel();
    this.#onFinish?.(reason, bytes);
  }
}
