/**
 * A track in the cache: its properties, its recent groups in arrival order, and the live edge.
 * One per (broadcast, track) per relay, shared by every local subscriber; the upstream
 * subscription that fills it is opened for the first subscriber and closed after the last.
 *
 * @module
 */
import type { CacheBudget } from "./budget.ts";
import { Group } from "./group.ts";

/** A single-frame group sent unreliably (a QUIC datagram): never cached, only passed on. */
export interface Datagram {
  sequence: number;
  /** Absolute, in the track's timescale. */
  timestamp: number;
  payload: Uint8Array;
}

/** What a subscriber needs to know about a track (lite-05 TRACK_INFO). */
export interface TrackProperties {
  priority: number;
  /** How long the publisher keeps non-latest groups, in ms. */
  maxLatency: number;
  /** Units per second of frame timestamps. */
  timescale: number;
}

/** Used for tracks whose publisher speaks lite-01..04: timestamps are local receive times in ms. */
export const DEFAULT_PROPERTIES: TrackProperties = {
  priority: 127,
  maxLatency: 5000,
  timescale: 1000,
};

/** A wait its owner may call off (a session's cancellation): the one hook it calls on cancel. */
export interface CallOff {
  readonly cancelled: boolean;
  onCancel(hook: (() => void) | undefined): void;
}

export class Track {
  readonly broadcast: string;
  readonly name: string;
  /**
   * The cached groups in arrival order, each with its log index: indexes increase and are never
   * reused, so an index names the same group for as long as it is cached and a reader's cursor
   * never moves when something else is evicted. Only cached groups are held (no holes).
   */
  #log: { index: number; group: Group }[] = [];
  /** The index the next group gets. */
  #next = 0;
  #bySequence = new Map<number, Group>();
  #latest: { group: Group; index: number } | undefined;
  #waiters = new Set<() => void>();
  #properties: TrackProperties | undefined;
  #propertyWaiters: ((p: TrackProperties | undefined) => void)[] = [];
  readonly #datagramListeners = new Set<(datagram: Datagram) => void>();
  readonly #budget: CacheBudget;
  readonly #label: string;
  /** Payload bytes that came in for this track (frames and datagrams), for bitrates. */
  received = 0;
  /** No more groups will come. */
  ended = false;
  /** Why, when the track could not be served (e.g. upstream refused). */
  error: string | undefined;
  #released = false;
  #confirmed = false;
  #confirmWaiters: ((ok: boolean) => void)[] = [];

  constructor(broadcast: string, name: string, budget: CacheBudget) {
    this.broadcast = broadcast;
    this.name = name;
    this.#budget = budget;
    this.#label = `${broadcast}/${name}`;
  }

  get latest(): Group | undefined {
    return this.#latest?.group;
  }

  get properties(): TrackProperties | undefined {
    return this.#properties;
  }

