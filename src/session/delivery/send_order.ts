/**
 * Send orders for the group streams one session writes: the subscriber's priority first, then
 * the newest group first. QUIC send orders are 32-bit, so recency is a rank counted per session
 * rather than the group's sequence (which would wrap: a one-group-per-frame audio track passes
 * 2^20 groups in under six hours); when the ranks run out, the streams still in flight (a few
 * hundred at most) are renumbered in the order they had, and counting goes on above them.
 *
 * @module
 */

/** Ranks per priority level: 256 levels of 2^22 ranks stay below 2^30, under control streams. */
export const RANKS = 2 ** 22;

/** One stream's place in the order; `order` may change until it is released. */
export interface Ticket {
  readonly order: number;
  /** Called with the new order when the session renumbers its streams. */
  onChange: ((order: number) => void) | undefined;
  release(): void;
}

export class SendOrder {
  readonly #ranks: number;
  #next = 0;
  readonly #live = new Set<Entry>();

  /** `ranks` is for tests; the default is {@link RANKS}. */
  constructor(ranks = RANKS) {
    this.#ranks = ranks;
  }

  /** A place above every earlier stream of the same priority (0..255). */
  take(priority: number): Ticket {
    if (this.#next >= this.#ranks) this.#renumber();
    const entry = new Entry(this, priority, this.#next++);
    this.#live.add(entry);
    return entry;
  }

  /** Streams in flight. */
  get size(): number {
    return this.#live.size;
  }

  orderOf(priority: number, rank: number): number {
    return priority * this.#ranks + rank;
  }

  release(entry: Entry): void {
    this.#live.delete(entry);
  }

  #renumber(): void {
    const live = [...this.#live].sort((a, b) => a.rank - b.rank);
    live.forEach((entry, i) => entry.move(i));
    this.#next = live.length;
  }
}

class Entry implements Ticket {
  readonly #owner: SendOrder;
  readonly #priority: number;
  rank: number;
  onChange: ((order: number) => void) | undefined;

  constructor(owner: SendOrder, priority: number, rank: number) {
    this.#owner = owner;
    this.#priority = priority;
    this.rank = rank;
  }

  get order(): number {
    return this.#owner.orderOf(this.#priority, this.rank);
  }

  move(rank: number): void {
    if (rank === this.rank) return;
    this.rank = rank;
    this.onChange?.(this.order);
  }

  release(): void {
    this.#owner.release(this);
  }
}

/** A control-stream send priority above every group stream. */
export const CONTROL_PRIORITY = 0x7fff_ffff;
