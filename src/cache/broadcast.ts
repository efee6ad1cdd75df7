/**
 * A broadcast as one source offers it: its tracks, filled on demand. The first local subscriber
 * of a track opens one upstream subscription; later subscribers share it; after the last one
 * leaves, the upstream subscription lingers briefly (a quick re-subscribe reuses the cache),
 * then closes.
 *
 * @module
 */
import type { CacheBudget } from "./budget.ts";
import { Track } from "./track.ts";

/** What a subscriber asks of a track; the upstream request is the combination of all of them. */
export interface TrackRequest {
  priority: number;
  /** Milliseconds; 0 = only the latest group matters. */
  maxLatency: number;
}

/** An open upstream subscription. */
export interface Upstream {
  update(request: TrackRequest): void;
  close(): void;
}

/** Where a broadcast's data comes from (a publishing session, or another relay). */
export interface BroadcastSource {
  /** A stable label for logs. */
  readonly label: string;
  /** Starts filling `track`; ends it (with an error) if the track does not exist. */
  subscribe(broadcast: Broadcast, track: Track, request: TrackRequest): Upstream;
}

/** How long an unwatched track's upstream subscription and cache stay warm. */
export const TRACK_LINGER_MS = 2000;

interface Entry {
  track: Track;
  upstream: Upstream;
  requests: Set<TrackRequest>;
  linger: ReturnType<typeof setTimeout> | undefined;
}

/** A handle on a shared track; `release()` when done. */
export interface TrackLease {
  readonly track: Track;
  update(request: TrackRequest): void;
  release(): void;
}

function combine(requests: Iterable<TrackRequest>): TrackRequest {
  let priority = 0;
  let maxLatency = 0;
  for (const r of requests) {
    priority = Math.max(priority, r.priority);
    maxLatency = Math.max(maxLatency, r.maxLatency);
  }
  return { priority, maxLatency };
}

export class Broadcast {
  /** Relay-global path. */
  readonly path: string;
  readonly source: BroadcastSource;
  readonly #budget: CacheBudget;
  readonly #tracks = new Map<string, Entry>();
  #closed = false;
  /** Upstream subscriptions opened so far (for tests and stats). */
  upstreamSubscriptions = 0;
  /** When it was announced here (ms since the epoch). */
  readonly created = Date.now();
  /** Bytes received by tracks no longer held (so {@link receivedBytes} never goes back). */
  #pastReceived = 0;

  constructor(path: string, source: BroadcastSource, budget: CacheBudget) {
    this.path = path;
    this.source = source;
    this.#budget = budget;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Subscribes to a track, sharing the upstream subscription with every other subscriber. */
  subscribe(name: string, request: TrackRequest): TrackLease {
    return this.#lease(name, request, true)!;
  }

  /**
   * A lease on a track already held (subscribed, or lingering after its last subscriber), or
   * undefined: never an upstream subscription of its own (what FETCH needs: cached groups).
   */
  held(name: string, request: TrackRequest): TrackLease | undefined {
    return this.#lease(name, request, false);
  }

  #lease(name: string, request: TrackRequest, open: boolean): TrackLease | undefined {
    let entry = this.#tracks.get(name);
    if (entry && entry.track.ended) {
      this.#drop(name, entry);
      entry = undefined;
    }
    if (!entry && !open) return undefined;
    if (!entry) {
      const track = new Track(this.path, name, this.#budget);
      if (this.#closed) track.end("broadcast ended");
      const upstream = this.#closed
        ? { update() {}, close() {} }
        : this.source.subscribe(this, track, request);
      if (!this.#closed) this.upstreamSubscriptions++;
      entry = { track, upstream, requests: new Set(), linger: undefined };
      this.#tracks.set(name, entry);
    }
    const current = entry;
    clearTimeout(current.linger);
    current.linger = undefined;
    const mine = { ...request };
    const before = combine(current.requests);
    current.requests.add(mine);
    const after = combine(current.requests);
    if (
      current.requests.size > 1 &&
      (after.priority !== before.priority || after.maxLatency !== before.maxLatency)
    ) {
      current.upstream.update(after);
    }
    let released = false;
    return {
      track: current.track,
      update: (next) => {
        const old = combine(current.requests);
        mine.priority = next.priority;
        mine.maxLatency = next.maxLatency;
        const now = combine(current.requests);
        if (now.priority !== old.priority || now.maxLatency !== old.maxLatency) {
          current.upstream.update(now);
        }
      },
      release: () => {
        if (released) return;
        released = true;
        current.requests.delete(mine);
        if (current.requests.size > 0 || this.#tracks.get(name) !== current) return;
        if (current.track.ended) return this.#drop(name, current);
        current.linger = setTimeout(() => this.#drop(name, current), TRACK_LINGER_MS);
      },
    };
  }

  #drop(name: string, entry: Entry): void {
    clearTimeout(entry.linger);
    if (this.#tracks.get(name) === entry) {
      this.#tracks.delete(name);
      this.#pastReceived += entry.track.received;
    }
    entry.upstream.close();
    entry.track.release();
  }

  /** The broadcast is gone: every track ends, every upstream subscription closes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [name, entry] of [...this.#tracks]) {
      entry.track.end("broadcast ended");
      if (entry.requests.size === 0) this.#drop(name, entry);
      else entry.upstream.close();
    }
  }

  /** Tracks currently held (subscribed or lingering). */
  get trackCount(): number {
    return this.#tracks.size;
  }

  /** Payload bytes received for this broadcast so far (for its ingress bitrate). */
  get receivedBytes(): number {
    let bytes = this.#pastReceived;
    for (const entry of this.#tracks.values()) bytes += entry.track.received;
    return bytes;
  }

  /** The tracks held now, each with how many subscribers share it here. */
  tracks(): { name: string; subscribers: number }[] {
    return [...this.#tracks].map(([name, entry]) => ({ name, subscribers: entry.requests.size }));
  }
}
