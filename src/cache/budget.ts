/**
 * The cache's global bounds: total bytes and age, enforced by evicting the oldest groups first
 * (never a track's latest group, which a late joiner needs).
 *
 * @module
 */
import type { Group } from "./group.ts";

export interface CacheLimits {
  /** Total payload bytes held across all tracks. */
  maxBytes: number;
  /** Non-latest groups older than this are dropped. */
  maxAgeMs: number;
}

export const DEFAULT_CACHE_LIMITS: CacheLimits = {
  maxBytes: 256 * 1024 * 1024,
  maxAgeMs: 30_000,
};

/** A group as the budget sees it: which track holds it and how to drop it. */
export interface Cached {
  group: Group;
  /** Whether this is its track's latest group (never evicted). */
  isLatest(): boolean;
  evict(): void;
}

export class CacheBudget {
  readonly limits: CacheLimits;
  #bytes = 0;
  /** Every cached group, oldest first. */
  #queue: Cached[] = [];
  #head = 0;

  constructor(limits: CacheLimits = DEFAULT_CACHE_LIMITS) {
    this.limits = limits;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get groups(): number {
    return this.#queue.length - this.#head;
  }

  add(entry: Cached): void {
    this.#queue.push(entry);
  }

  grew(bytes: number): void {
    this.#bytes += bytes;
    if (this.#bytes > this.limits.maxBytes) this.enforce();
  }

  /** A group left the cache (evicted or its track released): forget its bytes. */
  released(group: Group): void {
    this.#bytes -= group.bytes;
  }

  /** Evicts old groups until the cache is within its limits. */
  enforce(now = Date.now()): void {
    const oldest = now - this.limits.maxAgeMs;
    const kept: Cached[] = [];
    while (this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head];
      if (!entry) break;
      const overBytes = this.#bytes > this.limits.maxBytes;
      const tooOld = entry.group.created < oldest;
      if (!overBytes && !tooOld) break;
      this.#head++;
      if (entry.isLatest()) kept.push(entry);
      else entry.evict();
    }
    // Latest groups stay, at the back: they age out once a newer group replaces them.
    for (const entry of kept) this.#queue.push(entry);
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
