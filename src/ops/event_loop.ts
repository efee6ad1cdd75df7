/**
 * The event loop's lag: one thread carries the JavaScript and Deno's QUIC, so how late a timer
 * fires is the first sign the relay is saturated. A timer asks to run every 100 ms; how much later
 * than that it ran goes into a histogram, in seconds.
 *
 * @module
 */
import { Histogram } from "./exposition.ts";

const INTERVAL_MS = 100;
const BOUNDS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

export class EventLoopLag implements Disposable {
  readonly histogram = new Histogram(BOUNDS_SECONDS);
  /** The latest lag measured, in seconds. */
  latest = 0;
  /** The last second's measurements, newest last (for the worst of the last second). */
  readonly #recent: number[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  start(): void {
    const tick = (expected: number) => {
      this.#timer = setTimeout(() => {
        const now = performance.now();
        this.latest = Math.max(0, now - expected) / 1000;
        this.histogram.observe(this.latest);
        this.#recent.push(this.latest);
        if (this.#recent.length > 1000 / INTERVAL_MS) this.#recent.shift();
        tick(now + INTERVAL_MS);
      }, INTERVAL_MS);
      Deno.unrefTimer(this.#timer);
    };
    tick(performance.now() + INTERVAL_MS);
  }

  /** The worst lag of the last second, in seconds. */
  get recentMax(): number {
    return Math.max(0, ...this.#recent);
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}
