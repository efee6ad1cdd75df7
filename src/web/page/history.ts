/**
 * The page's memory of the relay for its plots: the relay part of each snapshot (not the
 * broadcast lists, which can be long), for the last few minutes.
 *
 * @module
 */
import type { LiveRelay, LiveSnapshot } from "../../ops/live_snapshot.ts";

/** Samples kept: five minutes at one a second. */
export const HISTORY_SAMPLES = 300;

export interface Sample {
  time: number;
  broadcastCount: number;
  relay: LiveRelay;
}

/** A bounded list of samples, oldest first. */
export class History {
  readonly #samples: Sample[] = [];

  add(snapshot: LiveSnapshot): void {
    const { time, broadcastCount, relay } = snapshot;
    this.#samples.push({ time, broadcastCount, relay });
    if (this.#samples.length > HISTORY_SAMPLES) this.#samples.shift();
  }

  /** One value per sample. */
  series(value: (sample: Sample) => number): number[] {
    return this.#samples.map(value);
  }

  get latest(): Sample | undefined {
    return this.#samples.at(-1);
  }
}