  /** Resolves with the track's properties once known, or undefined if the track ends first. */
  whenProperties(): Promise<TrackProperties | undefined> {
    if (this.#properties || this.ended) return Promise.resolve(this.#properties);
    return new Promise((resolve) => this.#propertyWaiters.push(resolve));
  }

  setProperties(properties: TrackProperties): void {
    if (this.#properties) return; // immutable for the track's life
    this.#properties = properties;
    for (const wake of this.#propertyWaiters.splice(0)) wake(properties);
  }

  /** The source accepted the subscription (it exists). */
  confirm(): void {
    if (this.#confirmed) return;
    this.#confirmed = true;
    for (const wake of this.#confirmWaiters.splice(0)) wake(true);
  }

  /** Resolves true once the source accepted, false if the track ended (refused) first. */
  whenConfirmed(): Promise<boolean> {
    if (this.#confirmed) return Promise.resolve(true);
    if (this.ended) return Promise.resolve(false);
    return new Promise((resolve) => this.#confirmWaiters.push(resolve));
  }

  /** Log index of the latest group, where a new subscriber starts; the end when there is none. */
  startIndex(): number {
    return this.#latest?.index ?? this.#next;
  }

  /** Log index of the first cached group at or after `sequence` in arrival order. */
  indexOfSequence(sequence: number): number {
    return this.#log.find((e) => e.group.sequence >= sequence)?.index ?? this.#next;
  }

  /**
   * The first cached group at or after a log index, with its index; `undefined` past the end.
   * Evicted groups are skipped, never replaced: a reader moves on to the next group still here.
   */
  at(index: number): { group: Group | undefined; index: number } {
    const entry = this.#log[this.#position(index)];
    return entry ?? { group: undefined, index };
  }

  /** Where the first entry with an index at or after `index` is in the log. */
  #position(index: number): number {
    const log = this.#log;
    const first = log[0]?.index ?? this.#next;
    if (index <= first) return 0;
    // Without evictions in the middle, the index says where the group is.
    const guess = index - first;
    if (log[guess]?.index === index) return guess;
    let low = 0;
    let high = log.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((log[mid]?.index ?? Infinity) < index) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The group with this sequence, if cached. */
  group(sequence: number): Group | undefined {
    return this.#bySequence.get(sequence);
  }

  /**
   * Resolves when a group is added or the track ends, or when `cancel` is called off: then its
   * waiter leaves at once. (A subscriber that leaves a quiet track must not stay behind in it
   * until the next group: viewers come and go by the thousand on a track that may be idle.)
   */
  changed(cancel?: CallOff): Promise<void> {
    if (this.ended || cancel?.cancelled) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        cancel?.onCancel(undefined);
        resolve();
      };
      this.#waiters.add(wake);
      cancel?.onCancel(() => {
        this.#waiters.delete(wake);
        resolve();
      });
    });
  }

  #notify(): void {
    if (this.#waiters.size === 0) return;
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Adds a group from upstream; undefined for a duplicate sequence or an ended track. */
  addGroup(sequence: number): Group | undefined {
    if (this.ended || this.#released || this.#bySequence.has(sequence)) return undefined;
    const group = new Group(sequence, (bytes) => this.#budget.grew(bytes));
    const index = this.#next++;
    this.#log.push({ index, group });
    this.#bySequence.set(sequence, group);
    if (!this.#latest || sequence > this.#latest.group.sequence) this.#latest = { group, index };
    this.confirm(); // data proves the track exists
    // The budget's entry names the group by index, never holds it: see `Cached`.
    this.#budget.add({
      created: group.created,
      label: this.#label,
      isLatest: () => !this.#released && this.#latest?.index === index,
      held: () => this.#cached(index) !== undefined,
      bytes: () => this.#cached(index)?.bytes ?? 0,
      done: () => this.#cached(index)?.done ?? true,
      evict: () => this.#evict(index),
    });
    this.#notify();
    return group;
  }

  /** The group at a log index, while cached. */
  #cached(index: number): Group | undefined {
    const entry = this.#released ? undefined : this.#log[this.#position(index)];
    return entry?.index === index ? entry.group : undefined;
  }

  #evict(index: number): void {
    const group = this.#cached(index);
    if (!group) return;
    const at = this.#position(index);
    this.#bySequence.delete(group.sequence);
    // Mostly the oldest, at the front (cheap); from the middle only when a newer group is older
    // by wall clock, or a latest group goes because the cache is full of them.
    this.#log.splice(at, 1);
    if (this.#latest?.index === index) this.#latest = undefined;
    if (!group.done) group.abort();
    this.#budget.released(group.bytes);
  }

  /** Hands a datagram to everyone listening now (datagrams are never cached). */
  pushDatagram(datagram: Datagram): void {
    if (this.ended) return;
    this.confirm(); // data proves the track exists
    for (const listener of this.#datagramListeners) listener(datagram);
  }

  /** Calls `listener` with each datagram from now on, until the returned function is called. */
  onDatagram(listener: (datagram: Datagram) => void): () => void {
    this.#datagramListeners.add(listener);
    return () => this.#datagramListeners.delete(listener);
  }

  /** No more groups: readers finish what they have. */
  end(error?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    for (const { group } of this.#log) if (!group.done) group.abort();
    for (const wake of this.#propertyWaiters.splice(0)) wake(this.#properties);
    for (const wake of this.#confirmWaiters.splice(0)) wake(this.#confirmed);
    this.#datagramListeners.clear();
    this.#notify();
  }

  /** Drops every group (the track is no longer needed by anyone). */
  release(): void {
    if (this.#released) return;
    this.end();
    this.#released = true;
    for (const { group } of this.#log) this.#budget.released(group.bytes);
    this.#log = [];
    this.#bySequence.clear();
    this.#latest = undefined;
  }

  /** The sequence after the newest group, as SUBSCRIBE_END reports the end (0 = no groups). */
  nextSequence(): number {
    return this.#latest ? this.#latest.group.sequence + 1 : 0;
  }
}
