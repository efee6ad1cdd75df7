/**
 * The cache's global bounds: total bytes and age, enforced by evicting the oldest groups first.
 * A track's latest group (what a late joiner needs) stays while older groups can go; latest
 * groups over half the cache, and any when nothing else is left, go too, oldest first (one
 * warning line says so), except the newest group of all: the total stays within the limit plus
 * one group.
 *
 * @module
 */
import { logger } from "../log.ts";

const log = logger("cache");

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

/**
 * A cached group as the budget sees it: when it arrived, and how to ask its track about it. It
 * holds no bytes: an entry may outlive its group (evicted by its track, or the track released)
 * until the budget reaches it.
 */
export interface Cached {
  readonly created: number;
  /** Where it is from, for the log. */
  readonly label: string;
  /** Whether this is still its track's latest group. */
  isLatest(): boolean;
  /** Whether its track still holds it. */
  held(): boolean;
  /** Its payload bytes now (0 once its track let go of it). */
  bytes(): number;
  /** Whether it is whole or lost (no longer arriving). */
  done(): boolean;
  /** Drops it from its track (aborted if still arriving); the track reports its bytes. */
  evict(): void;
}

/** How often the groups kept aside as latest are looked over when nothing presses. */
const SWEEP_INTERVAL_MS = 1000;

/** How often the warning about evicting latest groups may be logged. */
const LATEST_WARNING_INTERVAL_MS = 10_000;

/**
 * Groups younger than this are still on their way to live subscribers (a subscription picks a
 * new group up a moment after it arrives): over the byte limit they go after older groups and
 * after latest groups beyond half the cache, which only late joiners need.
 */
export const RECENT_MS = 1000;

export class CacheBudget {
  readonly limits: CacheLimits;
  #bytes = 0;
  #groups = 0;
  /** Every cached group, oldest first; a slot is cleared once passed. */
  #queue: (Cached | undefined)[] = [];
  #head = 0;
  /** Groups passed over because they were their track's latest. */
  #kept: Cached[] = [];
  #warnedAt = -Infinity;
  #sweptAt = -Infinity;
  #latestEvicted = 0;

  constructor(limits: CacheLimits = DEFAULT_CACHE_LIMITS) {
    this.limits = limits;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Groups the tracks hold. */
  get groups(): number {
    return this.#groups;
  }

  add(entry: Cached): void {
    this.#queue.push(entry);
    this.#groups++;
  }

  grew(bytes: number): void {
    this.#bytes += bytes;
    if (this.#over()) this.enforce();
  }

  /** A group left its track (evicted or the track released): forget its bytes. */
  released(bytes: number): void {
    this.#bytes -= bytes;
    this.#groups--;
  }

  #over(): boolean {
    return this.#bytes > this.limits.maxBytes;
  }

  /**
   * Evicts until the cache is within its limits: too old groups (never a latest); over the byte
   * limit, oldest first: groups neither latest nor recent; then whole latest groups, while
   * latest groups hold over half the cache; then recent groups; then latest groups, even one
   * still arriving (never the newest of all). Evicting a whole group costs live subscribers
   * nothing (their deliveries hold it); evicting one still arriving cuts it short for everyone.
   */
  enforce(now = Date.now()): void {
    const oldest = now - this.limits.maxAgeMs;
    const recent = now - RECENT_MS;
    this.#drain((e) => e.created < oldest || (this.#over() && e.created < recent));
    // The groups kept aside are one per track or so: looked over while still over the limit,
    // else once a second (not on every chunk that tips a full cache over).
    if (this.#over() || now - this.#sweptAt >= SWEEP_INTERVAL_MS) {
      this.#sweptAt = now;
      this.#sweepKept(oldest);
    }
    if (this.#over()) this.#evictLatest(now, this.limits.maxBytes / 2, (e) => e.done());
    if (this.#over()) this.#drain(() => this.#over());
    if (this.#over()) this.#evictLatest(now, 0, () => true);
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Passes queued groups, oldest first, while `should` holds: latest ones are kept aside. */
  #drain(should: (entry: Cached) => boolean): void {
    while (this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head];
      if (entry === undefined) break;
      if (entry.held() && !should(entry)) break;
      // The slot is cleared at once: the queue must not keep what it let go.
      this.#queue[this.#head++] = undefined;
      if (!entry.held()) continue;
      if (entry.isLatest()) this.#kept.push(entry);
      else entry.evict();
    }
  }

  /** Groups kept aside that a newer group replaced are ordinary groups again. */
  #sweepKept(oldest: number): void {
    this.#kept = this.#kept.filter((entry) => {
      if (!entry.held()) return false;
      if (entry.isLatest()) return true;
      if (entry.created >= oldest && !this.#over()) return true;
      entry.evict();
      return false;
    });
  }

  /**
   * Over the limit with older groups gone: the oldest latest groups (of those `which` picks) go
   * while latest groups hold more than `keep` bytes, never the newest group of all.
   */
  #evictLatest(now: number, keep: number, which: (entry: Cached) => boolean): void {
    const waiting = this.#queue.slice(this.#head).filter((e): e is Cached =>
      e !== undefined && e.held() && e.isLatest()
    );
    const latest = [...this.#kept, ...waiting].sort((a, b) => a.created - b.created);
    // The newest latest group is the one still being written, mostly: it stays.
    const newest = latest.at(-1);
    let held = latest.reduce((sum, e) => sum + e.bytes(), 0);
    for (const entry of latest) {
      if (!this.#over() || held <= keep) break;
      if (entry === newest || !entry.held() || !which(entry)) continue;
      held -= entry.bytes();
      entry.evict();
      this.#latestEvicted++;
      if (now - this.#warnedAt >= LATEST_WARNING_INTERVAL_MS) {
        this.#warnedAt = now;
        log.warn(
          "cache over --cache-max-bytes ({limit} bytes) with only tracks' latest groups: evicted the latest group of {track} ({evicted} latest groups evicted so far)",
          { limit: this.limits.maxBytes, track: entry.label, evicted: this.#latestEvicted },
        );
      }
    }
    this.#kept = this.#kept.filter((e) => e.held());
  }
}
